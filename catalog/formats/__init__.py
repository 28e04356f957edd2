"""Catalog files as shops export them, each read into rows of Aisle's import schema.

``read(path, fmt)`` picks the reader (``auto``: by file suffix, then the header columns or the XML
namespace); validation and the all-or-nothing upsert are the same for every format.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from catalog.formats import aisle, gmc, shopify, woocommerce
from catalog.formats.common import ImportFileError, Options, Source, SourceRow

FORMATS = ("auto", "aisle-jsonl", "aisle-csv", "shopify", "woocommerce", "gmc-tsv", "gmc-xml")
SNIFF_CHARS = 4096

__all__ = ["FORMATS", "ImportFileError", "Options", "Source", "SourceRow", "detect", "read"]


def read(path: Path, fmt: str = "auto", options: Options | None = None) -> Source:
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if fmt == "auto":
        fmt = detect(path, text)
    options = options or Options()
    if fmt == "aisle-jsonl":
        return aisle.read_jsonl(text)
    if fmt == "aisle-csv":
        return aisle.read_csv(text)
    if fmt == "shopify":
        return shopify.read(text, options)
    if fmt == "woocommerce":
        return woocommerce.read(text, options)
    if fmt == "gmc-tsv":
        return gmc.read_tsv(text, options)
    if fmt == "gmc-xml":
        return gmc.read_xml(text, options)
    raise ImportFileError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def detect(path: Path, text: str) -> str:
    """The format of a file: JSON Lines by suffix; XML by the Merchant Center namespace; delimited text
    by its header columns."""
    suffix = path.suffix.lower()
    head = text[:SNIFF_CHARS]
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "aisle-jsonl"
    if suffix == ".xml" or head.lstrip().startswith("<"):
        if gmc.G_NS in head:
            return "gmc-xml"
        raise ImportFileError(f"{path}: unknown format: XML without the Merchant Center namespace {gmc.G_NS}")
    first_line = head.splitlines()[0] if head else ""
    if "\t" in first_line and gmc.DETECT <= {gmc.column_name(c) for c in first_line.split("\t")}:
        return "gmc-tsv"
    if suffix in (".csv", ".txt", ".tsv"):
        columns = set(_csv_header(first_line))
        if shopify.DETECT <= columns:
            return "shopify"
        if woocommerce.DETECT <= columns:
            return "woocommerce"
    if suffix == ".csv":
        return "aisle-csv"  # reports any missing required columns itself
    raise ImportFileError(f"{path}: unknown format {suffix!r}; use .jsonl or .csv in Aisle's schema, or a "
                          "Shopify, WooCommerce or Merchant Center export (or name it with --format)")


def _csv_header(line: str) -> list[str]:
    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(line)), [])]
    except csv.Error:
        return []
