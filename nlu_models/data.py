"""Read Rasa-format NLU training data (``data/nlu/*.yml``) without depending on Rasa."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# [text](entity) | [text](entity:value) | [text]{"entity": ..., "value": ...}
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]*\}))")


class TrainingDataError(ValueError):
    """The NLU training data cannot be read."""


@dataclass(frozen=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = field(default=())


def parse_annotated(line: str, intent: str) -> Example:
    """Turn ``show me [red](color) shoes`` into plain text plus entity spans."""
    text_parts: list[str] = []
    spans: list[EntitySpan] = []
    pos = 0
    length = 0
    for m in ANNOTATION.finditer(line):
        before = line[pos:m.start()]
        text_parts.append(before)
        length += len(before)
        surface = m.group("text")
        if m.group("short"):
            entity, _, value = m.group("short").partition(":")
        else:
            try:
                meta = json.loads(m.group("json"))
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"bad entity annotation in {line!r}: {exc}") from None
            entity, value = meta.get("entity", ""), str(meta.get("value", ""))
        if not entity:
            raise TrainingDataError(f"entity annotation without a name in {line!r}")
        spans.append(EntitySpan(entity, value or surface, length, length + len(surface)))
        text_parts.append(surface)
        length += len(surface)
        pos = m.end()
    text_parts.append(line[pos:])
    return Example("".join(text_parts).strip(), intent, tuple(spans))


def _examples_block(block: object, where: str) -> list[str]:
    if not isinstance(block, str):
        raise TrainingDataError(f"{where}: 'examples' must be a block of '- ' lines")
    lines = []
    for raw in block.splitlines():
        raw = raw.strip()
        if not raw:
            continue
        if not raw.startswith("- "):
            raise TrainingDataError(f"{where}: example line must start with '- ': {raw!r}")
        lines.append(raw[2:].strip())
    return lines


def load_file(path: Path) -> list[Example]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TrainingDataError(f"{path}: not valid YAML: {exc}") from None
    examples = []
    for item in doc.get("nlu") or []:
        if "intent" not in item:
            continue  # synonyms, lookups and regexes are read by the entity extractor
        where = f"{path} intent {item['intent']}"
        for line in _examples_block(item.get("examples"), where):
            examples.append(parse_annotated(line, item["intent"]))
    return examples


def load_examples(folder: Path) -> list[Example]:
    files = sorted(folder.rglob("*.yml"))
    if not files:
        raise TrainingDataError(f"no NLU training files (*.yml) under {folder}")
    return [ex for f in files for ex in load_file(f)]


def fingerprint(examples: list[Example], settings: dict[str, object]) -> str:
    """Hash of the training data and settings: a model is stale when this changes."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for ex in sorted(examples, key=lambda e: (e.intent, e.text)):
        h.update(f"{ex.intent}\t{ex.text}\n".encode())
    return h.hexdigest()
