"""Hybrid product search: dense (MiniLM + FAISS) and lexical (FTS5 BM25) lists fused with reciprocal
rank fusion, then the structured constraints of the query and the conversation applied as filters.
When nothing matches, constraints are relaxed one at a time and the response says which.
Used by the bot's actions and by ``python -m catalog search``.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from sqlalchemy import select

from aisle.config import Settings
from aisle.db import products_signature, session_factory
from aisle.models import Product
from catalog.documents import ProductView, view_of
from catalog.index import DenseIndex, LexicalIndex, tokens
from nlu_models.entities import extract
from nlu_models.lookups import singular, static_tables, tables_from_products

log = logging.getLogger(__name__)
Encoder = Callable[[list[str]], np.ndarray]
RRF_K = 60
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
MIN_CANDIDATES = 1000
RELAX_ORDER = ("colors", "sizes", "materials", "brands", "price", "category", "in_stock")
IN_STOCK = re.compile(r"\b(?:in[- ]stock|available (?:now|today)|ships? (?:today|now)|available right now)\b", re.I)
STOPWORDS = set(
    "a an the and or for to of in on with my me i im i'm want need looking look find show some any "
    "please do you have got is are it that this these those under below over above between than less more "
    "around about cheap cheaper price priced dollars usd bucks stock available".split()
)


@dataclass(frozen=True)
class Constraints:
    price_min: float | None = None
    price_max: float | None = None
    colors: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    category: str | None = None
    in_stock: bool = False

    def active(self) -> list[str]:
        names = [n for n in ("colors", "sizes", "materials", "brands", "category", "in_stock") if getattr(self, n)]
        return (["price"] if self.price_min is not None or self.price_max is not None else []) + names

    def without(self, name: str) -> "Constraints":
        if name == "price":
            return dataclasses.replace(self, price_min=None, price_max=None)
        default = False if name == "in_stock" else None if name == "category" else ()
        return dataclasses.replace(self, **{name: default})

    def merged(self, newer: "Constraints") -> "Constraints":
        """The conversation's constraints updated by a newer message's (set fields win)."""
        updates = {f.name: getattr(newer, f.name) for f in dataclasses.fields(self)
                   if getattr(newer, f.name) not in (None, (), False)}
        return dataclasses.replace(self, **updates)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
                if v not in (None, (), False)}

    @classmethod
    def from_dict(cls, data: Any) -> "Constraints":
        """The inverse of as_dict (a slot value); unknown keys are ignored, junk gives no constraints."""
        if not isinstance(data, dict):
            return cls()
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})

    def allows(self, p: ProductView) -> bool:
        if self.price_min is not None and p.price < self.price_min:
            return False
        if self.price_max is not None and p.price > self.price_max:
            return False
        if self.in_stock and p.stock <= 0:
            return False
        if self.brands and (p.brand or "").lower() not in {b.lower() for b in self.brands}:
            return False
        if self.category and not _is_type(p, self.category):
            return False
        if self.colors and not _has_value(p, ("color", "colour"), self.colors, also_title=True):
            return False
        if self.sizes and not _has_value(p, ("size", "sizes"), self.sizes, also_title=False):
            return False
        if self.materials and not _has_value(p, ("material",), self.materials, also_title=True):
            return False
        return True


def _is_type(p: ProductView, product_type: str) -> bool:
    t = product_type.lower()
    return singular(p.category_leaf) == t or t in p.category.lower() or t in p.title.lower()


def _has_value(p: ProductView, keys: Sequence[str], wanted: Sequence[str], also_title: bool) -> bool:
    have: set[str] = set()
    for key in keys:
        value = p.attributes.get(key)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                have.add(str(v).lower())
    wanted_l = [w.lower() for w in wanted]
    if any(w in have or any(w in h.split() for h in have) for w in wanted_l):
        return True
    return also_title and any(re.search(rf"\b{re.escape(w)}\b", p.title.lower()) for w in wanted_l)


@dataclass
class SearchResponse:
    items: list[dict[str, Any]]
    constraints: Constraints
    relaxed: list[str] = field(default_factory=list)
    total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"results": self.items, "constraints": self.constraints.as_dict(), "relaxed": self.relaxed,
                "total": self.total}


class CatalogSearch:
    """One per process: keeps the catalog view and both indexes in memory, synced with the database."""

    def __init__(self, settings: Settings, encode: Encoder | None = None) -> None:
        self.settings = settings
        self._encode = encode
        folder = settings.data_dir / "search"
        self.dense = DenseIndex(folder)
        self.lexical = LexicalIndex(folder)
        self.views: dict[int, ProductView] = {}
        self.by_sku: dict[str, ProductView] = {}
        self.tables = static_tables()
        self.vocabulary: dict[str, list[str]] = {}
        self.known_words: set[str] = set()
        self._signature: tuple | None = None
        self._lock = threading.Lock()
        self.dense_weight = DENSE_WEIGHT  # relative to the lexical list's 1.0; tuned by catalog.bench
        self.dense.load()

    @property
    def encode(self) -> Encoder:
        if self._encode is None:
            from nlu_models.encoder import encode

            self._encode = encode
        return self._encode

    def refresh(self) -> bool:
        """Bring views and indexes up to date with the products table; True when something changed."""
        with self._lock:
            signature = products_signature(self.settings.database_url)
            if signature is None or signature == self._signature:
                return False
            with session_factory(self.settings.database_url)() as session:
                views = [view_of(p) for p in session.scalars(select(Product))]
            changed_dense = self.dense.sync(views, self.encode)
            changed_lexical = self.lexical.sync(views)
            self.views = {v.id: v for v in views}
            self.by_sku = {v.sku: v for v in views}
            self.tables = static_tables().merged(
                tables_from_products((v.brand, v.category, v.attributes) for v in views))
            self.vocabulary = _vocabulary(views)
            self.known_words = {w for words in self.vocabulary.values() for w in words}
            self._signature = signature
            log.info("search index: %d products (%d dense, %d lexical updates)",
                     len(views), changed_dense, changed_lexical)
            return True

    def parse(self, query: str) -> tuple[Constraints, list[str]]:
        """Constraints stated in the query, and the words left for lexical matching."""
        found = extract(query, self.tables)
        values: dict[str, list[Any]] = {}
        spans = []
        for ent in found:
            values.setdefault(ent["entity"], []).append(ent["value"])
            if ent["entity"] in ("price_min", "price_max"):
                spans.append((ent["start"], ent["end"]))
        constraints = Constraints(
            price_min=min(values["price_min"]) if "price_min" in values else None,
            price_max=max(values["price_max"]) if "price_max" in values else None,
            colors=tuple(dict.fromkeys(values.get("color", []))),
            sizes=tuple(dict.fromkeys(str(v) for v in values.get("size", []))),
            materials=tuple(dict.fromkeys(values.get("material", []))),
            brands=tuple(dict.fromkeys(values.get("brand", []))),
            category=self._known_type(values.get("product_type", [])),
            in_stock=bool(IN_STOCK.search(query)),
        )
        text = "".join(" " if any(s <= i < e for s, e in spans) else ch for i, ch in enumerate(query))
        words = [self._correct(w) for w in tokens(text) if w not in STOPWORDS and not w.isdigit()]
        return constraints, [w for w in words if w]

    def _known_type(self, types: Sequence[str]) -> str | None:
        """A product type is a filter only when the catalog has products of that type."""
        for t in types:
            if any(_is_type(v, t) for v in self.views.values()):
                return t
        return None

    def _correct(self, word: str) -> str:
        """Typo tolerance for the lexical list: unknown words snap to the closest catalog word."""
        if len(word) < 4 or word in self.known_words:
            return word
        candidates = [w for w in self.vocabulary.get(word[0], ()) if abs(len(w) - len(word)) <= 2]
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.8)
        return close[0] if close else word

    def search(self, query: str, limit: int = 10, offset: int = 0,
               context: Constraints | None = None, mode: str = "hybrid") -> SearchResponse:
        """``mode`` "dense" or "lexical" uses one list only (the benchmark compares them)."""
        self.refresh()
        stated, words = self.parse(query)
        # The conversation's constraints (already updated by the latest message) win over the query's.
        constraints = stated.merged(context or Constraints())
        if not self.views:
            return SearchResponse([], constraints)
        k = min(len(self.views), max(MIN_CANDIDATES, 5 * (limit + offset)))
        dense = self.dense.search(self.encode([query])[0], k) if query.strip() and mode != "lexical" else []
        lexical = self.lexical.search(words, k) if mode != "dense" else []
        fused = _fuse(dense, lexical, self.dense_weight)
        if not fused:  # no query text at all: browse by rating within the constraints
            fused = {i: (v.rating or 0) / 100 for i, v in self.views.items()}
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])
        hits, current, relaxed = self._filter_relaxing(ranked, constraints)
        items = [self.views[i].as_result(s) for i, s in hits[offset:offset + limit]]
        return SearchResponse(items, current, relaxed, len(hits))

    def _filter_relaxing(self, ranked: list[tuple[int, float]], constraints: Constraints
                         ) -> tuple[list[tuple[int, float]], Constraints, list[str]]:
        """The ranked hits that meet the constraints; while there are none, drop one constraint at a
        time in RELAX_ORDER. Returns the hits, the constraints that held, and what was dropped."""
        relaxed: list[str] = []
        while True:
            hits = [(i, s) for i, s in ranked if i in self.views and constraints.allows(self.views[i])]
            remaining = [c for c in RELAX_ORDER if c in constraints.active()]
            if hits or not remaining:
                return hits, constraints, relaxed
            relaxed.append(remaining[0])
            constraints = constraints.without(remaining[0])

    def similar(self, sku: str, limit: int = 5, context: Constraints | None = None) -> SearchResponse:
        """Products closest to this one in embedding space, other models first (not its own variants)."""
        self.refresh()
        source = self.by_sku.get(sku)
        constraints = context or Constraints()
        if source is None:
            return SearchResponse([], constraints)
        neighbours = self.dense.search(self.encode([source.embedding_text()])[0], min(len(self.views), 200))
        same_model = model_name(source)
        ranked = [(i, s) for i, s in neighbours
                  if i in self.views and i != source.id and model_name(self.views[i]) != same_model]
        # The same kind of product first ("similar" to a kettle means other kettles), then the rest.
        ranked.sort(key=lambda hit: self.views[hit[0]].category != source.category)
        hits, current, relaxed = self._filter_relaxing(ranked, constraints)
        return SearchResponse([self.views[i].as_result(s) for i, s in hits[:limit]], current, relaxed, len(hits))


def model_name(view: ProductView) -> str:
    """Colour and size variants share everything before the comma in their titles."""
    return view.title.split(",")[0].strip().lower()


def _fuse(dense: list[tuple[int, float]], lexical: list[tuple[int, float]],
          dense_weight: float = DENSE_WEIGHT) -> dict[int, float]:
    scores: dict[int, float] = {}
    for weight, ranked in ((dense_weight, dense), (LEXICAL_WEIGHT, lexical)):
        for rank, (pid, _) in enumerate(ranked, start=1):
            scores[pid] = scores.get(pid, 0.0) + weight / (RRF_K + rank)
    return scores


def _vocabulary(views: Sequence[ProductView]) -> dict[str, list[str]]:
    words: set[str] = set()
    for v in views:
        for text in v.lexical_fields().values():
            words.update(tokens(text))
    by_letter: dict[str, list[str]] = {}
    for w in sorted(words):
        by_letter.setdefault(w[0], []).append(w)
    return by_letter

