"""``python -m tests.conversations``: multi-turn conversation tests through the real running stack.

A YAML file (default ``tests/unseen/conversations.yml``) lists conversations; each turn says something
and may expect things of the bot's reply::

    conversations:
    - id: neg-brand-headphones
      covers: [negation]
      turns:
      - say: "do you have headphones?"
        expect:
          cards_min: 2
          every_card: {category: ["Electronics > Headphones"]}
      - say: "not from sonora please"
        expect:
          every_card: {category: ["Electronics > Headphones"], brand_not: ["Sonora"]}

Every service is started (``tests.e2e_stack.Stack``) over a scratch data dir with the DEMO catalog
(``catalog/demo/products.jsonl``), its knowledge base and demo orders. Each conversation gets a fresh
sender id and talks to ``POST /api/messages``, the web app's JSON chat API, so the replies are exactly
what a channel sees (``{"messages": [...], "mode": ...}``; product cards are in a message's ``cards``, a
cart in its ``custom`` payload ``{"type": "cart", "items": [...]}``). Every turn runs even after an
earlier one failed. Card predicates are evaluated on the catalog record of each card's sku, never on what
the card itself claims.

Expectation keys (all optional, all must hold) are listed in ``EXPECT_KEYS`` and ``CARD_KEYS`` and
described in the docstrings of the check functions below. The checks are pure: a turn's replies (and the
earlier turns') in, a list of ``Failure`` out, so ``tests/test_conversations.py`` tests them without a
stack.

``python -m tests.conversations [--file F] [--only ID ...]`` starts the stack, runs the set, prints
progress, writes ``reports/conversations.json`` and ``.md`` (``--name`` for another file name) and exits 0 (2 for a
file that is missing or not in the format above).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aisle.config import REPO_ROOT

DEFAULT_FILE = REPO_ROOT / "tests" / "unseen" / "conversations.yml"
DEMO_CATALOG = REPO_ROOT / "catalog" / "demo" / "products.jsonl"
DOMAIN_FILE = REPO_ROOT / "domain.yml"
REPORTS = REPO_ROOT / "reports"
REQUEST_TIMEOUT_S = 60.0
DEFAULT_WORKERS = 1

# The responses that mean the bot did not understand the shopper (or would not help): asking to
# rephrase, the default "lost track", out of scope, and offering a person after not understanding.
# Their texts are read from domain.yml when the checks run.
NOT_UNDERSTOOD_RESPONSES = ("utter_ask_rephrase", "utter_default", "utter_out_of_scope", "utter_offer_human")

CONVERSATION_KEYS = {"id", "covers", "turns"}
TURN_KEYS = {"say", "expect"}
CARD_KEYS = {"category", "brand", "brand_not", "color", "color_not", "size", "material", "material_not",
             "price_min", "price_max", "cheaper_than_turn", "in_stock", "title_has", "title_not"}
CARD_SELECTORS = ("every_card", "some_card", "first_card")
EXPECT_KEYS = {"cards_min", "cards_max", *CARD_SELECTORS, "sorted_by", "cards_differ_from_turn", "mentions",
               "cart", "text_any", "text_all", "text_none", "understood", "mode"}
CART_ENTRY_KEYS = {"product", "title_has", "qty"}
SORT_ORDERS = {"price_asc", "price_desc", "rating_desc"}
MODES = {"waiting", "agent", "bot"}
ATTRIBUTE_NAMES = {"color": ("color", "colour"), "size": ("size", "sizes"), "material": ("material",)}


class FormatError(ValueError):
    """The conversations file is not in the expected format; the message names where."""


# --------------------------------------------------------------------------------------------- format


@dataclass(frozen=True)
class Turn:
    say: str
    expect: dict[str, Any]


@dataclass(frozen=True)
class Conversation:
    id: str
    covers: tuple[str, ...]
    turns: tuple[Turn, ...]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_turn_ref(where: str, key: str, value: Any, turn_no: int) -> None:
    if not _is_int(value) or not 1 <= value <= turn_no:
        raise FormatError(f"{where}: '{key}' must be a turn number from 1 to {turn_no}, got {value!r}")


def _check_product_ref(where: str, key: str, value: Any, turn_no: int) -> None:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value)):
        raise FormatError(f"{where}: '{key}' must be [turn, card position], got {value!r}")
    _check_turn_ref(where, f"{key}[0]", value[0], turn_no)
    if value[1] == 0:
        raise FormatError(f"{where}: '{key}' card positions start at 1 (or -1 for the last), got 0")


def _check_strings(where: str, key: str, value: Any) -> None:
    if not all(isinstance(v, str) and v for v in _as_list(value)) or value == []:
        raise FormatError(f"{where}: '{key}' must be a string or a list of strings, got {value!r}")


def _validate_card_predicates(where: str, key: str, preds: Any, turn_no: int) -> None:
    if not isinstance(preds, dict) or not preds:
        raise FormatError(f"{where}: '{key}' must be a mapping of product predicates, got {preds!r}")
    for name, value in preds.items():
        at = f"{where}, {key}"
        if name not in CARD_KEYS:
            raise FormatError(f"{at}: unknown product predicate '{name}' "
                              f"(known: {', '.join(sorted(CARD_KEYS))})")
        if name in ("price_min", "price_max") and not _is_number(value):
            raise FormatError(f"{at}: '{name}' must be a number, got {value!r}")
        elif name == "cheaper_than_turn":
            _check_turn_ref(at, name, value, turn_no)
        elif name == "in_stock" and not isinstance(value, bool):
            raise FormatError(f"{at}: 'in_stock' must be true or false, got {value!r}")
        elif name not in ("price_min", "price_max", "cheaper_than_turn", "in_stock"):
            _check_strings(at, name, value)


def validate_expect(where: str, expect: Any, turn_no: int) -> None:
    """Raise FormatError for an unknown key or a value of the wrong shape (``where`` names the turn)."""
    if not isinstance(expect, dict):
        raise FormatError(f"{where}: 'expect' must be a mapping, got {expect!r}")
    for key, value in expect.items():
        if key not in EXPECT_KEYS:
            raise FormatError(f"{where}: unknown expectation key '{key}' "
                              f"(known: {', '.join(sorted(EXPECT_KEYS))})")
        if key in ("cards_min", "cards_max"):
            if not _is_int(value) or value < 0:
                raise FormatError(f"{where}: '{key}' must be a whole number ≥ 0, got {value!r}")
        elif key in CARD_SELECTORS:
            _validate_card_predicates(where, key, value, turn_no)
        elif key == "sorted_by":
            if value not in SORT_ORDERS:
                raise FormatError(f"{where}: 'sorted_by' must be one of {', '.join(sorted(SORT_ORDERS))}, "
                                  f"got {value!r}")
        elif key == "cards_differ_from_turn":
            _check_turn_ref(where, key, value, turn_no)
        elif key == "mentions":
            _check_product_ref(where, key, value, turn_no)
        elif key == "cart":
            if not isinstance(value, list):
                raise FormatError(f"{where}: 'cart' must be a list of {{product: [T, P] or SKU, qty: N}} or "
                                  f"{{title_has: \"x\", qty: N}} (an empty list: an empty cart), "
                                  f"got {value!r}")
            for i, entry in enumerate(value, 1):
                at = f"{where}, cart entry {i}"
                if not isinstance(entry, dict):
                    raise FormatError(f"{at}: must be a mapping, got {entry!r}")
                unknown = set(entry) - CART_ENTRY_KEYS
                if unknown:
                    raise FormatError(f"{at}: unknown key '{sorted(unknown)[0]}' "
                                      "(known: product, title_has, qty)")
                if ("product" in entry) == ("title_has" in entry):
                    raise FormatError(f"{at}: give exactly one of 'product' and 'title_has'")
                if isinstance(entry.get("product"), str):
                    if not entry["product"].strip():
                        raise FormatError(f"{at}: 'product' must be a sku or [turn, card position]")
                elif "product" in entry:
                    _check_product_ref(at, "product", entry["product"], turn_no)
                elif not isinstance(entry["title_has"], str) or not entry["title_has"]:
                    raise FormatError(f"{at}: 'title_has' must be a string, got {entry['title_has']!r}")
                if "qty" in entry and (not _is_int(entry["qty"]) or entry["qty"] < 1):
                    raise FormatError(f"{at}: 'qty' must be a whole number ≥ 1, got {entry['qty']!r}")
        elif key in ("text_any", "text_all", "text_none"):
            _check_strings(where, key, value)
        elif key == "understood":
            if not isinstance(value, bool):
                raise FormatError(f"{where}: 'understood' must be true or false, got {value!r}")
        elif key == "mode" and value not in MODES:
            raise FormatError(f"{where}: 'mode' must be one of {', '.join(sorted(MODES))}, got {value!r}")


def parse_conversations(data: Any, source: str = "conversations") -> list[Conversation]:
    """The conversations of a loaded YAML document, every key checked (FormatError names the place)."""
    items = data.get("conversations") if isinstance(data, dict) else None
    if not isinstance(items, list) or set(data) != {"conversations"}:
        raise FormatError(f"{source}: the file must be a mapping with one key, 'conversations', "
                          "holding a list")
    out: list[Conversation] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise FormatError(f"{source}: conversation {n} must be a mapping, got {item!r}")
        cid = item.get("id")
        if not isinstance(cid, (str, int)) or isinstance(cid, bool) or str(cid) == "":
            raise FormatError(f"{source}: conversation {n} has no 'id'")
        cid = str(cid)
        where = f"{source}: conversation '{cid}'"
        if cid in seen:
            raise FormatError(f"{where}: the id is used twice")
        seen.add(cid)
        unknown = set(item) - CONVERSATION_KEYS
        if unknown:
            raise FormatError(f"{where}: unknown key '{sorted(unknown)[0]}' (known: id, covers, turns)")
        covers = item.get("covers") or []
        if not isinstance(covers, list) or not all(isinstance(c, str) for c in covers):
            raise FormatError(f"{where}: 'covers' must be a list of tags, got {covers!r}")
        turns_data = item.get("turns")
        if not isinstance(turns_data, list) or not turns_data:
            raise FormatError(f"{where}: 'turns' must be a non-empty list")
        turns = []
        for t, turn in enumerate(turns_data, 1):
            at = f"{where}, turn {t}"
            if not isinstance(turn, dict):
                raise FormatError(f"{at}: must be a mapping with 'say' and 'expect', got {turn!r}")
            unknown = set(turn) - TURN_KEYS
            if unknown:
                raise FormatError(f"{at}: unknown key '{sorted(unknown)[0]}' (known: say, expect)")
            say = turn.get("say")
            if not isinstance(say, (str, int, float)) or isinstance(say, bool) or not str(say).strip():
                raise FormatError(f"{at}: 'say' must be a non-empty string")
            expect = turn.get("expect") or {}
            validate_expect(at, expect, t)
            turns.append(Turn(str(say), dict(expect)))
        out.append(Conversation(cid, tuple(covers), tuple(turns)))
    return out


def load_conversations(path: Path) -> list[Conversation]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise FormatError(f"{path}: not valid YAML: {exc}") from None
    return parse_conversations(data, str(path))


def load_catalog(path: Path = DEMO_CATALOG) -> dict[str, dict[str, Any]]:
    lines = Path(path).read_text().splitlines()
    return {p["sku"]: p for p in (json.loads(line) for line in lines if line.strip())}


def not_understood_texts(domain_file: Path = DOMAIN_FILE) -> tuple[str, ...]:
    """The texts of NOT_UNDERSTOOD_RESPONSES, read from domain.yml (every variation)."""
    responses = (yaml.safe_load(domain_file.read_text()) or {}).get("responses") or {}
    missing = [name for name in NOT_UNDERSTOOD_RESPONSES if name not in responses]
    if missing:
        raise RuntimeError(f"{domain_file} has no response {', '.join(missing)}: "
                           "update NOT_UNDERSTOOD_RESPONSES")
    return tuple(v["text"] for name in NOT_UNDERSTOOD_RESPONSES for v in responses[name] if v.get("text"))


# --------------------------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """What came back for one turn of ``POST /api/messages``."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    mode: str | None = None
    status: int = 200
    error: str | None = None  # a transport error or a non-200 answer
    seconds: float = 0.0

    @property
    def texts(self) -> list[str]:
        return [str(m.get("text") or "") for m in self.messages if m.get("text")]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def cards(self) -> list[dict[str, Any]]:
        """Every product card of the turn, in order (a message's ``cards`` or ``product_cards`` payload)."""
        out: list[dict[str, Any]] = []
        for m in self.messages:
            cards = m.get("cards")
            custom = m.get("custom") if isinstance(m.get("custom"), dict) else {}
            if not cards and custom.get("type") == "product_cards":
                cards = custom.get("products")
            out.extend(c for c in cards or [] if isinstance(c, dict))
        return out

    @property
    def skus(self) -> list[str]:
        return [str(c.get("sku")) for c in self.cards]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"texts": self.texts, "cards": [_card_label(c) for c in self.cards],
                               "mode": self.mode}
        buttons = [str(b.get("title")) for m in self.messages for b in m.get("buttons") or []
                   if isinstance(b, dict)]
        if buttons:
            out["buttons"] = buttons
        payloads = [m["custom"] for m in self.messages if isinstance(m.get("custom"), dict)
                    and m["custom"].get("type") != "product_cards"]
        if payloads:  # a cart, a handoff notice...: small, and what a channel would have to render
            out["payloads"] = payloads
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Failure:
    turn: int
    key: str
    expected: Any
    got: Any

    def as_dict(self) -> dict[str, Any]:
        return {"turn": self.turn, "key": self.key, "expected": self.expected, "got": self.got}

    def line(self) -> str:
        return f"turn {self.turn} {self.key}: expected {_short(self.expected)}; got {_short(self.got)}"


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------- checks


