"""Product search: a dense (MiniLM + FAISS) and a lexical (FTS5 BM25) list scored together, with a
category-level signal, then the constraints of the query and the conversation applied.

Constraints read from free text are hard filters only when they are unambiguous: an explicit price,
an explicit "in stock", or a brand / colour / size / material / product type that the products the
query is about actually have (``COMPATIBLE_TOP``). Anything else only lifts matching products, so a
word that happens to be a catalog value ("down the sidewalk") never filters everything away.
Negations ("not from Sonora", "anything but black", "without a reel") always exclude. When the hard
filters leave nothing, they are relaxed one at a time and the response says which.
Used by the bot's actions and by ``python -m catalog search``.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from sqlalchemy import select

from aisle.config import Settings
from aisle.db import products_signature, session_factory
from aisle.models import Product
from catalog.documents import UNSEARCHED_ATTRIBUTES, ProductView, category_leaf, view_of
from catalog.index import DenseIndex, LexicalIndex, tokens
from text_tools.entities import extract, negated_spans
from text_tools.language import blank_spans, english_words
from text_tools.lookups import LookupTables, search_tables, singular, tables_from_products

log = logging.getLogger(__name__)
Encoder = Callable[[list[str]], np.ndarray]
MIN_CANDIDATES = 1000
REFRESH_CHECK_S = 1.0  # a catalog import reaches the searches of a running process within this long
CATEGORY_TOP = 3  # a category's affinity: the mean of its best few dense similarities
COMPATIBLE_TOP = 10  # a stated value is a filter when one of the query's top products has it
# A message naming no product is about a category when its affinity reaches this (chosen on the hardware
# store's needs and CLINC150 val by ``python -m bench.needs``; reported on the demo store's).
NEED_THRESHOLD = 0.36
# A shopper's page keeps only hits scoring within this of the best one: what falls further behind is
# another kind of product filling the page ("face cream" after four shampoos). The smallest gap that
# drops no card of a query's target category on the hardware store (``python -m bench.search`` reports
# the demo and pet & baby stores out of sample). In units of the default weights' scores.
SHOWN_WITHIN = 1.25
# A short request for a kind of product whose head word the catalog never uses and whose words are no
# closer than this (cosine) to any product type the catalog sells is for something the store does not
# sell ("do you sell lawn mowers?"). Chosen on the demo catalog: a round value at least 0.05 below the
# lowest of its own queries (0.558); ``python -m bench.search`` reports it on the hardware and pet & baby
# catalogs.
NOT_SOLD_BELOW = 0.5
# Words of a request that name no kind of product ("do you sell ...", "what about ... then").
REQUEST_WORDS = set("sell sells stock carry got get buy need want looking find search show what about then "
                    "something anything stuff thing things ones one kind sort type good best nice new also "
                    "too instead maybe either max min maximum minimum budget not no isn't aren't without hate dislike "
                    "nothing none"
                    .split())
TYPO_CUTOFF = 0.8  # difflib ratio from which a word may be a typo of a catalog word
NUMBER_AND_UNIT = re.compile(r"\d+(?:[./]\d+)?\s*[a-z]{0,5}\b", re.IGNORECASE)  # "50 ft", "18v", "2"
SOFT_ONLY = ("materials", "attrs")  # never filter when read from a query's free text
# A product type right after one of these is the context of a need ("for working at a desk", "plug into my
# laptop"), not the thing asked for.
CONTEXT_BEFORE_TYPE = set("for with at into onto on off from by of my our your his her their".split())
# ... except the "for" of asking for something ("looking for a rucksack", "shopping for boots").
SEEKING_FOR = re.compile(r"\b(?:look|looking|search|searching|shop|shopping|hunt|hunting|ask|asking)\s+for\b",
                         re.IGNORECASE)
KINDS = ("category", "categories")
RELAX_ORDER = ("attrs", "colors", "sizes", "materials", "brands", "price", "category", "categories", "in_stock")
WORD = re.compile(r"[A-Za-z]+")
SIZE_BEFORE = re.compile(r"\b(small|medium|large)\s+$", re.IGNORECASE)  # the entity rules leave these out
IMITATION = {"vegan", "faux", "imitation", "synthetic", "pu", "fake", "artificial"}
IN_STOCK = re.compile(r"\b(?:in[- ]stock|available (?:now|today)|ships? (?:today|now)|available right now)\b", re.I)
# Who a product is labelled for (its category or title), and how a shopper says who it is for.
AUDIENCE_LABELS = {"men": re.compile(r"\bmen'?s\b|\bmale\b", re.I),
                   "women": re.compile(r"\bwomen'?s\b|\bladies\b|\bfemale\b", re.I)}
AUDIENCE_ASKED = {
    "men": re.compile(r"\b(?:men'?s|mens|male|i'?m a (?:guy|man|dude)|"
                      r"for (?:a |my )?(?:man|men|guy|guys|husband|boyfriend|dad|son|him))\b", re.I),
    "women": re.compile(r"\b(?:women'?s|womens|wom[ae]n|ladies|female|i'?m a (?:woman|girl|lady)|"
                        r"for (?:a |my )?(?:girlfriend|wife|mum|mom|daughter|her))\b", re.I),
}
STOPWORDS = set(
    "a an the and or for to of in on with my me i im i'm want need looking look find show some any "
    "please do you have got is are it that this these those under below over above between than less more "
    "around about cheap cheaper price priced dollars usd bucks stock available hi hello hey".split()
)
LEXICON_SKIPS = {"color", "colour", "size", "sizes", "material"}  # these come from the lookup tables
COMMON_VALUES = set("all both none standard normal regular yes no other mixed various window".split())
# Words that a negation may cover without naming anything to exclude ("not sure which size").
NOT_EXCLUDABLE = STOPWORDS | set("one ones kind type brand thing things stuff item items size colour color "
                                 "sure really too very so them much many at up down out it its on off all "
                                 "whatsoever".split())  # "no wool at all please" excludes wool, not "all"


@dataclass(frozen=True)
class Weights:
    """How the scores add up: dense cosine + lexical × max-normalised BM25 + category × the product's
    category affinity + soft × each stated-but-not-filtering value the product has. Chosen by
    ``python -m bench.search`` on one catalog and reported on the other (reports/search.md)."""

    lexical: float = 0.8
    category: float = 8.0
    soft: float = 0.1


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
    attrs: tuple[tuple[str, Any], ...] = ()  # other attribute values the query names ("32gb", "cordless")
    categories: tuple[str, ...] = ()  # exact category paths: the kinds of product on screen, kept by refinements
    exclude_brands: tuple[str, ...] = ()
    exclude_colors: tuple[str, ...] = ()
    exclude_materials: tuple[str, ...] = ()
    exclude_terms: tuple[str, ...] = ()  # title words, attribute names or values ("reel", "gas", "hood")
    # "mens sweaters": who it is for; products labelled for the other ("Women's Clothing") are excluded,
    # unlabelled ones ("Shoes > Running Shoes") stay.
    audiences: tuple[str, ...] = ()
    exclude_audiences: tuple[str, ...] = ()
    # "for a 4 year old": products labelled for older children ("8+") do not suit; unlabelled ones stay,
    # and so do those a year over (age labels are rounded guidance: a 10+ kit for a keen 9-year-old)
    child_age: int | None = None

    def active(self) -> list[str]:
        """The constraints that may be relaxed (exclusions never are: the shopper said no to them)."""
        names = [n for n in ("colors", "sizes", "materials", "brands", "attrs", "category", "categories",
                             "in_stock") if getattr(self, n)]
        return (["price"] if self.price_min is not None or self.price_max is not None else []) + names

    def without(self, name: str) -> "Constraints":
        if name == "price":
            return dataclasses.replace(self, price_min=None, price_max=None)
        default = False if name == "in_stock" else None if name == "category" else ()
        return dataclasses.replace(self, **{name: default})

    def covers_type(self, product_type: str) -> bool:
        """Whether a product type is one of the kinds these constraints already keep to."""
        t = singular(product_type)
        return t == self.category or any(t == singular(category_leaf(c)) or t in c.lower()
                                         for c in self.categories)

    def merged(self, newer: "Constraints") -> "Constraints":
        """The conversation's constraints updated by a newer message's (set fields win; exclusions add up,
        and a value asked for again is no longer excluded)."""
        updates: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            old, new = getattr(self, f.name), getattr(newer, f.name)
            if f.name.startswith("exclude_"):
                wanted = {str(v).lower() for v in getattr(newer, f.name.removeprefix("exclude_"), ()) or ()}
                updates[f.name] = tuple(v for v in dict.fromkeys(old + new) if v.lower() not in wanted)
            elif new not in (None, (), False):
                updates[f.name] = new
        # A new bound past the old opposite one replaces it: "under 50", then "the ones over 100".
        if newer.price_min is not None and self.price_max is not None and newer.price_min >= self.price_max:
            updates.setdefault("price_max", None)
        if newer.price_max is not None and self.price_min is not None and newer.price_max <= self.price_min:
            updates.setdefault("price_min", None)
        return dataclasses.replace(self, **updates)

    def as_dict(self) -> dict[str, Any]:
        return {k: ([list(p) for p in v] if k == "attrs" else list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items() if v not in (None, (), False)}

    @classmethod
    def from_dict(cls, data: Any) -> "Constraints":
        """The inverse of as_dict (a slot value); unknown keys are ignored, junk gives no constraints."""
        if not isinstance(data, dict):
            return cls()
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
        if "attrs" in values:
            values["attrs"] = tuple(tuple(p) for p in values["attrs"] if isinstance(p, (list, tuple)) and len(p) == 2)
        return cls(**values)

    def allows(self, p: ProductView) -> bool:
        if self.price_min is not None and p.price < self.price_min:
            return False
        if self.price_max is not None and p.price > self.price_max:
            return False
        if self.in_stock and p.stock <= 0:
            return False
        if self.brands and (p.brand or "").lower() not in {b.lower() for b in self.brands}:
            return False
        if self.category and not is_of_type(p, self.category):
            return False
        if self.categories and p.category not in self.categories:
            return False
        for wanted, check in ((self.colors, has_color), (self.sizes, has_size), (self.materials, has_material)):
            if wanted and not check(p, wanted):
                return False
        if self.attrs and not has_attributes(p, self.attrs):
            return False
        return not self.excludes(p)

    def excludes(self, p: ProductView) -> bool:
        if self.exclude_brands and (p.brand or "").lower() in {b.lower() for b in self.exclude_brands}:
            return True
        if self.exclude_colors and has_color(p, self.exclude_colors):
            return True
        if self.exclude_materials and has_material(p, self.exclude_materials):
            return True
        if self.child_age is not None and (least := minimum_age(p)) is not None and least > self.child_age + 1:
            return True
        if self.exclude_audiences and any(AUDIENCE_LABELS[a].search(f"{p.category} {p.title}")
                                          for a in self.exclude_audiences):
            return True
        return bool(self.exclude_terms) and _has_term(p, self.exclude_terms)


def is_of_type(p: ProductView, product_type: str) -> bool:
    """In the product's category path, or a word of its title: an overcoat is no "coat" by its title."""
    t = product_type.lower()
    return (singular(p.category_leaf) == t or t in p.category.lower()
            or re.search(rf"\b{re.escape(t)}(?:e?s)?\b", p.title.lower()) is not None)


