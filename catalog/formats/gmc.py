"""Google Merchant Center product feeds: tab-separated text, or RSS 2.0 (or Atom) XML whose item
fields are in the ``g:`` namespace (http://base.google.com/ns/1.0).

Each item is one product; variants of one model share ``item_group_id``. Prices read "19.99 USD".
XML is parsed with the standard library's expat, and any DTD is refused (no external or nested
entities: no XXE, no entity expansion bombs).
"""
from __future__ import annotations

import re
from typing import Any
from xml.parsers import expat

from catalog.formats.common import (AVAILABLE_UNCOUNTED, UNCATEGORISED, ImportFileError, Options, Source, SourceRow,
                                    csv_records, split_list, unknown)
from catalog.formats.html_text import html_to_text

G_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
KNOWN = {
    "id", "title", "description", "link", "mobile_link", "image_link", "additional_image_link",
    "lifestyle_image_link", "availability", "availability_date", "cost_of_goods_sold", "expiration_date", "price",
    "sale_price", "sale_price_effective_date", "unit_pricing_measure", "unit_pricing_base_measure", "installment",
    "subscription_cost", "loyalty_program", "auto_pricing_min_price", "google_product_category", "product_type",
    "brand", "gtin", "mpn", "identifier_exists", "condition", "adult", "multipack", "is_bundle", "certification",
    "energy_efficiency_class", "min_energy_efficiency_class", "max_energy_efficiency_class", "age_group", "color",
    "gender", "material", "pattern", "size", "size_type", "size_system", "item_group_id", "product_length",
    "product_width", "product_height", "product_weight", "product_detail", "product_highlight", "ads_redirect",
    "promotion_id", "excluded_destination", "included_destination", "shopping_ads_excluded_country", "pause",
    "shipping", "shipping_label", "shipping_weight", "shipping_length", "shipping_width", "shipping_height",
    "ships_from_country", "transit_time_label", "max_handling_time", "min_handling_time", "free_shipping_threshold",
    "tax", "tax_category", "return_policy_label", "disclosure_date", "external_seller_id", "virtual_model_link",
    "structured_title", "structured_description", "short_title",
}
KNOWN_PATTERNS = (re.compile(r"^custom_label_[0-4]$"),)
ATTRIBUTES = ("color", "size", "material", "pattern", "gender", "age_group", "condition", "gtin", "mpn")
DETECT = {"id", "title", "price"}
SHOPIFY_ITEM_ID = re.compile(r"^shopify_[A-Z]{2}_\d+_(\d+)$")
PRICE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]{3})?\s*$")
IN_STOCK = {"in_stock", "in stock"}
MAX_XML_DEPTH = 16


def read_tsv(text: str, options: Options) -> Source:
    header, records = csv_records(text, delimiter="\t")
    names = [column_name(h) for h in header]
    source = Source("gmc-tsv", unknown_columns=unknown(names, KNOWN, KNOWN_PATTERNS))
    for line, row in records:
        if isinstance(row, str):
            source.rows.append(SourceRow(line, row))
            continue
        fields = {column_name(k): v for k, v in row.items()}
        images = split_list(fields.get("additional_image_link", ""))
        product: dict[str, Any] = {**fields, "additional_image_link": images}
        source.rows.append(SourceRow(line, _product(product, options)))
    return source


def column_name(column: str) -> str:
    """Feed columns are the attribute names, sometimes with the XML prefix or in capitals."""
    return column.strip().lower().removeprefix("g:").replace(" ", "_")


def read_xml(text: str, options: Options) -> Source:
    source = Source("gmc-xml")
    seen_unknown: dict[str, None] = {}
    for line, index, fields, strange in _items(text):
        seen_unknown.update(dict.fromkeys(strange))
        source.rows.append(SourceRow(line, _product(fields, options), index))
    if not source.rows:
        source.rows.append(SourceRow(0, "the feed holds no <item> (or <entry>) elements"))
    source.unknown_columns = list(seen_unknown)
    return source