@dataclass
class Context:
    """What a check may look at: the catalog, the not-understood texts and every turn's reply so far."""

    catalog: dict[str, dict[str, Any]]
    replies: Sequence[Reply]  # turn 1 first; the turn being checked is the last
    not_understood: Sequence[str] = ()

    def turn(self, n: int) -> Reply:
        return self.replies[n - 1]

    def product(self, card: dict[str, Any]) -> dict[str, Any] | None:
        return self.catalog.get(str(card.get("sku")))

    def card_at(self, turn: int, position: int) -> dict[str, Any] | None:
        cards = self.turn(turn).cards if 1 <= turn <= len(self.replies) else []
        index = position - 1 if position > 0 else len(cards) + position
        return cards[index] if 0 <= index < len(cards) else None

    def price(self, card: dict[str, Any]) -> float | None:
        record = self.product(card)
        value = (record or card).get("price")
        return float(value) if _is_number(value) else None

    def rating(self, card: dict[str, Any]) -> float | None:
        record = self.product(card)
        value = (record or card).get("rating")
        return float(value) if _is_number(value) else None


def _card_label(card: dict[str, Any]) -> dict[str, Any]:
    return {"sku": card.get("sku"), "title": card.get("title"), "price": card.get("price")}


def _attribute_values(record: dict[str, Any], attribute: str) -> list[str]:
    attributes = record.get("attributes") or {}
    values: list[str] = []
    for name in ATTRIBUTE_NAMES[attribute]:
        if attributes.get(name) is not None:
            values.extend(str(v).strip().lower() for v in _as_list(attributes[name]))
    return values


