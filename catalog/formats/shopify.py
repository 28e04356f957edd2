"""Shopify's product CSV (Products → Export): one row per variant, rows of a product share its Handle.

The first row of a handle carries the product's fields (Title, Body (HTML), Vendor, ...); later rows
carry only variant columns (options, SKU, price, stock) or only an image (Image Src, Image Position).
Each variant becomes one product, grouped by the handle.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from catalog.formats.common import (AVAILABLE_UNCOUNTED, UNCATEGORISED, Options, Source, SourceRow, csv_records,
                                    slug, split_list, stock_count, unknown)
from catalog.formats.html_text import html_to_text

KNOWN = {
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published", "Status",
    "Option1 Name", "Option1 Value", "Option1 Linked To", "Option2 Name", "Option2 Value", "Option2 Linked To",
    "Option3 Name", "Option3 Value", "Option3 Linked To", "Variant SKU", "Variant Grams",
    "Variant Inventory Tracker", "Variant Inventory Qty", "Variant Inventory Policy", "Variant Fulfillment Service",
    "Variant Price", "Variant Compare At Price", "Variant Requires Shipping", "Variant Taxable", "Variant Barcode",
    "Image Src", "Image Position", "Image Alt Text", "Gift Card", "SEO Title", "SEO Description", "Variant Image",
    "Variant Weight Unit", "Variant Tax Code", "Cost per item", "Unit Price Total Measure",
    "Unit Price Total Measure Unit", "Unit Price Base Measure", "Unit Price Base Measure Unit",
    "Variant ID",  # not in Shopify's own export; bulk-export apps (Matrixify) add it: cart links need it
}
KNOWN_PATTERNS = (re.compile(r"^Google Shopping / "), re.compile(r"^(Included|Price|Compare At Price) / "))
DETECT = {"Handle", "Variant Price"}
OPTION_SLOTS = (1, 2, 3)
VARIANT_COLUMNS = ("Variant SKU", "Variant Price", "Option1 Value", "Variant Inventory Qty")


@dataclass
class _Product:
    line: int
    handle: str
    fields: dict[str, str]
    variants: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    images: list[tuple[int, str]] = field(default_factory=list)  # (position, url)

    def option_names(self) -> list[str]:
        return [self.fields.get(f"Option{n} Name", "") for n in OPTION_SLOTS]

    def image_urls(self) -> list[str]:
        ordered = sorted(enumerate(self.images), key=lambda item: (item[1][0], item[0]))
        return list(dict.fromkeys(url for _, (_, url) in ordered))


def read(text: str, options: Options) -> Source:
    header, records = csv_records(text)
    source = Source("shopify", unknown_columns=unknown(header, KNOWN, KNOWN_PATTERNS))
    products: dict[str, _Product] = {}
    for line, row in records:
        if isinstance(row, str):
            source.rows.append(SourceRow(line, row))
            continue
        handle = row.get("Handle", "")
        if not handle:
            source.rows.append(SourceRow(line, "Handle is required on every row"))
            continue
        product = products.get(handle)
        if product is None:
            product = products[handle] = _Product(line, handle, row)
        if row.get("Image Src"):
            position = row.get("Image Position", "")
            product.images.append((int(position) if position.isdigit() else 10_000, row["Image Src"]))
        if any(row.get(c) for c in VARIANT_COLUMNS):
            product.variants.append((line, row))
    counted = "Variant Inventory Qty" in header
    if not counted:
        source.notes.append("no Variant Inventory Qty column (a store with several locations exports stock "
                            "separately): products import as available, stock not counted")
    skipped = 0
    for product in products.values():
        if not _on_sale(product.fields):
            skipped += 1
            continue
        if not product.variants:
            source.rows.append(SourceRow(product.line, f"handle {product.handle!r} has no variant row (no price)"))
            continue
        source.rows += _variants(product, options, counted)
    if skipped:
        source.notes.append(f"{skipped} draft, archived or unpublished product(s) skipped")
    return source


def _on_sale(fields: dict[str, str]) -> bool:
    status = fields.get("Status", "").lower()
    return status in ("", "active") and fields.get("Published", "").lower() != "false"


def _variants(product: _Product, options: Options, counted: bool) -> list[SourceRow]:
    fields = product.fields
    title = fields.get("Title", "")
    if not title:
        return [SourceRow(product.line, f"Title is required on the first row of handle {product.handle!r}")]
    names = product.option_names()
    images = product.image_urls()
    several = len(product.variants) > 1
    rows = []
    for line, row in product.variants:
        chosen = {name.strip(): value for n, name in zip(OPTION_SLOTS, names)
                  if name.strip() and (value := row.get(f"Option{n} Value", "")) and value != "Default Title"}
        values = list(chosen.values())
        attributes: dict[str, Any] = {name.lower().replace(" ", "_"): value for name, value in chosen.items()}
        if row.get("Variant Barcode"):
            attributes["gtin"] = row["Variant Barcode"]
        if fields.get("Type"):
            attributes["product_type"] = fields["Type"]
        image = row.get("Variant Image") or (images[0] if images else None)
        out: dict[str, Any] = {
            "sku": row.get("Variant SKU") or (f"{product.handle}-{slug('-'.join(values))}" if several
                                              else product.handle),
            "title": f"{title}, {', '.join(values)}" if several and values else title,
            "description": html_to_text(fields.get("Body (HTML)", "")) or title,
            "category": fields.get("Product Category") or fields.get("Type") or UNCATEGORISED,
            "brand": fields.get("Vendor") or None,
            "price": row.get("Variant Price", ""),
            "compare_at_price": row.get("Variant Compare At Price") or None,
            "currency": options.currency,
            "attributes": attributes,
            "tags": split_list(fields.get("Tags", "")),
            "stock": _stock(row) if counted else AVAILABLE_UNCOUNTED,
            "image_url": image,
            "images": [u for u in images if u != image],
            "url": f"{options.store_url}/products/{product.handle}" if options.store_url else None,
            "group_key": product.handle,
            "variant_id": row.get("Variant ID") or None,
        }
        rows.append(SourceRow(line, out))
    return rows


def _stock(row: dict[str, str]) -> str | int:
    if row.get("Variant Inventory Qty"):
        return stock_count(row["Variant Inventory Qty"])
    # Shopify sells a variant whose inventory it does not track (empty tracker) without limit.
    return 0 if row.get("Variant Inventory Tracker") else AVAILABLE_UNCOUNTED
