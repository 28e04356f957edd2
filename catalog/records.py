"""The catalog import schema (../shared/contracts/interfaces.md): parsing and validating rows.

Every row is checked before anything is written; errors carry the file's line number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from catalog.formats import Options, read
from catalog.formats.common import ImportFileError as ImportFileError  # where callers import it from

KNOWN_FIELDS = {"sku", "title", "description", "category", "brand", "price", "currency", "attributes",
                "tags", "rating", "rating_count", "stock", "image_url", "images", "url", "group_key",
                "compare_at_price", "variant_id"}
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_TEXT = {"sku": 64, "title": 300, "category": 200, "brand": 120, "image_url": 1000, "url": 1000,
            "group_key": 200, "variant_id": 64}
MAX_DESCRIPTION = 20_000
MAX_IMAGES = 30
# Links shown to shoppers: web pages or paths on Aisle's own site, never javascript: or data: URLs.
LINK = re.compile(r"^(https?://[^\s/]+|/(?!/))\S*$", re.IGNORECASE)


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
    images: list[str] = field(default_factory=list)
    url: str | None = None
    group_key: str | None = None
    variant_id: str | None = None  # the store's id for its cart links

    def as_row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    item: int | None = None  # XML feeds: which <item>

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (item {self.item})" if self.item is not None else "")
        return f"{where}: {self.message}"


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
    image_url = _link(row, "image_url", errors)
    url = _link(row, "url", errors)
    group_key = _text(row, "group_key", errors, False)
    variant_id = _text(row, "variant_id", errors, False)
    images = row.get("images") or []
    if not isinstance(images, list) or not all(isinstance(u, str) and LINK.match(u) for u in images):
        errors.append("images must be a list of http(s) URLs")
        images = []
    elif len(images) > MAX_IMAGES:
        errors.append(f"images holds more than {MAX_IMAGES} URLs")
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
    # The price before a sale: checked like the price, kept with the attributes for cards.
    compare_at = _number(row, "compare_at_price", errors, integer=False, low=0)
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
    if compare_at is not None:
        extras["compare_at_price"] = str(compare_at)
    if errors:
        return None, errors
    assert sku and title and description and category and price is not None
    return ProductRecord(
        sku=sku, title=title, description=description, category=_normalise_category(category),
        price=price, brand=brand, currency=currency, attributes={**extras, **attributes},
        tags=[t.strip() for t in tags if t.strip()], rating=float(rating) if rating is not None else None,
        rating_count=rating_count, stock=stock or 0, image_url=image_url, images=list(images), url=url,
        group_key=group_key, variant_id=variant_id,
    ), []


def _link(row: dict[str, Any], key: str, errors: list[str]) -> str | None:
    value = _text(row, key, errors, False)
    if value is not None and not LINK.match(value):
        errors.append(f"{key} must be an http(s) URL, got {value[:80]!r}")
        return None
    return value


def _normalise_category(category: str) -> str:
    return " > ".join(part.strip() for part in category.split(">") if part.strip())


@dataclass
class ValidationReport:
    records: list[ProductRecord]
    errors: list[RowError]
    format: str = "aisle-jsonl"
    unknown_columns: list[str] = field(default_factory=list)  # reported, ignored
    notes: list[str] = field(default_factory=list)  # rows a shop export holds that are not for sale

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_file(path: Path, fmt: str = "auto", options: Options | None = None) -> ValidationReport:
    """Every row of the file (in any supported format) checked; raises ImportFileError when the file as
    a whole cannot be read."""
    source = read(path, fmt, options)
    records: list[ProductRecord] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for row in source.rows:
        if isinstance(row.data, str):
            errors.append(RowError(row.line, row.data, row.item))
            continue
        record, problems = validate(row.data)
        errors += [RowError(row.line, p, row.item) for p in problems]
        if record is None:
            continue
        if record.sku in seen:
            errors.append(RowError(row.line, f"sku {record.sku!r} already appears on line {seen[record.sku]}",
                                   row.item))
            continue
        seen[record.sku] = row.line
        records.append(record)
    if not records and not errors:
        errors.append(RowError(0, "the file holds no products"))
    return ValidationReport(records, errors, source.format, source.unknown_columns, source.notes)
