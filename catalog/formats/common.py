"""What every format reader shares: the rows it hands to validation, CSV reading with physical line
numbers, unknown-column reporting, and the small value conversions shop exports need."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

UNCATEGORISED = "Uncategorised"
# Shops that sell without counting stock (Shopify's untracked inventory, WooCommerce without stock
# management, Merchant Center's availability) say only "available": at least one can be bought.
AVAILABLE_UNCOUNTED = 1


class ImportFileError(ValueError):
    """The file as a whole cannot be read (missing, unknown format, not UTF-8, refused XML)."""


@dataclass(frozen=True)
class SourceRow:
    line: int  # the file's physical line (CSV: where the record starts); 0 for the whole file
    data: dict[str, Any] | str  # a row in the import schema, or why the row could not be read
    item: int | None = None  # XML feeds: the item's position (1-based)


@dataclass
class Source:
    format: str
    rows: list[SourceRow] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    store_url: str | None = None  # the shop's site, for product pages a file does not spell out
    currency: str = "USD"  # formats whose prices carry no currency (Shopify, WooCommerce)


def csv_records(text: str, delimiter: str = ",") -> tuple[list[str], Iterator[tuple[int, dict[str, str] | str]]]:
    """The header and (start line, row) pairs; blank lines are skipped, a row with more values than
    the header is a str (the problem)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], iter(())
    except csv.Error as exc:
        raise ImportFileError(f"the header line cannot be read as CSV: {exc}") from None

    def rows() -> Iterator[tuple[int, dict[str, str] | str]]:
        end = reader.line_num
        while True:
            start = end + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, f"not valid CSV: {exc}"
                return
            end = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                yield start, f"{len(values)} values but the header has {len(header)} columns"
                continue
            yield start, {h: v.strip() for h, v in zip(header, values)}

    return header, rows()


def unknown(columns: Iterable[str], known: set[str], patterns: Iterable[re.Pattern[str]] = ()) -> list[str]:
    patterns = list(patterns)
    return [c for c in columns if c and c not in known and not any(p.match(c) for p in patterns)]


def split_list(value: str, separator: str = ",") -> list[str]:
    return [part.strip() for part in value.split(separator) if part.strip()]


def stock_count(raw: str) -> str | int:
    """A stock quantity as shops export it: oversold items go negative, which means none left."""
    try:
        return max(0, int(raw))
    except ValueError:
        return raw  # validation reports it with the line


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