def _lower(values: Any) -> list[str]:
    return [str(v).strip().lower() for v in _as_list(values)]


def card_problems(preds: dict[str, Any], card: dict[str, Any], ctx: Context) -> list[str]:
    """Why one card fails the product predicates (empty: it passes), judged on its catalog record.

    category (any of, exact path), brand / brand_not, color / color_not, size, material / material_not
    (attribute values, case-insensitive; a list-valued attribute matches if any element matches),
    price_min / price_max (inclusive), cheaper_than_turn N (below the highest price shown at turn N),
    in_stock, title_has (any substring) / title_not (none), all case-insensitive."""
    record = ctx.product(card)
    if record is None:
        return [f"sku {card.get('sku')!r} is not in the catalog"]
    problems = []
    title = str(record.get("title") or "").lower()
    for name, want in preds.items():
        if name == "category":
            ok = record.get("category") in _as_list(want)
            got: Any = record.get("category")
        elif name in ("brand", "brand_not"):
            got = record.get("brand")
            hit = str(got or "").strip().lower() in _lower(want)
            ok = hit if name == "brand" else not hit
        elif name in ("color", "color_not", "size", "material", "material_not"):
            attribute = name.removesuffix("_not")
            got = _attribute_values(record, attribute)
            hit = any(v in _lower(want) for v in got)
            ok = hit if not name.endswith("_not") else not hit
        elif name == "price_min":
            got = record.get("price")
            ok = _is_number(got) and got >= want
        elif name == "price_max":
            got = record.get("price")
            ok = _is_number(got) and got <= want
        elif name == "cheaper_than_turn":
            got = record.get("price")
            if want > len(ctx.replies):
                problems.append(f"cheaper_than_turn: turn {want} has not happened yet")
                continue
            prices = [p for p in (ctx.price(c) for c in ctx.turn(want).cards) if p is not None]
            if not prices:
                problems.append(f"cheaper_than_turn: turn {want} showed no priced cards")
                continue
            want = f"< {max(prices)} (highest at turn {preds[name]})"
            ok = _is_number(got) and got < max(prices)
        elif name == "in_stock":
            got = record.get("stock")
            ok = ((got or 0) > 0) == want
        elif name == "title_has":
            got = record.get("title")
            ok = any(s in title for s in _lower(want))
        elif name == "title_not":
            got = record.get("title")
            ok = not any(s in title for s in _lower(want))
        else:  # validate_expect refuses unknown predicates; this is for direct callers
            raise FormatError(f"unknown product predicate '{name}'")
        if not ok:
            problems.append(f"{name} {_short(want, 120)}: is {_short(got, 120)}")
    return problems


