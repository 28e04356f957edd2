"""Knowledge-base import files (CSV or YAML), validated whole before anything is written.

Columns / keys: ``question`` (required), ``answer`` (required, Markdown), ``category`` (required),
``alternatives`` and ``tags`` (lists; in CSV ``|``-separated), ``status`` (draft / published /
archived, default draft), ``id`` (optional: update that entry instead of adding one). Unknown
columns are errors, so a misspelt "anwser" column cannot silently lose data. Every way in (console
form, file import, restore) passes through ``entry_from_mapping``, which turns Windows and old Mac
line breaks into ``\n``: Markdown renderers disagree about ``\r``, so "- item" lines would otherwise
show as text in the widget but as a list in the console preview.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from aisle.models import FaqStatus

FIELDS = ("id", "question", "alternatives", "answer", "category", "tags", "status")
MAX_QUESTION = 500
MAX_ANSWER = 10_000
MAX_CATEGORY = 100
MAX_ITEMS = 50


@dataclass
class EntryData:
    question: str
    answer: str
    category: str
    alternatives: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    status: FaqStatus = FaqStatus.draft

    def snapshot(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


@dataclass
class Row:
    line: int
    id: int | None
    data: EntryData


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRejected(ValueError):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was imported")
        self.problems = problems


def normalise_newlines(text: str) -> str:
    """``\r\n`` and lone ``\r`` become ``\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _text_list(value: Any, name: str, separator: str | None) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str) and separator:
        value = value.split(separator)
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ValueError(f"'{name}' must be a list of texts")
    items = [normalise_newlines(str(v)).strip() for v in value if str(v).strip()]
    if len(items) > MAX_ITEMS:
        raise ValueError(f"'{name}' has {len(items)} items; at most {MAX_ITEMS}")
    return items


def _required(raw: dict[str, Any], name: str, limit: int) -> str:
    value = raw.get(name)
    if not isinstance(value, (str, int, float)) or not str(value).strip():
        raise ValueError(f"'{name}' is required")
    text = normalise_newlines(str(value)).strip()
    if len(text) > limit:
        raise ValueError(f"'{name}' is {len(text)} characters; at most {limit}")
    return text


def entry_from_mapping(raw: dict[str, Any], separator: str | None = None) -> tuple[int | None, EntryData]:
    """One entry from a form, a CSV row or a YAML mapping; ValueError says what is wrong."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(FIELDS)}")
    status = str(raw.get("status") or "draft").strip().lower()
    if status not in FaqStatus.__members__:
        raise ValueError(f"'status' must be draft, published or archived, not {status!r}")
    entry_id = raw.get("id")
    if entry_id in (None, ""):
        entry_id = None
    else:
        try:
            entry_id = int(entry_id)
        except (TypeError, ValueError):
            raise ValueError(f"'id' must be a whole number, not {entry_id!r}") from None
    return entry_id, EntryData(
        question=_required(raw, "question", MAX_QUESTION),
        answer=_required(raw, "answer", MAX_ANSWER),
        category=_required(raw, "category", MAX_CATEGORY).lower(),
        alternatives=_text_list(raw.get("alternatives"), "alternatives", separator),
        tags=[t.lower() for t in _text_list(raw.get("tags"), "tags", separator)],
        status=FaqStatus(status),
    )


def _rows_from_yaml(text: str) -> tuple[list[tuple[int, Any]], list[Problem]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [Problem(mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if isinstance(root, yaml.MappingNode):
        root = next((v for k, v in root.value if k.value == "entries"), None)
    if not isinstance(root, yaml.SequenceNode):
        return [], [Problem(1, "expected a list of entries (or a mapping with an 'entries' list)")]
    loader = yaml.SafeLoader("")
    return [(node.start_mark.line + 1, loader.construct_object(node, deep=True)) for node in root.value], []


def _rows_from_csv(text: str) -> tuple[list[tuple[int, Any]], list[Problem]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))  # newlines inside quoted cells are data
    rows: list[tuple[int, Any]] = []
    try:
        if not reader.fieldnames:
            return [], [Problem(1, "the CSV file is empty (it needs a header row)")]
        for raw in reader:
            if None in raw:  # more cells than header columns
                return rows, [Problem(reader.line_num, "more cells than header columns")]
            rows.append((reader.line_num, {k: v for k, v in raw.items() if v is not None}))
    except csv.Error as exc:
        return rows, [Problem(reader.line_num, f"not valid CSV: {exc}")]
    return rows, []


def parse(text: str, fmt: str) -> list[Row]:
    """Every row of the file, or ImportRejected listing every problem with its line number."""
    if fmt not in ("csv", "yaml"):
        raise ValueError("format must be csv or yaml")
    raw_rows, problems = _rows_from_csv(text) if fmt == "csv" else _rows_from_yaml(text)
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, raw in raw_rows:
        if not isinstance(raw, dict):
            problems.append(Problem(line, "each entry must be a mapping of fields"))
            continue
        try:
            entry_id, data = entry_from_mapping(raw, "|" if fmt == "csv" else None)
        except ValueError as exc:
            problems.append(Problem(line, str(exc)))
            continue
        key = data.question.casefold()
        if key in seen:
            problems.append(Problem(line, f"the question {data.question!r} is also on line {seen[key]}"))
        seen.setdefault(key, line)
        rows.append(Row(line, entry_id, data))
    if not rows and not problems:
        problems.append(Problem(1, "the file has no entries"))
    if problems:
        raise ImportRejected(problems)
    return rows


def dump(entries: list[dict[str, Any]], fmt: str) -> str:
    """Entries (snapshots with ids) as CSV or YAML that ``parse`` reads back unchanged."""
    if fmt == "yaml":
        return yaml.safe_dump({"entries": entries}, sort_keys=False, allow_unicode=True, width=110)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS), lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({**e, "alternatives": "|".join(e["alternatives"]), "tags": "|".join(e["tags"])})
    return out.getvalue()
