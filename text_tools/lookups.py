"""Lookup tables for colour, size, material, brand and product type.

Two sources: the Rasa-format tables in ``data/nlu/lookups`` (with synonyms), and the catalog's own
products table, re-read whenever it changes, so a brand imported into the catalog is recognised
without retraining anything.
"""
from __future__ import annotations

import logging
import re
import time
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent.parent / "data" / "nlu" / "lookups"
# Synonyms only the catalog search reads ("jumper" → sweater): kept out of the NLU's training data, whose
# augmentation swaps every lookup surface into examples, and out of its entity extraction.
SEARCH_DIR = Path(__file__).resolve().parent.parent / "catalog" / "lookups"
LOOKUP_ENTITIES = ("color", "size", "material", "brand", "product_type")
# Attribute keys in the catalog that feed each lookup entity.
CATALOG_ATTRIBUTES = {"color": ("color", "colour"), "material": ("material",), "size": ("size",)}


@dataclass
class LookupTables:
    """entity -> {surface form (lowercase) -> normalised value}."""

    terms: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, entity: str, surface: str, value: str | None = None) -> None:
        surface = " ".join(surface.split())
        if len(surface) < 1:
            return
        self.terms.setdefault(entity, {}).setdefault(surface.lower(), value or surface)

    def merged(self, other: "LookupTables") -> "LookupTables":
        out = LookupTables({k: dict(v) for k, v in self.terms.items()})
        for entity, terms in other.terms.items():
            for surface, value in terms.items():
                out.add(entity, surface, value)
        return out


def load_static(*folders: Path) -> LookupTables:
    tables = LookupTables()
    synonyms: dict[str, str] = {}
    lookups: list[tuple[str, list[str]]] = []
    for path in sorted(p for folder in folders for p in folder.rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            lines = [line.strip()[2:].strip() for line in str(item.get("examples", "")).splitlines()
                     if line.strip().startswith("- ")]
            if "lookup" in item:
                lookups.append((item["lookup"], lines))
            elif "synonym" in item:
                for line in lines:
                    synonyms[line.lower()] = str(item["synonym"])
    for entity, lines in lookups:
        for line in lines:
            tables.add(entity, line, line)
    for surface, value in synonyms.items():
        entity = next((e for e, terms in tables.terms.items() if value.lower() in terms), None)
        if entity:
            tables.add(entity, surface, tables.terms[entity][value.lower()])
            if entity == "product_type" and not surface.endswith("s"):  # "jumpers" as well as "jumper"
                tables.add(entity, f"{surface}s", tables.terms[entity][value.lower()])
    return tables


@lru_cache(maxsize=4)
def static_tables(folders: tuple[Path, ...] = (STATIC_DIR,)) -> LookupTables:
    """The Rasa-format lookup tables, read once per process (an explicit cache)."""
    return load_static(*folders)


def search_tables() -> LookupTables:
    """The NLU's lookup tables and the catalog search's own synonyms."""
    return static_tables((STATIC_DIR, SEARCH_DIR))


def singular(word: str) -> str:
    """Cheap English singular for catalog category names ("Kettles" -> "kettle")."""
    w = word.lower()
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("xes", "x"), ("s", "")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2 and not w.endswith("ss"):
            return w[: -len(suffix)] + repl
    return w


SIZE_NAME = re.compile(r"^([A-Za-z]{3,})\s+\d")  # a size named before its measure: "cabin 55 cm"


def tables_from_products(rows: Iterable[tuple[str | None, str | None, dict | None]]) -> LookupTables:
    """Brands, product types (category leaves) and attribute values from (brand, category, attributes)."""
    tables = LookupTables()
    for brand, category, attributes in rows:
        if brand:
            tables.add("brand", brand, brand)
        leaf = re.split(r"\s*>\s*", category or "")[-1].strip()
        if leaf:
            tables.add("product_type", leaf, singular(leaf))
            tables.add("product_type", singular(leaf), singular(leaf))
        for entity, keys in CATALOG_ATTRIBUTES.items():
            for key in keys:
                values = (attributes or {}).get(key)
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, str) and 0 < len(value) <= 40:
                        tables.add(entity, value, value.lower() if entity != "size" else value)
                        named = SIZE_NAME.match(value) if entity == "size" else None
                        if named:  # "cabin 55 cm": shoppers say "cabin size"
                            tables.add("size", named.group(1), named.group(1).lower())
    return tables


@dataclass
class CatalogLookups:
    """Reads brands, product types and attribute values from the products table, when it changes."""

    database_url: str
    min_interval_s: float = 5.0
    _signature: tuple | None = None
    _checked_at: float = 0.0
    _tables: LookupTables = field(default_factory=LookupTables)

    def tables(self) -> LookupTables:
        now = time.monotonic()
        if now - self._checked_at >= self.min_interval_s:
            self._checked_at = now
            try:
                self._refresh()
            except Exception as exc:  # the catalog being unavailable must never break parsing
                log.warning("catalog lookups not refreshed: %s", exc)
        return self._tables

    def _refresh(self) -> None:
        from sqlalchemy import select

        from aisle.db import engine_for, products_signature
        from aisle.models import Product

        signature = products_signature(self.database_url)
        if signature is None or signature == self._signature:
            return
        with engine_for(self.database_url).connect() as conn:
            rows = conn.execute(select(Product.brand, Product.category, Product.attributes)).all()
        tables = tables_from_products(rows)
        self._tables, self._signature = tables, signature
        log.info("catalog lookups refreshed: %s", {k: len(v) for k, v in tables.terms.items()})


@dataclass
class Lookups:
    """The tables the parser uses: the static ones merged with the catalog's current ones."""

    static: LookupTables
    catalog: CatalogLookups | None = None
    _source: LookupTables | None = None
    _merged: LookupTables = field(default_factory=LookupTables)

    def __call__(self) -> LookupTables:
        current = self.catalog.tables() if self.catalog else LookupTables()
        if current is not self._source:
            self._merged, self._source = self.static.merged(current), current
        return self._merged