def check_card_selector(key: str, preds: dict[str, Any], reply: Reply, ctx: Context,
                        zero_cards_ok: bool = False) -> tuple[bool, Any]:
    """every_card (all cards; no cards fails unless ``zero_cards_ok``), some_card (at least one card
    meets every predicate), first_card (the first card)."""
    cards = reply.cards
    if not cards:
        ok = key == "every_card" and zero_cards_ok
        return ok, "no product cards"
    if key == "first_card":
        problems = card_problems(preds, cards[0], ctx)
        return not problems, {"card": _card_label(cards[0]), "problems": problems}
    judged = [(c, card_problems(preds, c, ctx)) for c in cards]
    if key == "every_card":
        bad = [{"card": _card_label(c), "problems": p} for c, p in judged if p]
        return not bad, bad
    if any(not p for _, p in judged):
        return True, None
    return False, [{"card": _card_label(c), "problems": p} for c, p in judged]


def check_sorted(order: str, reply: Reply, ctx: Context) -> tuple[bool, Any]:
    """sorted_by: at least 2 cards, in that order (ties allowed); prices and ratings from the catalog."""
    cards = reply.cards
    measure = ctx.rating if order == "rating_desc" else ctx.price
    values = [measure(c) for c in cards]
    shown = [{"sku": c.get("sku"), order.split("_")[0]: v} for c, v in zip(cards, values)]
    if len(cards) < 2 or any(v is None for v in values):
        return False, shown or "fewer than 2 cards"
    pairs = list(zip(values, values[1:]))
    ok = all(a <= b for a, b in pairs) if order == "price_asc" else all(a >= b for a, b in pairs)
    return ok, shown


