"""Aisle's own import schema (../shared/contracts/interfaces.md): JSON Lines, or CSV with the same
column names. Rows pass through as they are; validation does the rest."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterator

from catalog.formats.common import Source, SourceRow

REQUIRED = ("sku", "title", "description", "category", "price")


def read_jsonl(text: str) -> Source:
    return Source("aisle-jsonl", list(_jsonl_rows(text)))


def read_csv(text: str) -> Source:
    return Source("aisle-csv", list(_csv_rows(text)))


def _jsonl_rows(text: str) -> Iterator[SourceRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield SourceRow(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        yield SourceRow(number, row if isinstance(row, dict) else "a line must be a JSON object")


def _csv_rows(text: str) -> Iterator[SourceRow]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return
    missing = [f for f in REQUIRED if f not in reader.fieldnames]
    if missing:
        yield SourceRow(1, f"CSV header lacks required column(s): {', '.join(missing)}")
        return
    for row in reader:
        number = reader.line_num  # the line where this (possibly multi-line) record ends
        if None in row:
            yield SourceRow(number, "more values than header columns")
            continue
        parsed: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
        if "attributes" in parsed:
            try:
                parsed["attributes"] = json.loads(parsed["attributes"])
            except json.JSONDecodeError:
                yield SourceRow(number, "attributes must be a JSON object string")
                continue
        if "tags" in parsed:
            parsed["tags"] = [t.strip() for t in str(parsed["tags"]).split("|") if t.strip()]
        if "images" in parsed:
            parsed["images"] = [u.strip() for u in str(parsed["images"]).split("|") if u.strip()]
        yield SourceRow(number, parsed)
