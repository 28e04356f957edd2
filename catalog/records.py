"""The catalog import schema (../shared/contracts/interfaces.md): parsing and validating rows.

Every row is checked before anything is written; errors carry the file's line number.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

KNOWN_FIELDS = {"sku", "title", "description", "category", "brand", "price", "currency", "attributes",
                "tags", "rating", "rating_count", "stock", "image_url"}
REQUIRED = ("sku", "title", "description", "category", "price")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_TEXT = {"sku": 64, "title": 300, "category": 200, "brand": 120, "image_url": 1000}
MAX_DESCRIPTION = 20_000


@dataclass(frozen=True)
class ProductRecord:
    sku: str
    title: str
    description: str
    category: str
    price: Decimal
    brand: str | None = None
    currency: str = "USD"
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    rating: float | None = None
    rating_count: int | None = None
    stock: int = 0
    image_url: str | None = None

    def as_row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFileError(ValueError):
    """The file as a whole cannot be read (missing, unknown format, not UTF-8)."""


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row dict) per product; a str instead of a dict describes a row that did not parse."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        yield from _jsonl_rows(text)
    elif suffix == ".csv":
        yield from _csv_rows(text)
    else:
        raise ImportFileError(f"{path}: unknown format {suffix!r}; use .jsonl or .csv")


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        yield number, row if isinstance(row, dict) else "a line must be a JSON object"


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return
    missing = [f for f in REQUIRED if f not in reader.fieldnames]
    if missing:
        yield 1, f"CSV header lacks required column(s): {', '.join(missing)}"
        return
    for row in reader:
        number = reader.line_num  # the line where this (possibly multi-line) record ends
        if None in row:
            yield number, "more values than header columns"
            continue
        parsed: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
        if "attributes" in parsed:
            try:
                parsed["attributes"] = json.loads(parsed["attributes"])
            except json.JSONDecodeError:
                yield number, "attributes must be a JSON object string"
                continue
        if "tags" in parsed:
            parsed["tags"] = [t.strip() for t in str(parsed["tags"]).split("|") if t.strip()]
        yield number, parsed


def _text(row: dict[str, Any], key: str, errors: list[str], required: bool) -> str | None:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(f"{key} is required")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        errors.append(f"{key} must be a string")
        return None
    value = str(value).strip()
    limit = MAX_TEXT.get(key, MAX_DESCRIPTION)
    if len(value) > limit:
        errors.append(f"{key} is longer than {limit} characters")
    return value


def _number(row: dict[str, Any], key: str, errors: list[str], *, integer: bool, low: float,
            high: float | None = None) -> Any:
    raw = row.get(key)
    if raw is None:
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = Decimal(str(raw).strip())
        if not value.is_finite():
            raise ValueError
    except (InvalidOperation, ValueError):
        errors.append(f"{key} must be a number, got {raw!r}")
        return None
    if integer and value != value.to_integral_value():
        errors.append(f"{key} must be a whole number, got {raw!r}")
        return None
    if value < low or (high is not None and value > high):
        errors.append(f"{key} must be between {low} and {high}" if high is not None else f"{key} must be ≥ {low}")
        return None
    return int(value) if integer else value


def validate(row: dict[str, Any]) -> tuple[ProductRecord | None, list[str]]:
    errors: list[str] = []
    sku = _text(row, "sku", errors, True)
    title = _text(row, "title", errors, True)
    description = _text(row, "description", errors, True)
    category = _text(row, "category", errors, True)
    brand = _text(row, "brand", errors, False)
    image_url = _text(row, "image_url", errors, False)
    if "price" not in row or row.get("price") in (None, ""):
        errors.append("price is required")
        price = None
    else:
        price = _number(row, "price", errors, integer=False, low=0)
    if price is not None and price.as_tuple().exponent < -2:  # type: ignore[operator]
        price = price.quantize(Decimal("0.01"))
    currency = str(row.get("currency") or "USD").strip().upper()
    if not CURRENCY.match(currency):
        errors.append(f"currency must be a 3-letter ISO 4217 code, got {row.get('currency')!r}")
    rating = _number(row, "rating", errors, integer=False, low=0, high=5)
    rating_count = _number(row, "rating_count", errors, integer=True, low=0)
    stock = _number(row, "stock", errors, integer=True, low=0)
    attributes = row.get("attributes") or {}
    if not isinstance(attributes, dict):
        errors.append("attributes must be an object")
        attributes = {}
    tags = row.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors.append("tags must be a list of strings")
        tags = []
    extras = {k: v for k, v in row.items() if k not in KNOWN_FIELDS}
    if errors:
        return None, errors
    assert sku and title and description and category and price is not None
    return ProductRecord(
        sku=sku, title=title, description=description, category=_normalise_category(category),
        price=price, brand=brand, currency=currency, attributes={**extras, **attributes},
        tags=[t.strip() for t in tags if t.strip()], rating=float(rating) if rating is not None else None,
        rating_count=rating_count, stock=stock or 0, image_url=image_url,
    ), []


def _normalise_category(category: str) -> str:
    return " > ".join(part.strip() for part in category.split(">") if part.strip())


@dataclass
class ValidationReport:
    records: list[ProductRecord]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_file(path: Path) -> ValidationReport:
    records: list[ProductRecord] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, row in read_rows(path):
        if isinstance(row, str):
            errors.append(RowError(line, row))
            continue
        record, problems = validate(row)
        errors += [RowError(line, p) for p in problems]
        if record is None:
            continue
        if record.sku in seen:
            errors.append(RowError(line, f"sku {record.sku!r} already appears on line {seen[record.sku]}"))
            continue
        seen[record.sku] = line
        records.append(record)
    if not records and not errors:
        errors.append(RowError(0, "the file holds no products"))
    return ValidationReport(records, errors)