def check_mentions(ref: Sequence[int], reply: Reply, ctx: Context) -> tuple[bool, Any, Any]:
    """mentions [T, P]: card P of turn T, by title or model name (title before the first comma), is in the
    reply text or among this turn's card titles."""
    turn, position = ref
    card = ctx.card_at(turn, position)
    if card is None:
        return False, f"card {position} of turn {turn}", f"turn {turn} has no card {position}"
    record = ctx.product(card) or card
    title = str(record.get("title") or card.get("title") or "")
    model = title.split(",", 1)[0].strip()
    needles = [n.lower() for n in (title, model) if n]
    haystacks = [reply.text.lower(), *(str(c.get("title") or "").lower() for c in reply.cards)]
    ok = any(n in h for n in needles for h in haystacks)
    return ok, f"{title!r} or {model!r} (card {position} of turn {turn})", None


CART_LINE = re.compile(r"^\s*[-*•]?\s*(\d+)\s*[x×]\s+(.+?)(?::\s*[^\s:]*\d[\d,.]*.*)?\s*$")


def cart_items(reply: Reply) -> list[dict[str, Any]] | None:
    """The cart the reply shows, as [{"sku" (when known), "title", "quantity"}]; None when it shows none.

    A structured payload wins (a message's ``custom`` or top-level ``{"type": "cart", "items": [...]}``,
    items with sku/title and quantity/qty); the last one of the turn counts. Otherwise the text
    actions/cart.py writes: "Your cart (N items):", "- 2 x Title: $12.00" lines, "Total: ...", or
    "Your cart is empty."."""
    payloads = []
    for m in reply.messages:
        for candidate in (m.get("custom"), m.get("cart"), m):
            if (isinstance(candidate, dict) and candidate.get("type") == "cart"
                    and isinstance(candidate.get("items"), list)):
                payloads.append(candidate)
                break
    if payloads:
        items = []
        for item in payloads[-1]["items"]:
            if isinstance(item, dict):
                qty = item.get("quantity", item.get("qty"))
                items.append({"sku": item.get("sku"), "title": str(item.get("title") or ""),
                              "quantity": int(qty) if _is_number(qty) else None})
        return items
    for text in reversed(reply.texts):  # the last cart text of the turn
        lines = text.splitlines()
        if any(re.match(r"\s*your cart is empty", line, re.I) for line in lines):
            return []
        start = next((i for i, line in enumerate(lines)
                      if re.match(r"\s*your cart\b.*:\s*$", line, re.I)), None)
        if start is None:
            continue
        items = []
        for line in lines[start + 1:]:
            if re.match(r"\s*total\b", line, re.I):
                break
            match = CART_LINE.match(line)
            if match:
                items.append({"sku": None, "title": match.group(2).strip(), "quantity": int(match.group(1))})
        return items
    return None