def _values(p: ProductView, keys: Sequence[str]) -> set[str]:
    have: set[str] = set()
    for key in keys:
        value = p.attributes.get(key)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                have.add(str(v).lower())
    return have


def _has_value(p: ProductView, keys: Sequence[str], wanted: Sequence[str], also_title: bool) -> bool:
    have = _values(p, keys)
    wanted_l = [w.lower() for w in wanted]
    if any(w in have or any(w in h.split() for h in have) for w in wanted_l):
        return True
    return also_title and any(re.search(rf"\b{re.escape(w)}\b", p.title.lower()) for w in wanted_l)


def has_color(p: ProductView, wanted: Sequence[str]) -> bool:
    return _has_value(p, ("color", "colour"), wanted, also_title=True)


def has_size(p: ProductView, wanted: Sequence[str]) -> bool:
    return _has_value(p, ("size", "sizes"), wanted, also_title=False)


# What shoppers call attribute values that catalogs name otherwise: "only wireless ones" lifts the
# bluetooth ones; "i hate cables" rules out the wired ones (a cable asked for is no wish for wired things).
WANTED_ALIASES = {"wireless": ("bluetooth",)}
RULED_OUT_ALIASES = {"cable": ("wired",), "cord": ("wired",), "corded": ("wired",)}
# Fibres sold under their own names that are wool all the same: "no wool, it makes me itch" rules them out.
MATERIAL_KINDS = {"wool": ("mohair", "cashmere", "merino", "alpaca", "angora", "lambswool")}


