"""WooCommerce's product CSV (Products → Export, the built-in exporter).

Type says what a row is: ``simple`` (and ``external``) rows are products; a ``variable`` row is the
model its ``variation`` rows belong to (Parent: ``id:NN`` or the parent's SKU). Each variation
becomes one product, taking what it leaves empty (description, categories, images) from its parent
and grouped under it; ``grouped`` rows only bundle other rows and are skipped.
"""
from __future__ import annotations

import re
from typing import Any

from catalog.formats.common import (AVAILABLE_UNCOUNTED, UNCATEGORISED, Options, Source, SourceRow, csv_records,
                                    split_list, stock_count, unknown)
from catalog.formats.html_text import html_to_text

KNOWN = {
    "ID", "Type", "SKU", "GTIN, UPC, EAN, or ISBN", "Name", "Published", "Is featured?", "Visibility in catalog",
    "Short description", "Description", "Date sale price starts", "Date sale price ends", "Tax status",
    "Tax class", "In stock?", "Stock", "Low stock amount", "Backorders allowed?", "Sold individually?",
    "Allow customer reviews?", "Purchase note", "Sale price", "Regular price", "Categories", "Tags",
    "Shipping class", "Images", "Download limit", "Download expiry days", "Parent", "Grouped products", "Upsells",
    "Cross-sells", "External URL", "Button text", "Position", "Brands", "Permalink",
}
KNOWN_PATTERNS = (re.compile(r"^(Weight|Length|Width|Height) \("),
                  re.compile(r"^Attribute \d+ (name|value\(s\)|visible|global|default)$"),
                  re.compile(r"^Download \d+ (ID|name|URL)$"))
DETECT = {"Type", "SKU", "Name", "Regular price"}
ATTRIBUTE = re.compile(r"^Attribute (\d+) name$")
UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def read(text: str, options: Options) -> Source:
    header, records = csv_records(text)
    source = Source("woocommerce", unknown_columns=unknown(header, KNOWN, KNOWN_PATTERNS))
    slots = sorted(int(m.group(1)) for h in header if (m := ATTRIBUTE.match(h)))
    rows: list[tuple[int, dict[str, str]]] = []
    parents: dict[str, dict[str, str]] = {}
    for line, row in records:
        if isinstance(row, str):
            source.rows.append(SourceRow(line, row))
            continue
        rows.append((line, row))
        if "variable" in _types(row):
            for key in (f"id:{row.get('ID', '')}", row.get("SKU", "")):
                if key not in ("id:", ""):
                    parents[key] = row
    skipped = 0
    for line, row in rows:
        types = _types(row)
        if "variable" in types or "grouped" in types:
            continue  # a model or a bundle: its variations / members are the products
        parent = None
        if "variation" in types:
            parent = parents.get(row.get("Parent", ""))
            if parent is None:
                source.rows.append(SourceRow(line, f"variation's Parent {row.get('Parent', '')!r} is not a "
                                                   "variable product in this file"))
                continue
        if not _published(row) or (parent is not None and not _published(parent)):
            skipped += 1
            continue
        source.rows.append(SourceRow(line, _product(row, parent, slots, options)))
    if skipped:
        source.notes.append(f"{skipped} draft or private product(s) skipped")
    return source


def _types(row: dict[str, str]) -> set[str]:
    return {t.lower() for t in split_list(row.get("Type", ""))}


def _published(row: dict[str, str]) -> bool:
    return row.get("Published", "1") in ("1", "")  # 0 private, -1 draft


def _product(row: dict[str, str], parent: dict[str, str] | None, slots: list[int],
             options: Options) -> dict[str, Any]:
    base = parent or {}

    def inherited(column: str) -> str:
        return row.get(column) or base.get(column, "")

    attributes: dict[str, Any] = {**_attributes(base, slots), **_attributes(row, slots)}
    name = row.get("Name") or ", ".join([base.get("Name", ""), *map(str, _attributes(row, slots).values())])
    categories = [c.strip().replace("\\,", ",") for c in UNESCAPED_COMMA.split(inherited("Categories"))
                  if c.strip()]
    # A variation's own picture first, then the rest of its model's gallery.
    images = list(dict.fromkeys(split_list(row.get("Images", "")) + split_list(base.get("Images", ""))))
    regular, sale = row.get("Regular price", ""), row.get("Sale price", "")
    if row.get("GTIN, UPC, EAN, or ISBN"):
        attributes["gtin"] = row["GTIN, UPC, EAN, or ISBN"]
    description = html_to_text(row.get("Description") or row.get("Short description") or
                               base.get("Description") or base.get("Short description") or "")
    page_id = base.get("ID") or row.get("ID")
    url = inherited("Permalink") or (f"{options.store_url}/?post_type=product&p={page_id}"
                                     if options.store_url and page_id else None)
    return {
        "sku": row.get("SKU") or (f"woo-{row['ID']}" if row.get("ID") else ""),
        "title": name,
        "description": description or name,
        "category": categories[0] if categories else UNCATEGORISED,
        "brand": (split_list(inherited("Brands")) or [None])[0],
        "price": sale or regular,
        "compare_at_price": regular if sale else None,
        "currency": options.currency,
        "attributes": attributes,
        "tags": split_list(inherited("Tags")),
        "stock": _stock(row),
        "image_url": images[0] if images else None,
        "images": images[1:],
        "url": url,
        "group_key": (base.get("SKU") or f"id:{base.get('ID')}") if parent is not None else None,
        "variant_id": row.get("ID") or None,  # what ?add-to-cart= takes, for a variation too
    }


def _attributes(row: dict[str, str], slots: list[int]) -> dict[str, Any]:
    """Attribute N name / value(s): one value, or a list when a product offers several."""
    found: dict[str, Any] = {}
    for n in slots:
        name, raw = row.get(f"Attribute {n} name", ""), row.get(f"Attribute {n} value(s)", "")
        values = split_list(raw)
        if name and values:
            found[name.lower().replace(" ", "_")] = values[0] if len(values) == 1 else values
    return found


def _stock(row: dict[str, str]) -> str | int:
    if row.get("Stock"):
        return stock_count(row["Stock"])
    # Without stock management WooCommerce only says whether it can be bought.
    return AVAILABLE_UNCOUNTED if row.get("In stock?", "1") == "1" else 0