def check_cart(entries: Sequence[dict[str, Any]], reply: Reply, ctx: Context) -> tuple[bool, Any, Any]:
    """cart: the reply shows exactly these products with these quantities (no others). An entry names its
    product by a card ``product: [turn, position]``, a sku ``product: "SKU"`` or ``title_has``."""
    items = cart_items(reply)
    wanted = []
    for entry in entries:
        if isinstance(entry.get("product"), str):  # a sku
            record = ctx.catalog.get(entry["product"])
            wanted.append({"sku": entry["product"], "title": str(record["title"]), "qty": entry.get("qty")}
                          if record else {"missing": f"no product {entry['product']} in the catalog"})
        elif "product" in entry:
            card = ctx.card_at(*entry["product"])
            if card is None:
                wanted.append({"missing": f"turn {entry['product'][0]} has no card {entry['product'][1]}"})
                continue
            record = ctx.product(card) or card
            title = str(record.get("title") or card.get("title") or "")
            wanted.append({"sku": card.get("sku"), "title": title, "qty": entry.get("qty")})
        else:
            wanted.append({"title_has": entry["title_has"], "qty": entry.get("qty")})
    expected = [{k: v for k, v in w.items() if v is not None} for w in wanted]
    if items is None:
        return False, expected, "no cart in the reply"
    if any("missing" in w for w in wanted):
        return False, expected, items

    def matches(want: dict[str, Any], item: dict[str, Any]) -> bool:
        if "title_has" in want:
            same = want["title_has"].lower() in item["title"].lower()
        elif item.get("sku"):
            same = item["sku"] == want["sku"]
        else:
            same = item["title"].strip().lower() == want["title"].strip().lower()
        return same and (want["qty"] is None or item["quantity"] == want["qty"])

    # Each expected entry takes a different item (a small bipartite matching; carts are short).
    def assign(i: int, used: frozenset[int]) -> bool:
        if i == len(wanted):
            return True
        return any(assign(i + 1, used | {j}) for j, item in enumerate(items)
                   if j not in used and matches(wanted[i], item))

    ok = len(items) == len(wanted) and assign(0, frozenset())
    return ok, expected, items


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def check_turn(expect: dict[str, Any], ctx: Context, turn: int | None = None) -> list[Failure]:
    """Every expectation of one turn against its reply (the last of ``ctx.replies``); the failures."""
    turn = turn or len(ctx.replies)
    reply = ctx.turn(turn)
    failures: list[Failure] = []

    def fail(key: str, expected: Any, got: Any) -> None:
        failures.append(Failure(turn, key, expected, got))

    if reply.error:
        fail("reply", "HTTP 200 with messages", reply.error)
        return failures
    cards = reply.cards
    for key, want in expect.items():
        if key == "cards_min" and len(cards) < want:
            fail(key, f">= {want} cards", [_card_label(c) for c in cards])
        elif key == "cards_max" and len(cards) > want:
            fail(key, f"<= {want} cards", [_card_label(c) for c in cards])
        elif key in CARD_SELECTORS:
            ok, got = check_card_selector(key, want, reply, ctx, zero_cards_ok=expect.get("cards_max") == 0)
            if not ok:
                fail(key, want, got)
        elif key == "sorted_by":
            ok, got = check_sorted(want, reply, ctx)
            if not ok:
                fail(key, want, got)
        elif key == "cards_differ_from_turn":
            before = ctx.turn(want).skus
            if reply.skus == before:
                fail(key, f"sku list other than turn {want}'s {before}", reply.skus)
        elif key == "mentions":
            ok, expected, problem = check_mentions(want, reply, ctx)
            if not ok:
                fail(key, expected,
                     problem or {"texts": reply.texts, "card_titles": [c.get("title") for c in cards]})
        elif key == "cart":
            ok, expected, got = check_cart(want, reply, ctx)
            if not ok:
                fail(key, expected, got)
        elif key in ("text_any", "text_all", "text_none"):
            text = _norm(reply.text)
            hits = [s for s in _as_list(want) if _norm(s) in text]
            ok = {"text_any": bool(hits), "text_all": len(hits) == len(_as_list(want)),
                  "text_none": not hits}[key]
            if not ok:
                got = {"found": hits, "texts": reply.texts} if key == "text_none" else reply.texts
                fail(key, _as_list(want), got)
        elif key == "understood":
            known = [_norm(t) for t in ctx.not_understood]
            misses = [t for t in reply.texts if any(k and k in _norm(t) for k in known)]
            if bool(misses) == want:  # understood: true wants no such text; false wants one
                fail(key, want, misses or reply.texts)
        elif key == "mode" and reply.mode != want:
            fail(key, want, reply.mode)
        elif key not in EXPECT_KEYS:
            raise FormatError(f"turn {turn}: unknown expectation key '{key}'")
    return failures


# --------------------------------------------------------------------------------------------- running


Send = Callable[[str, str], Reply]


SENDER_ID_OK = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")  # what POST /api/messages accepts