def has_material(p: ProductView, wanted: Sequence[str]) -> bool:
    """The material in its attributes or title; an imitation is not the real thing ("vegan leather" is no
    "leather"), though "merino wool" and "mohair" are "wool"."""
    texts = [*_values(p, ("material",)), p.title.lower()]
    for w in {k for w in wanted for k in (w.lower(), *MATERIAL_KINDS.get(w.lower(), ()))}:
        for text in texts:
            for m in re.finditer(rf"\b{re.escape(w)}\b", text):
                before = text[:m.start()].split()[-1:]
                if not (before and before[0] in IMITATION):
                    return True
    return False


def has_attributes(p: ProductView, wanted: Sequence[tuple[str, Any]]) -> bool:
    """Each wanted value is held by one of the attributes it was found under ("32gb" may be ram or
    storage); a true flag by its attribute."""
    groups: dict[Any, set[str]] = {}
    for key, value in wanted:
        groups.setdefault(("flag", key) if value is True else value, set()).add(key)
    for value, keys in groups.items():
        held = [h for k in keys for h in _as_list(p.attributes.get(k))]
        if not any(h is True if isinstance(value, tuple) else not isinstance(h, bool)
                   and isinstance(h, (str, int, float)) and attribute_key(str(h)) == value for h in held):
            return False
    return True


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def attribute_key(text: str) -> str:
    """"32 GB", "32gb" and "32-GB" compare equal."""
    return re.sub(r"[\s_-]+", "", text.lower())