def _items(text: str) -> list[tuple[int, int, dict[str, Any], list[str]]]:
    """(line, item number, fields, unknown element names) per item; repeated fields become lists."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: Any) -> None:
        raise ImportFileError("the XML declares a DTD or entities, which are refused (they can read local "
                              "files or expand without limit); Merchant Center feeds need none")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    items: list[tuple[int, int, dict[str, Any], list[str]]] = []
    depth = 0
    item_depth = 0  # the depth of the open <item>, 0 outside one
    fields: dict[str, Any] = {}
    strange: list[str] = []
    item_line = 0
    parts: list[str] = []
    href = ""

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, item_depth, fields, strange, item_line, parts, href
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise ImportFileError(f"line {parser.CurrentLineNumber}: XML nested deeper than {MAX_XML_DEPTH} levels")
        if not item_depth and name.rpartition(" ")[2] in ("item", "entry"):
            item_depth, fields, strange, item_line = depth, {}, [], parser.CurrentLineNumber
        elif item_depth and depth == item_depth + 1:
            parts, href = [], attrs.get("href", "")  # Atom links: <link href="..."/>

    def end(name: str) -> None:
        nonlocal depth, item_depth
        if item_depth and depth == item_depth:
            items.append((item_line, len(items) + 1, fields, strange))
            item_depth = 0
        elif item_depth and depth == item_depth + 1:
            _field(name, "".join(parts).strip() or href)
        depth -= 1

    def _field(name: str, value: str) -> None:
        namespace, _, local = name.rpartition(" ")
        known = local in KNOWN or any(p.match(local) for p in KNOWN_PATTERNS)
        if namespace not in ("", G_NS, ATOM_NS) or not known:
            strange.append(f"{'g:' if namespace == G_NS else ''}{local}")
        elif local == "additional_image_link":
            fields.setdefault(local, []).append(value)
        else:
            fields.setdefault(local, value)  # the first of a repeated field (product_type, ...)

    def data(chunk: str) -> None:
        parts.append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise ImportFileError(f"line {exc.lineno}: the XML is not well-formed "
                              f"({expat.errors.messages[exc.code]})") from None
    return items


def _product(fields: dict[str, Any], options: Options) -> dict[str, Any]:
    price, currency = _price(fields.get("price", ""), options.currency)
    sale, _ = _price(fields.get("sale_price", ""), currency)
    attributes: dict[str, Any] = {k: fields[k] for k in ATTRIBUTES if fields.get(k)}
    availability = str(fields.get("availability", "")).strip().lower()
    if availability and availability not in IN_STOCK | {"out_of_stock", "out of stock"}:
        attributes["availability"] = availability.replace("_", " ")
    category = str(fields.get("product_type") or "")
    google_category = str(fields.get("google_product_category") or "")
    if not category and google_category and not google_category.isdigit():  # a taxonomy ID is no name
        category = google_category
    title = str(fields.get("title", ""))
    images = [u for u in fields.get("additional_image_link", []) if u]
    return {
        "sku": fields.get("id", ""),
        "title": title,
        "description": html_to_text(str(fields.get("description", ""))) or title,
        "category": category or UNCATEGORISED,
        "brand": fields.get("brand") or None,
        "price": sale or price,
        "compare_at_price": price if sale else None,
        "currency": currency,
        "attributes": attributes,
        "stock": AVAILABLE_UNCOUNTED if availability in IN_STOCK else 0,
        "image_url": fields.get("image_link") or None,
        "images": images,
        "url": fields.get("link") or None,
        "group_key": fields.get("item_group_id") or None,
        "variant_id": _shopify_variant(str(fields.get("id", ""))),
    }


def _shopify_variant(item_id: str) -> str | None:
    """Shopify's Google channel names items shopify_<country>_<product id>_<variant id>."""
    match = SHOPIFY_ITEM_ID.match(item_id)
    return match.group(1) if match else None


def _price(raw: str, default_currency: str) -> tuple[str, str]:
    """ "19.99 USD" → ("19.99", "USD"); anything else is passed on for validation to report."""
    match = PRICE.match(raw or "")
    if not match:
        return raw, default_currency
    return match.group(1), (match.group(2) or default_currency).upper()