def sender_id(conversation_id: str) -> str:
    """A fresh sender id the chat API accepts (8-64 letters, digits or _.:-)."""
    safe = re.sub(r"[^A-Za-z0-9_.:-]+", "-", conversation_id)[:40]
    return f"conv-{safe}-{uuid.uuid4().hex[:12]}"


def run_conversation(conversation: Conversation, send: Send, catalog: dict[str, dict[str, Any]],
                     not_understood: Sequence[str]) -> dict[str, Any]:
    """Send every turn (even after a failure) and check it; the conversation's record."""
    sender = sender_id(conversation.id)
    replies: list[Reply] = []
    failures: list[Failure] = []
    turns = []
    start = time.monotonic()
    for n, turn in enumerate(conversation.turns, 1):
        replies.append(send(sender, turn.say))
        ctx = Context(catalog, replies, not_understood)
        turn_failures = check_turn(turn.expect, ctx, n)
        failures.extend(turn_failures)
        turns.append({"say": turn.say, "reply": replies[-1].summary(),
                      "failed": sorted({f.key for f in turn_failures}),
                      "seconds": round(replies[-1].seconds, 3)})
    return {"id": conversation.id, "covers": list(conversation.covers), "sender": sender,
            "passed": not failures, "seconds": round(time.monotonic() - start, 2),
            "failures": [dict(f.as_dict(), say=conversation.turns[f.turn - 1].say,
                              reply=replies[f.turn - 1].summary()) for f in failures],
            "turns": turns}


def run_conversations(conversations: Sequence[Conversation], send: Send, catalog: dict[str, dict[str, Any]],
                      not_understood: Sequence[str], workers: int = 1,
                      progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every conversation (``workers`` at a time; each has its own sender), records in file order."""
    done = 0
    lock = threading.Lock()

    def one(conversation: Conversation) -> dict[str, Any]:
        nonlocal done
        record = run_conversation(conversation, send, catalog, not_understood)
        with lock:
            done += 1
            if not progress:
                return record
            status = "pass" if record["passed"] else "FAIL"
            progress(f"[{done}/{len(conversations)}] {status} {record['id']} ({record['seconds']:.1f} s)"
                     + "".join(f"\n      {Failure(f['turn'], f['key'], f['expected'], f['got']).line()}"
                               for f in record["failures"]))
        return record

    if workers <= 1:
        return [one(c) for c in conversations]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, conversations))


def api_sender(web_url: str, timeout: float = REQUEST_TIMEOUT_S) -> Send:
    """A Send over the web app's ``POST /api/messages``."""
    from tests.e2e_stack import API_AUTH, http_json

    def send(sender: str, text: str) -> Reply:
        start = time.monotonic()
        try:
            status, body = http_json("POST", f"{web_url}/api/messages", {"sender": sender, "message": text},
                                     timeout=timeout, headers=API_AUTH)
        except Exception as exc:  # a timeout or a refused connection is a failed turn, not a crash
            return Reply(status=0, error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - start)
        seconds = time.monotonic() - start
        if status != 200 or not isinstance(body, dict):
            return Reply(status=status, error=f"HTTP {status}: {_short(body)}", seconds=seconds)
        return Reply(list(body.get("messages") or []), body.get("mode"), status, seconds=seconds)

    return send


# --------------------------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def summarise(records: Sequence[dict[str, Any]], source: str, seconds: float | None = None) -> dict[str, Any]:
    def rate(rs: Iterable[dict[str, Any]]) -> dict[str, Any]:
        rs = list(rs)
        passed = sum(r["passed"] for r in rs)
        return {"passed": passed, "total": len(rs), "rate": round(passed / len(rs), 4) if rs else None}

    tags = sorted({t for r in records for t in r["covers"]})
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(), "cpu": cpu_model(), "file": source,
        "seconds": round(seconds, 1) if seconds is not None else None,
        "turns": sum(len(r["turns"]) for r in records),
        "overall": rate(records),
        "by_tag": {t: rate(r for r in records if t in r["covers"]) for t in tags},
        "conversations": list(records),
    }


def pass_rate(report: dict[str, Any]) -> float:
    return report["overall"]["rate"] or 0.0


def failure_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for r in report["conversations"]:
        for f in r["failures"]:
            reply = f["reply"]
            cards = [(c["sku"], c["title"], c["price"]) for c in reply["cards"]]
            lines.append(f"{r['id']} turn {f['turn']} ({f['say']!r}) {f['key']}: "
                         f"expected {_short(f['expected'], 200)}; got {_short(f['got'], 300)}"
                         f" | texts {_short(reply['texts'], 200)} | cards {_short(cards, 300)}")
    return lines