@dataclass
class AttributeLexicon:
    """Attribute values of the catalog that a query can name, beyond colour, size and material:
    "32gb", "ipx7", "cordless", "soft white"; true flags by their name ("noise cancelling")."""

    values: dict[str, set[tuple[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, views: Sequence[ProductView]) -> "AttributeLexicon":
        lex = cls()
        for v in views:
            for key, value in v.attributes.items():
                if key in LEXICON_SKIPS:
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if item is True:
                        lex.values.setdefault(attribute_key(key), set()).add((key, True))
                    elif isinstance(item, str) and _nameable(item):
                        lex.values.setdefault(attribute_key(item), set()).add((key, attribute_key(item)))
                    if isinstance(item, (int, float, str)) and not isinstance(item, bool) and _number(item):
                        # "length_ft": 50 is "50 ft" / "50 feet"; "voltage": 18 is "18v"; "tog": "13.5" "13.5 tog"
                        for unit in _units(key):
                            lex.values.setdefault(attribute_key(f"{item}{unit}"), set()).add((key, attribute_key(str(item))))
        return lex

    def find(self, text: str) -> tuple[tuple[str, Any], ...]:
        words = LEXICON_TOKEN.findall(text.lower())
        found: dict[tuple[str, Any], None] = {}
        for n in (3, 2, 1):
            for i in range(len(words) - n + 1):
                said = "".join(words[i:i + n])
                for name in (said, *WANTED_ALIASES.get(said, ())):
                    for pair in sorted(self.values.get(name, ()), key=str):
                        found[pair] = None
        return tuple(found)


def _nameable(value: str) -> bool:
    """A value a shopper could name unambiguously: not a bare number, not a common word."""
    key = attribute_key(value)
    mixed = any(ch.isdigit() for ch in key) and any(ch.isalpha() for ch in key)  # "4k"
    return ((len(key) >= 3 or mixed) and any(ch.isalpha() for ch in key) and value.lower() not in NOT_EXCLUDABLE
            and value.lower() not in COMMON_VALUES)


LEXICON_TOKEN = re.compile(r"\d+(?:[./]\d+)?|[a-z]+")  # keeps "13.5" and "1/2" whole
UNIT_WORDS = {"ft": ("ft", "feet", "foot"), "in": ("in", "inch", "inches"), "lb": ("lb", "lbs", "pound", "pounds"),
              "oz": ("oz", "ounce", "ounces"), "cc": ("cc",), "db": ("db",), "voltage": ("v", "volt", "volts"),
              "wattage": ("w", "watt", "watts"), "lumens": ("lm", "lumens"), "gal": ("gal", "gallon", "gallons")}


def _units(key: str) -> tuple[str, ...]:
    """The words a number of this attribute is said with: its unit suffix ("length_ft"), a known unit
    name ("voltage"), or the key itself ("tog")."""
    last = key.lower().split("_")[-1]
    return UNIT_WORDS.get(last, ()) + UNIT_WORDS.get(key.lower(), ()) + (key.lower().replace("_", " "),)


def _number(value: Any) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _has_term(p: ProductView, terms: Sequence[str]) -> bool:
    """A title word, a true attribute ("hood": true) or an attribute value ("gas", "wood" for "wooden")."""
    words = {singular(w) for w in tokens(p.title)} | attribute_words(p)
    return any(v in words for t in terms for v in _stems(t))


def attribute_words(p: ProductView) -> set[str]:
    words: set[str] = set()
    for key, value in p.attributes.items():
        values = value if isinstance(value, list) else [value]
        if any(v is True for v in values):
            words.add(singular(key.replace("_", " ")))
        words |= {singular(str(v).lower()) for v in values if isinstance(v, str)}
    return words


def _stems(word: str) -> set[str]:
    """A word and its plain forms: "wooden" → wood, "boots" → boot, "cables" → wired (RULED_OUT_ALIASES)."""
    w = singular(word)
    return {word, w, *RULED_OUT_ALIASES.get(w, ())} | ({w[:-2]} if w.endswith("en") and len(w) > 5 else set())


@dataclass(frozen=True)
class ParsedQuery:
    """What a query states (constraints) and the text left to match on (for each list)."""

    constraints: Constraints
    words: list[str]  # lexical terms, typos snapped to catalog words
    dense_text: str  # the query without prices and negated words, typos corrected
    # Materials stated as the kind of product wanted ("a cast iron pan", "linen sheets"), not as context.
    material_modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class NeedMatch:
    category: str
    affinity: float
    top_categories: list[str]

    @property
    def confident(self) -> bool:
        return self.affinity >= NEED_THRESHOLD


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

    def __init__(self, settings: Settings, encode: Encoder | None = None, weights: Weights | None = None) -> None:
        self.settings = settings
        self._encode = encode
        folder = settings.data_dir / "search"
        # The served encoder is named, so switching AISLE_ENCODER_PRECISION re-embeds the catalog once.
        self.dense = DenseIndex(folder, encoder_id=None if encode else f"minilm-l6-v2 {settings.encoder_precision}")
        self.lexical = LexicalIndex(folder)
        self.views: dict[int, ProductView] = {}
        self.by_sku: dict[str, ProductView] = {}
        self.models: dict[str, list[ProductView]] = {}  # model_name → its variants, by sku
        self.tables = search_tables()
        self.type_heads = head_nouns(self.tables)
        self.vocabulary: dict[str, list[str]] = {}
        self.known_words: set[str] = set()
        self.attribute_words: set[str] = set()
        self.attribute_lexicon = AttributeLexicon()
        self.weights = weights or Weights()
        self._signature: tuple | None = None
        self._checked_at = -math.inf
        self._known_types: dict[str, bool] = {}  # product type → whether some product is of it
        self._sold_types: tuple[list[str], np.ndarray] | None = None  # names of the types sold, their vectors
        self._type_sizes: dict[str, set[str]] = {}  # product type → the sizes its products come in
        self._lock = threading.Lock()
        self.dense.load()

    @property
    def encode(self) -> Encoder:
        if self._encode is None:
            from text_tools.encoder import encode

            self._encode = encode
        return self._encode

    def _refresh_if_due(self) -> None:
        """Every query used to ask the database whether the catalog changed; once a second is enough."""
        if time.monotonic() - self._checked_at >= REFRESH_CHECK_S:
            self.refresh()

    def refresh(self) -> bool:
        """Bring views and indexes up to date with the products table; True when something changed."""
        with self._lock:
            self._checked_at = time.monotonic()
            signature = products_signature(self.settings.database_url)
            if signature is None or signature == self._signature:
                return False
            with session_factory(self.settings.database_url)() as session:
                views = [view_of(p) for p in session.scalars(select(Product))]
            changed_dense = self.dense.sync(views, self.encode)
            changed_lexical = self.lexical.sync(views)
            self.views = {v.id: v for v in views}
            self.by_sku = {v.sku: v for v in views}
            self.models = {}
            for v in sorted(views, key=lambda v: v.sku):
                self.models.setdefault(model_name(v), []).append(v)
            # The catalog's own spelling wins over a static synonym ("steel" stays steel, "gray" gray).
            self.tables = tables_from_products((v.brand, v.category, v.attributes) for v in views).merged(
                search_tables())
            self.type_heads = head_nouns(self.tables)
            self.vocabulary = _vocabulary(views)
            self.known_words = {w for words in self.vocabulary.values() for w in words}
            self.attribute_lexicon = AttributeLexicon.of(views)
            self.attribute_words = {w for v in views for w in attribute_words(v)}
            self._known_types, self._type_sizes, self._sold_types = {}, {}, None
            self._signature = signature
            log.info("search index: %d products (%d dense, %d lexical updates)",
                     len(views), changed_dense, changed_lexical)
            return True

    def parse(self, query: str) -> tuple[Constraints, list[str]]:
        """Constraints stated in the query, and the words left for lexical matching."""
        self._refresh_if_due()  # the catalog's own words (brands, types, values) are read from it
        parsed = self.understand(query)
        return parsed.constraints, parsed.words

    def understand(self, query: str) -> ParsedQuery:
        # Typos are corrected first, so "hedphones undr 50 dollars" states a type and a price.
        query = WORD.sub(lambda m: self._correct(m.group(0).lower()) if self._correct(m.group(0).lower()) !=
                         m.group(0).lower() else m.group(0), query)
        # Extracted here on purpose, not taken from the NLU: the query is often not the current message (a
        # refinement re-runs an earlier query, compound messages are split) and has just been typo-corrected.
        found = extract(query, self.tables)
        # A product type the catalog calls otherwise is renamed ("jumpers" → "sweater", "rucksack" →
        # "backpack"), so the dense and BM25 halves search for what the products are called; not the
        # first half of a compound ("jumper dress").
        heads = sought_types(query, found)
        renamed = [(e["start"], e["end"], str(e["value"])) for e in found
                   if e["entity"] == "product_type" and str(e["value"]) in heads
                   and singular(query[e["start"]:e["end"]]) != str(e["value"]).lower()]
        if renamed:
            for start, end, value in sorted(renamed, reverse=True):
                query = query[:start] + value + query[end:]
            found = extract(query, self.tables)
        values: dict[str, list[Any]] = {}
        excluded: dict[str, list[Any]] = {}
        blank = [(e["start"], e["end"]) for e in found if e["entity"] in ("price_min", "price_max")]
        negated = negated_spans(query)
        for ent in found:
            target = excluded if ent.get("role") == "excluded" else values
            target.setdefault(ent["entity"], []).append(ent["value"])
            size = SIZE_BEFORE.search(query[:ent["start"]]) if ent["entity"] == "product_type" else None
            if size and ent.get("role") != "excluded" and any(
                    size.group(1).lower() in value.split() for value in self._sizes_of(str(ent["value"]))):
                # "a large dog bed" is a size when dog beds come in "large"; "a large backpack" a description
                values.setdefault("size", []).append(size.group(1).lower())
        excluded_words = {t for v in excluded.values() for t in tokens(str(v))}
        sought = {singular(t) for t in sought_types(query, found)}
        terms = []
        # A negated kind with a modifier before it ("no puffer jackets", "not floor lamps") excludes that
        # sort of it, not the whole kind; so does a negated kind that is the kind asked for.
        negated_kinds = [ent for ent in found
                         if ent["entity"] == "product_type" and ent.get("role") == "excluded"]
        subtypes = [ent for ent in negated_kinds if any(
            s <= ent["start"] < e and self._modified(query[s:ent["start"]]) for s, e in negated)]
        for s, e in negated:
            # One negated word may be any catalog word ("without a reel"); in a phrase only attribute
            # values and flags count ("without a wooden handle" excludes wood, not every handle). A
            # negated kind that is also the kind asked for excludes its modifiers ("lamps, but not
            # floor lamps" excludes floor lamps, not lamps).
            kind = {w for ent in negated_kinds
                    if s <= ent["start"] < e and (singular(str(ent["value"])) in sought or ent in subtypes)
                    for w in tokens(query[ent["start"]:ent["end"]])}
            words = [w for w in tokens(query[s:e])
                     if w not in NOT_EXCLUDABLE and w not in excluded_words | kind]
            usable = self.known_words if len(words) == 1 or kind else self.attribute_words
            terms += [singular(w) for w in words if any(v in usable for v in _stems(w))]
        constraints = Constraints(
            price_min=min(values["price_min"]) if "price_min" in values else None,
            price_max=max(values["price_max"]) if "price_max" in values else None,
            colors=_unique(values.get("color", [])),
            sizes=_unique(str(v) for v in values.get("size", [])),
            materials=_unique(values.get("material", [])),
            brands=_unique(values.get("brand", [])),
            category=self._known_type(sought_types(query, found)),
            in_stock=bool(IN_STOCK.search(query)),
            exclude_brands=_unique(excluded.get("brand", [])),
            exclude_colors=_unique(excluded.get("color", [])),
            exclude_materials=_unique(excluded.get("material", [])),
            exclude_terms=_unique(terms + [
                singular(str(ent["value"])) for ent in negated_kinds
                if singular(str(ent["value"])) not in sought and ent not in subtypes]),
            **audience(query),
            child_age=child_age(query),
        )
        text = blank_spans(query, blank + negated)
        raw = tokens(text)
        constraints = dataclasses.replace(constraints, attrs=self.attribute_lexicon.find(text))
        words = [w for w in raw if w not in STOPWORDS and not w.isdigit()]
        return ParsedQuery(constraints, words, " ".join(text.split()),
                           material_modifiers(query, found, self.type_heads))

    def _modified(self, before: str) -> bool:
        """Whether the words a negation puts before a kind of product name a sort of it ("puffer")."""
        return any(w not in NOT_EXCLUDABLE and w in self.known_words for w in tokens(before))

    def without_prices(self, query: str) -> str:
        """The query with the prices it states taken out ("kettles under 40" → "kettles"), for a
        refinement that replaces them ("something pricier")."""
        prices = [(e["start"], e["end"]) for e in extract(query, self.tables)
                  if e["entity"] in ("price_min", "price_max")]
        return " ".join(blank_spans(query, prices).split())

    def _known_type(self, types: Sequence[str]) -> str | None:
        """A product type is a constraint only when the catalog has products of that type; a type the
        catalog does not name ("bluetooth speaker") falls back to its head noun ("speaker")."""
        for t in types:
            for candidate in (t, t.split()[-1]):
                if candidate not in self._known_types:  # a scan of the whole catalog: once per type
                    self._known_types[candidate] = any(is_of_type(v, candidate) for v in self.views.values())
                if self._known_types[candidate]:
                    return candidate
        return None

    def unsold_kind(self, query: str) -> str | None:
        """The kind of product a short request asks for ("do you sell lawn mowers?" → "lawn mowers") when
        the store sells nothing like it (see ``unknown_kind``)."""
        asked = self.unknown_kind(query)
        return asked[0] if asked and asked[1] < NOT_SOLD_BELOW else None

    def unknown_kind(self, query: str) -> tuple[str, float] | None:
        """The words of a short request for a kind of product the catalog has no word for, and their
        similarity to the nearest product type sold: at most three words name the product and the last
        one is no catalog word (nor a typo of one). Needs ("for a hangover"), descriptions and known types
        are never such a request (None)."""
        self._refresh_if_due()
        found = extract(query, self.tables)
        if not self.views or self._known_type(sought_types(query, found)):
            return None
        values = [(e["start"], e["end"]) for e in found if e["entity"] != "product_type"]
        text = NUMBER_AND_UNIT.sub(" ", blank_spans(query, values + negated_spans(query)))
        words = [w for w in tokens(text) if w not in STOPWORDS and w not in REQUEST_WORDS]
        if not 1 <= len(words) <= 3 or CONTEXT_BEFORE_TYPE & set(tokens(SEEKING_FOR.sub(" ", query))):
            return None
        head = self._correct(words[-1])
        names, vectors = self._sold_type_vectors()
        type_words = {w for name in names for w in tokens(name)}
        if (not names or head in self.known_words or singular(head) in self.known_words
                or any(head in terms for terms in self.tables.terms.values())
                or self._closest_catalog_word(head)
                or any(singular(w) in type_words or w in type_words for w in words)):
            return None  # a catalog word, maybe a typo of one, or part of a type it sells ("sump pupm")
        asked = " ".join(words[-2:])
        vector = self.encode([asked])[0]
        return asked, float(np.max(vectors @ (vector / np.linalg.norm(vector))))

    def _sold_type_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every name of a product type the catalog has products of (its leaves, their synonyms), embedded
        once per catalog version."""
        if self._sold_types is None:
            names = sorted(surface for surface, value in self.tables.terms.get("product_type", {}).items()
                           if self._known_type([value]))
            vectors = self.encode(names) if names else np.zeros((0, 1), dtype=np.float32)
            if len(names):
                vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            self._sold_types = (names, vectors)
        return self._sold_types

    def _sizes_of(self, product_type: str) -> set[str]:
        """The size values the catalog's products of a type come in (a scan of the catalog: once per type)."""
        if product_type not in self._type_sizes:
            self._type_sizes[product_type] = {size for v in self.views.values() if is_of_type(v, product_type)
                                              for size in _values(v, ("size", "sizes"))}
        return self._type_sizes[product_type]

    def _correct(self, word: str) -> str:
        """Typo tolerance: a word that is neither a catalog word nor an English word the encoder knows
        snaps to the closest catalog word."""
        if (len(word) < 4 or word in self.known_words or singular(word) in self.known_words
                or word in english_words() or any(word in terms for terms in self.tables.terms.values())):
            return word  # a catalog word (or its plural), an English word, or a synonym ("comforter")
        return self._closest_catalog_word(word) or word

    def _closest_catalog_word(self, word: str) -> str | None:
        """The catalog word this one may be a typo of (same first letter, close spelling)."""
        candidates = [w for w in self.vocabulary.get(word[0], ()) if abs(len(w) - len(word)) <= 2]
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=TYPO_CUTOFF)
        return close[0] if close else None

    def search(self, query: str, limit: int = 10, offset: int = 0, context: Constraints | None = None,
               mode: str = "hybrid", newest: Sequence[str] = (), one_per_model: bool = False,
               within: float | None = None) -> SearchResponse:
        """``mode`` "dense" or "lexical" ranks by one list alone, with no filters (the benchmark's
        baselines); "hybrid" is what shoppers get. ``newest``: the constraints the shopper has just
        stated; when nothing meets them all, older ones are dropped first. ``one_per_model``: each
        model's best-ranked variant only, with all of the model's variants as ``variants`` (a shopper's
        page is not three colours of one model; the choices are on its card). ``within``: only the hits
        scoring at most this far below the best one (``SHOWN_WITHIN`` for a shopper's page)."""
        self._refresh_if_due()
        if not self.views:
            return SearchResponse([], context or Constraints())
        parsed = self.understand(query)
        k = min(len(self.views), max(MIN_CANDIDATES, 5 * (limit + offset)))
        if mode == "dense":
            ranked = self.dense.search(self.encode([query])[0], k) if query.strip() else []
            return self._page(ranked, Constraints(), [], limit, offset)
        if mode == "lexical":
            words = [w for w in tokens(query) if w not in STOPWORDS]
            return self._page(self.lexical.search(words, k), Constraints(), [], limit, offset)
        dense = self.dense.search(self.encode([parsed.dense_text])[0], k) if parsed.dense_text.strip() else []
        scores = self._scores(dense, self.lexical.search(parsed.words, k))
        if not scores:  # no query text at all: browse by rating within the constraints
            scores = {i: (v.rating or 0) / 100 for i, v in self.views.items()}
        hard, soft = self._hard_and_soft(parsed.constraints, dense, parsed.material_modifiers)
        # The conversation's constraints (already updated by the latest message) are all hard.
        constraints = hard.merged(context) if context else hard
        for i in scores:
            scores[i] += self.weights.soft * _soft_matches(self.views[i], soft)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        hits, current, relaxed = self._filter_relaxing(ranked, constraints, newest)
        if within is not None and hits:
            hits = [(i, score) for i, score in hits if score >= hits[0][1] - within]
        if one_per_model:
            hits = self._one_per_model(hits, offset + limit)
        top = [self.views[i] for i, _ in hits[:max(limit, 1)]]
        # A stated value that filters nothing is "ignored" for the shopper when the top results lack it.
        relaxed += [name for name in soft.active()
                    if name != "category" and not any(_only(soft, name).allows(v) for v in top)]
        response = self._page(hits, current, relaxed, limit, offset)
        if one_per_model:
            for item in response.items:
                item["variants"] = self.variants(item["sku"])
        return response

    def _one_per_model(self, hits: list[tuple[int, float]], window: int) -> list[tuple[int, float]]:
        """Each model's best-ranked variant, in rank order. Folding variants away must not pull a weaker
        kind of product onto the page: only the categories among the first ``window`` hits before
        folding stay (a shop with three wallet models shows three wallets, not two phone cases more)."""
        kinds = {self.views[i].category for i, _ in hits[:window]}
        best: dict[str, tuple[int, float]] = {}
        for i, score in hits:
            if self.views[i].category in kinds:
                best.setdefault(model_name(self.views[i]), (i, score))
        return list(best.values())  # dicts keep insertion order: still ranked

    def model_variants(self, sku: str) -> list[ProductView]:
        """Every variant of this product's model (itself included), from the current catalog."""
        self._refresh_if_due()
        source = self.by_sku.get(sku)
        return self.models.get(model_name(source), []) if source else []

    def variants(self, sku: str) -> list[dict[str, Any]]:
        """The choices of this product's model (itself included), labelled by what tells them apart
        ("Black", "Size M"); empty when the model has no other variant."""
        siblings = self.model_variants(sku)
        if len(siblings) < 2:
            return []
        return [dict(v.as_result(0.0), label=label) for v, label in zip(siblings, variant_labels(siblings))]

    def _page(self, hits: list[tuple[int, float]], constraints: Constraints, relaxed: list[str],
              limit: int, offset: int) -> SearchResponse:
        items = [self.views[i].as_result(s) for i, s in hits[offset:offset + limit] if i in self.views]
        return SearchResponse(items, constraints, relaxed, len(hits))

    def _scores(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> dict[int, float]:
        return combine_scores([h for h in dense if h[0] in self.views], [h for h in lexical if h[0] in self.views],
                              lambda i: self.views[i].category, self.weights)

    def _hard_and_soft(self, stated: Constraints, dense: list[tuple[int, float]],
                       modifiers: Sequence[str] = ()) -> tuple[Constraints, Constraints]:
        """Split the query's constraints: prices, "in stock" and exclusions are always hard; a brand,
        colour, size or sought product type is hard when one of the products the query is most about
        (its dense top ``COMPATIBLE_TOP``) has it, and so is a material written right before the product
        type ("cast iron pan"). Other materials and attributes only lift products that have them: in free
        text they are too often context, not a wish ("staring down at it", "6 ft" of a ladder or a cord)."""
        top = [self.views[i] for i, _ in dense[:COMPATIBLE_TOP] if i in self.views]
        hard, soft = stated, Constraints()
        for name in ("colors", "sizes", "materials", "brands", "attrs", "category"):
            if not getattr(stated, name):
                continue
            alone = _only(stated, name)
            stated_as_kind = name == "materials" and set(stated.materials) <= set(modifiers)
            if (name in SOFT_ONLY and not stated_as_kind) or not any(alone.allows(v) for v in top):
                hard = hard.without(name)
                soft = dataclasses.replace(soft, **{name: getattr(stated, name)})
        return hard, soft

    def _filter_relaxing(self, ranked: list[tuple[int, float]], constraints: Constraints, newest: Sequence[str] = ()
                         ) -> tuple[list[tuple[int, float]], Constraints, list[str]]:
        """The ranked hits that meet the constraints; while there are none, drop one constraint at a
        time in RELAX_ORDER, the ``newest`` ones last. Returns the hits, the constraints that held, and
        what was dropped."""
        relaxed: list[str] = []
        # The kind of product being talked about goes last even then: "anything under 150?" about chairs
        # must not turn into anything at all under 150.
        order = sorted(RELAX_ORDER, key=lambda c: (c in KINDS, c in newest))
        while True:
            hits = [(i, s) for i, s in ranked if i in self.views and constraints.allows(self.views[i])]
            remaining = [c for c in order if c in constraints.active()]
            if hits or not remaining:
                return hits, constraints, relaxed
            relaxed.append(remaining[0])
            constraints = constraints.without(remaining[0])

    def need(self, text: str) -> NeedMatch | None:
        """The category a message is most about, by dense similarity alone, with its affinity: how
        strongly a message that names no product ("my cat keeps scratching the sofa") points at one
        kind of product. The caller decides, with ``NEED_THRESHOLD``, whether that is enough."""
        self._refresh_if_due()
        if not self.views or not text.strip():
            return None
        return self.need_of_vector(self.encode([text])[0])

    def need_of_vector(self, vector: np.ndarray) -> NeedMatch | None:
        dense = [h for h in self.dense.search(vector, min(len(self.views), MIN_CANDIDATES)) if h[0] in self.views]
        affinity = category_affinity(dense, lambda i: self.views[i].category)
        if not affinity:
            return None
        ranked = sorted(affinity.items(), key=lambda kv: -kv[1])
        return NeedMatch(ranked[0][0], round(ranked[0][1], 4), [c for c, _ in ranked[:3]])

    def similar(self, sku: str, limit: int = 5, context: Constraints | None = None) -> SearchResponse:
        """Products closest to this one in embedding space, other models first (not its own variants)."""
        self._refresh_if_due()
        source = self.by_sku.get(sku)
        constraints = context or Constraints()
        if source is None:
            return SearchResponse([], constraints)
        # The product's own vector from the index: no encoder pass for a product embedded already.
        vector = self.dense.vector(source.id)
        if vector is None:
            vector = self.encode([source.embedding_text()])[0]
        neighbours = self.dense.search(vector, min(len(self.views), 200))
        same_model = model_name(source)
        ranked = [(i, s) for i, s in neighbours
                  if i in self.views and i != source.id and model_name(self.views[i]) != same_model]
        # The same kind of product first ("similar" to a kettle means other kettles), then the rest.
        ranked.sort(key=lambda hit: self.views[hit[0]].category != source.category)
        hits, current, relaxed = self._filter_relaxing(ranked, constraints)
        return SearchResponse([self.views[i].as_result(s) for i, s in hits[:limit]], current, relaxed, len(hits))


def combine_scores(dense: list[tuple[int, float]], lexical: list[tuple[int, float]],
                   category_of: Callable[[int], str], weights: Weights) -> dict[int, float]:
    """Dense cosine + weighted max-normalised BM25 + weighted category affinity, per candidate.
    A lexical-only candidate gets the lowest dense similarity seen."""
    floor = min((s for _, s in dense), default=0.0)
    scores = dict(dense)
    best_lex = max((s for _, s in lexical), default=0.0)
    for i, s in lexical:
        scores[i] = scores.get(i, floor) + (weights.lexical * s / best_lex if best_lex > 0 else 0.0)
    if weights.category and dense:
        affinity = category_affinity(dense, category_of)
        for i in scores:
            scores[i] += weights.category * affinity.get(category_of(i), floor)
    return scores


def category_affinity(dense: list[tuple[int, float]], category_of: Callable[[int], str]) -> dict[str, float]:
    """How much the query is about each category: the mean of its ``CATEGORY_TOP`` best similarities.
    Products of the category the query is about rise together, so one well-described product does not
    leave its siblings below unrelated look-alikes."""
    best: dict[str, list[float]] = {}
    for i, s in dense:  # already sorted by similarity
        got = best.setdefault(category_of(i), [])
        if len(got) < CATEGORY_TOP:
            got.append(s)
    return {c: float(np.mean(s)) for c, s in best.items()}


def head_nouns(tables: LookupTables) -> set[str]:
    """The last word of every product type the tables know ("pan" of "frying pan")."""
    return {singular(t.split()[-1]) for t in tables.terms.get("product_type", {})}


CHILD_AGE = re.compile(r"\b(\d{1,2})[- ]?(?:years?|yrs?)[- ]?old\b|\b(\d{1,2}) ?yo\b", re.IGNORECASE)
LABELLED_AGE = re.compile(r"^\s*(\d{1,2})")  # "3+", "8-12", "10 years and up"


def child_age(query: str) -> int | None:
    """The age of the child a message shops for ("for my 7 year old", "a 4yo"), when it names one."""
    found = CHILD_AGE.search(query)
    age = int(found.group(1) or found.group(2)) if found else None
    return age if age is not None and age < 18 else None


def minimum_age(p: ProductView) -> int | None:
    """The youngest age a product is labelled for ("age": "8+"), or None when it has no such label."""
    found = LABELLED_AGE.match(str(p.attributes.get("age") or ""))
    return int(found.group(1)) if found else None


def audience(query: str) -> dict[str, tuple[str, ...]]:
    """Who the shopper says it is for: that audience, and the other one excluded (only when one is named)."""
    asked = [a for a, pattern in AUDIENCE_ASKED.items() if pattern.search(query)]
    if len(asked) != 1:
        return {}
    others = tuple(a for a in AUDIENCE_LABELS if a not in asked)
    return {"audiences": tuple(asked), "exclude_audiences": others}


def material_modifiers(query: str, found: Sequence[dict[str, Any]], type_heads: set[str]) -> tuple[str, ...]:
    """Materials written right before the product type, its head noun or "ones", at most a colour or
    another material between ("cast iron pan", "a wool blue rug", "cast iron ones"): the kind asked for."""
    spans = sorted((e for e in found if e.get("role") != "excluded"), key=lambda e: e["start"])
    out = []
    for i, ent in enumerate(spans):
        if ent["entity"] != "material":
            continue
        end = ent["end"]
        for nxt in [*spans[i + 1:], None]:
            gap = query[end:nxt["start"] if nxt else len(query)]
            words = tokens(gap)
            # "cast iron pan" ("pan" heads "frying pan"); "frying pans, cast iron ones"
            if words and (singular(words[0]) in type_heads or words[0] in ("one", "ones")):
                out.append(str(ent["value"]))
                break
            if nxt is None or words or nxt["entity"] not in ("material", "color", "product_type"):
                break
            if nxt["entity"] == "product_type":
                out.append(str(ent["value"]))
                break
            end = nxt["end"]
    return tuple(dict.fromkeys(out))


def sought_types(query: str, found: Sequence[dict[str, Any]]) -> list[str]:
    """The product types a query asks for: those not named as the context of a need, nor as the first
    half of a compound whose head is another type ("jumper dress" is a dress)."""
    types = [e for e in found if e["entity"] == "product_type"]
    return [str(e["value"]) for e in types if e.get("role") != "excluded"
            and not CONTEXT_BEFORE_TYPE & set(tokens(SEEKING_FOR.sub(" ", query[:e["start"]]))[-2:])
            and not any(0 <= o["start"] - e["end"] <= 1 for o in types)]


def _only(c: Constraints, name: str) -> Constraints:
    return dataclasses.replace(Constraints(), **{name: getattr(c, name)})


def _soft_matches(p: ProductView, soft: Constraints) -> int:
    return sum(bool(getattr(soft, n)) and _only(soft, n).allows(p)
               for n in ("colors", "sizes", "materials", "brands", "attrs", "category"))


def _unique(values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def model_name(view: ProductView) -> str:
    """Variants of one model: the group key a shop export gave them (handle, parent, item group), else
    everything before the comma in their titles (the demo catalog's colour and size variants)."""
    return f"group:{view.group_key}" if view.group_key else view.title.split(",")[0].strip().lower()


def variant_labels(variants: Sequence[ProductView]) -> list[str]:
    """What tells variants of one model apart: the single-valued attributes whose values differ
    ("Black", "Size M", "Black / M"); else what follows the comma in their titles; else the sku."""
    def single(v: ProductView, key: str) -> str | None:
        value = v.attributes.get(key)
        return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None

    keys = sorted({k for v in variants for k in v.attributes if k not in UNSEARCHED_ATTRIBUTES})
    differing = [k for k in keys if len({single(v, k) for v in variants}) > 1]
    labels = []
    for v in variants:
        parts = [value for k in differing if (value := single(v, k))]
        if differing == ["size"] and parts:
            parts = [f"Size {parts[0]}"]
        label = " / ".join(p[:1].upper() + p[1:] for p in parts)
        labels.append(label or v.title.partition(",")[2].strip() or v.sku)
    return labels


def _vocabulary(views: Sequence[ProductView]) -> dict[str, list[str]]:
    words: set[str] = set()
    for v in views:
        for text in v.lexical_fields().values():
            words.update(tokens(text))
    by_letter: dict[str, list[str]] = {}
    for w in sorted(words):
        by_letter.setdefault(w[0], []).append(w)
    return by_letter