def markdown(report: dict[str, Any]) -> str:
    def pct(part: dict[str, Any]) -> str:
        return "–" if part["rate"] is None else f"{100 * part['rate']:.1f} %"

    def cell(value: Any, limit: int) -> str:
        return _short(value, limit).replace("|", "\\|").replace("\n", " ")

    o = report["overall"]
    timing = "" if report.get("seconds") is None else f" · {report['seconds']} s for {report['turns']} turns"
    out = ["# Conversation tests", "",
           f"{report['date']} · commit `{report['commit']}` · {report['cpu']} · `{report['file']}`{timing}",
           "",
           "Multi-turn conversations through the running stack's `POST /api/messages` with the demo catalog "
           f"(`python -m tests.conversations`). **{o['passed']} of {o['total']} passed ({pct(o)}).**", "",
           "| covers | passed | total | rate |", "|---|---:|---:|---:|",
           f"| **all** | {o['passed']} | {o['total']} | {pct(o)} |"]
    out += [f"| {tag} | {p['passed']} | {p['total']} | {pct(p)} |" for tag, p in report["by_tag"].items()]
    failed = [r for r in report["conversations"] if not r["passed"]]
    out += ["", "## Failures", ""]
    if not failed:
        out.append("None.")
    else:
        out += ["| conversation | turn | said | key | expected | got | reply |",
                "|---|---:|---|---|---|---|---|"]
        for r in failed:
            for f in r["failures"]:
                reply = f["reply"]
                shown = "; ".join(reply["texts"])[:160]
                if reply["cards"]:
                    shown += " · cards: " + ", ".join(f"{c['sku']} ${c['price']}" for c in reply["cards"])
                out.append(f"| {cell(r['id'], 60)} | {f['turn']} | {cell(f['say'], 60)} | `{f['key']}` | "
                           f"{cell(f['expected'], 120)} | {cell(f['got'], 160)} | {cell(shown, 260)} |")
    return "\n".join(out) + "\n"


def write_reports(report: dict[str, Any], folder: Path = REPORTS, name: str = "conversations") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f"{name}.json", folder / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path


# --------------------------------------------------------------------------------------------- stack


def demo_stack(folder: Path):  # type: ignore[no-untyped-def]
    """The real services over ``folder`` with the demo catalog; rate limits out of the way of a test run."""
    from tests.e2e_stack import Stack

    return Stack.create(folder, catalog=DEMO_CATALOG, extra_env={
        "AISLE_RATE_PER_IP": "100000/minute", "AISLE_RATE_PER_CONVERSATION": "1000/minute",
        "AISLE_LOG_LEVEL": "WARNING"})


def select(conversations: Sequence[Conversation], only: Sequence[str] | None) -> list[Conversation]:
    if not only:
        return list(conversations)
    known = {c.id for c in conversations}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise FormatError(f"no conversation with id {', '.join(unknown)}")
    return [c for c in conversations if c.id in set(only)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conversations",
                                     description="Multi-turn conversation tests through the running stack.")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE,
                        help=f"conversations YAML (default {DEFAULT_FILE.relative_to(REPO_ROOT)})")
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these conversations")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"conversations at a time (default {DEFAULT_WORKERS}; 1: one after another)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="folder for the reports")
    parser.add_argument("--name", default="conversations",
                        help="the reports' file name, without .json / .md (default: conversations)")
    args = parser.parse_args(argv)
    try:
        if not args.file.exists():
            raise FormatError(f"{args.file} does not exist")
        conversations = select(load_conversations(args.file), args.only)
    except FormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    catalog, not_understood = load_catalog(), not_understood_texts()
    print(f"{len(conversations)} conversations from {args.file}; starting the stack with the demo catalog…",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="aisle-conversations-") as folder:
        started = time.monotonic()
        stack = demo_stack(Path(folder))
        try:
            stack.start_all()
            print(f"stack ready in {time.monotonic() - started:.0f} s", flush=True)
            began = time.monotonic()
            records = run_conversations(conversations, api_sender(stack.web_url), catalog, not_understood,
                                        workers=args.workers, progress=lambda line: print(line, flush=True))
            seconds = time.monotonic() - began
        finally:
            stack.stop_all()
    try:
        source = str(args.file.resolve().relative_to(REPO_ROOT))
    except ValueError:
        source = str(args.file)
    report = summarise(records, source, seconds)
    json_path, md_path = write_reports(report, args.reports, args.name)
    o = report["overall"]
    print(f"{o['passed']}/{o['total']} conversations passed ({100 * (o['rate'] or 0):.1f} %) "
          f"in {seconds:.0f} s; "
          f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
