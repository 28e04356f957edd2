"""Entity extraction: tested rules for prices, order ids, quantities, ordinals and emails; lookup
tables (text_tools.lookups) for colour, size, material, brand and product type.

Values are normalised as ../shared/contracts/intents.md says; ``start``/``end`` index the original text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from text_tools.lookups import LOOKUP_ENTITIES, LookupTables, singular

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "a pair of": 2, "a couple of": 2, "a couple": 2, "a dozen": 12,
    "both": 2,
}
ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "last": -1, "final": -1, "bottom": -1,
    "second to last": -2, "second last": -2, "penultimate": -2, "top": 1,
}
BAND = 0.2  # "around $100" -> 80..120

AMOUNT = r"(?P<{n}>\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.(?P<{n}c>\d{{1,2}}))?(?P<{n}k>k)?"
CURRENCY_BEFORE = r"(?P<{n}cur>[$£€]|usd\s?|eur\s?|gbp\s?)?"
CURRENCY_AFTER = r"(?P<{n}word>\s?(?:dollars?|bucks|usd|eur|euros?|gbp|pounds?|quid)\b)?"
UNIT_AFTER = r"(?!\s?(?:%|percent|people|persons|kids|items?|pieces?|pcs|units?|pairs?|packs?|inch|inches|in\b|cm|mm|m\b|ml|l\b|litres?|liters?|kg|g\b|lbs?|oz|gb|tb|mb|w\b|watts?|v\b|volts?|mah|hours?|hrs?|days?|weeks?|months?|years?|yrs?|minutes?|mins?|seconds?|st\b|nd\b|rd\b|th\b|x\b|of\b|stars?))"


def _money(n: str) -> str:
    return CURRENCY_BEFORE.format(n=n) + AMOUNT.format(n=n) + CURRENCY_AFTER.format(n=n) + UNIT_AFTER


MONEY_A, MONEY_B = _money("a"), _money("b")
def _patterns(*sources: str) -> list[re.Pattern[str]]:
    return [re.compile(src, re.IGNORECASE) for src in sources]


PRICE_RANGE = _patterns(
    rf"\bbetween\s+{MONEY_A}\s+(?:and|&)\s+{MONEY_B}",
    rf"\bfrom\s+{MONEY_A}\s+(?:to|-|–)\s+{MONEY_B}",
    rf"{MONEY_A}\s?(?:-|–|to)\s?{MONEY_B}",
)
PRICE_MAX = _patterns(
    rf"\b(?:under|below|less than|cheaper than|max(?:imum)?(?: of)?|at most|up to|no more than|"
    rf"not more than|within|budget(?: is| of)?|for less than|<=?)\s*{MONEY_A}",
    rf"{MONEY_A}\s+(?:or less|or under|max(?:imum)?|tops|or cheaper)\b",
    rf"\b(?:nothing|none|not|no)\s+(?:over|above|more than|pricier than)\s*{MONEY_A}",  # "nothing over $50"
)
PRICE_MIN = _patterns(
    rf"\b(?:over|above|more than|at least|min(?:imum)?(?: of)?|starting at|from|>=?)\s*{MONEY_A}",
    rf"{MONEY_A}\s+(?:or more|and up|and above|plus)\b",
)
PRICE_AROUND = _patterns(rf"\b(?:around|about|approximately|approx\.?|roughly|circa|near|~)\s*{MONEY_A}")
PRICE_BARE = _patterns(  # "$50 headphones", "50 dollars": an amount with a currency marker
    r"(?P<acur>[$£€])\s?" + AMOUNT.format(n="a"),
    AMOUNT.format(n="a") + r"(?P<aword>\s?(?:dollars?|bucks|usd|euros?|pounds?))\b",
)
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# A store's order number with a letter prefix ("SO-2026-00042", "INV/10482"): catalog/orders.py NUMBER.
PREFIXED_ORDER = r"[A-Z]{1,8}[-_/]?(?:\d{1,12}[-_/]){0,3}\d{3,12}"
ORDER_ID = re.compile(
    rf"(?:\b(?:order|ord|purchase)\s*(?:number|no\.?|num|nr|id)?\s*[:#]?\s*#?\s*(?P<a>{PREFIXED_ORDER}|\d{{4,12}})\b)"
    rf"|(?:#\s?(?P<b>{PREFIXED_ORDER}|\d{{4,12}})\b)"
    r"|(?:(?<![\d$£€.,])(?P<c>\d{5,12})\b(?![.,]\d))"
    r"|(?:\b(?P<d>[A-Z]{1,8}-(?:\d{1,12}-){0,3}\d{3,12})\b)",  # bare, only with its hyphen: not "mp3"
    re.IGNORECASE,
)
QUANTITY_WORDS = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
QUANTITY = re.compile(
    rf"(?:\b(?:qty|quantity)\s*[:=]?\s*(?P<a>\d{{1,3}}))"
    rf"|(?:\b(?P<b>\d{{1,3}}|{QUANTITY_WORDS})\s*(?:x\b|of\b|more\b|pcs\b|pieces?\b|units?\b|items?\b|pairs?\b|packs?\b))"
    rf"|(?:\bx\s?(?P<c>\d{{1,3}})\b)"
    rf"|(?:\b(?:take|add|buy|order|get|want|need|grab|give me|i'll have|make (?:it|that|them|those)|"
    rf"change (?:it|that|the quantity) to)\s+(?P<d>\d{{1,3}}|{QUANTITY_WORDS})\b(?!\s?(?:[$£€%]|st\b|nd\b|rd\b|th\b|dollars?)))",
    re.IGNORECASE,
)
ORDINAL_TERMS = "|".join(sorted((re.escape(w) for w in ORDINAL_WORDS), key=len, reverse=True))
ORDINAL = re.compile(
    rf"(?:\b(?P<word>{ORDINAL_TERMS})\b(?!\s+(?:time|of all|place|hand|class|name|quality|rated|brands?))"
    rf"(?:\s+(?P<count>two|three|four|five|2|3|4|5)\b)?)"
    r"|(?:\b(?P<num>\d{1,2})(?:st|nd|rd|th)\b)"
    r"|(?:\b(?:number|no\.|item|option|result|product|#)\s?(?P<idx>\d{1,2})\b(?!\d))",
    re.IGNORECASE,
)
NOT_ORDINAL_CONTEXT = re.compile(r"\b(?:a|one|just a|wait a|hold on a)\s+second\b", re.IGNORECASE)
SIZE_RULE = re.compile(
    r"\bsize\s+(?P<a>\d{1,2}(?:\.5)?|x{0,3}[sml]|x{0,2}l|[sml])\b"
    r"|\b(?P<b>\d{1,2}(?:\.5)?)\s?(?:uk|us|eu)\b"
    r"|(?<![\w'’-])(?P<c>XXS|XS|S|M|L|XL|XXL|XXXL)(?![\w'’-])",
)
COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5}
# "not from Sonora", "anything but black", "without a hood", "that's not gas", "i hate cables": the words
# after the cue, up to the end of the clause, are excluded rather than wanted. A cue needs a space after
# it, so "non-slip" or "no-iron" are product words, not negations.
NEGATION_CUE = re.compile(
    r"\b(?:not|no|none|nothing|without|except(?: for)?|excluding|other than|anything but|but not|apart from|minus|avoid|"
    r"isn'?t|aren'?t|don'?t want|do not want|never|allergic to|"
    r"(?:hate|dislike|can'?t stand)(?!\s+(?:my|our|his|her|their|it|when|that|how|the)\b)|"
    r"(?:does ?n[o']?t|doesnt|do ?n[o']?t|dont) (?:use|have|need|take|come with|contain))\s+"
    r"(?:(?:from|by|made of|made from|in|a|an|the|any|with|too|so|that|those|these|brand)\s+)*",
    re.IGNORECASE,
)
CLAUSE_END = re.compile(
    r"[,.;:!?()]|\b(?:and|but|please|pls|plz|that|which|for|under|below|over|above|between|less|more|"
    r"cheaper|instead|only|just|thanks?|thx)\b",
    re.IGNORECASE,
)
NEGATION_WORDS = 3


@dataclass(frozen=True)
class Entity:
    entity: str
    value: Any
    start: int
    end: int
    extractor: str

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end,
                "confidence_entity": 1.0, "extractor": self.extractor}


def _number(m: re.Match[str], n: str) -> float:
    whole = float(m.group(n).replace(",", ""))
    cents = m.group(f"{n}c")
    value = whole + (float(f"0.{cents}") if cents else 0.0)
    return value * 1000 if m.group(f"{n}k") else value


def _clean(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 2)


def _span(m: re.Match[str], n: str) -> tuple[int, int]:
    """The amount's span, currency marker included."""
    start = m.start(f"{n}cur") if m.groupdict().get(f"{n}cur") else m.start(n)
    end = max(m.end(g) for g in (n, f"{n}c", f"{n}k", f"{n}word") if m.groupdict().get(g))
    return start, end


def prices(text: str) -> list[Entity]:
    out: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def has_marker(m: re.Match[str], *names: str) -> bool:
        return any(m.groupdict().get(f"{n}cur") or m.groupdict().get(f"{n}word") for n in names)

    for m in (m for p in PRICE_RANGE for m in p.finditer(text)):
        if not free(m.start(), m.end()):
            continue
        whole = m.group(0).lower()
        if not (has_marker(m, "a", "b") or whole.startswith(("between", "from"))):
            continue
        low, high = sorted((_number(m, "a"), _number(m, "b")))
        (s1, e1), (s2, e2) = _span(m, "a"), _span(m, "b")
        out += [Entity("price_min", _clean(low), s1, e1, "rules"), Entity("price_max", _clean(high), s2, e2, "rules")]
        taken.append((m.start(), m.end()))
    for patterns, kind in ((PRICE_AROUND, "around"), (PRICE_MAX, "price_max"), (PRICE_MIN, "price_min")):
        for m in (m for p in patterns for m in p.finditer(text)):
            s, e = _span(m, "a")
            if not free(s, e):
                continue
            value = _number(m, "a")
            if kind == "price_min" and m.group(0).lower().startswith("from") and not has_marker(m, "a"):
                continue  # "from 2019" is not a price
            if kind == "around":
                out += [Entity("price_min", _clean(round(value * (1 - BAND), 2)), s, e, "rules"),
                        Entity("price_max", _clean(round(value * (1 + BAND), 2)), s, e, "rules")]
            else:
                out.append(Entity(kind, _clean(value), s, e, "rules"))
            taken.append((s, e))
    for m in (m for p in PRICE_BARE for m in p.finditer(text)):
        s, e = m.start(), m.end()
        if free(s, e):
            out.append(Entity("price_max", _clean(_number(m, "a")), s, e, "rules"))
            taken.append((s, e))
    return out


def emails(text: str) -> list[Entity]:
    return [Entity("email", m.group(0).lower(), m.start(), m.end(), "rules") for m in EMAIL.finditer(text)]


def order_ids(text: str) -> list[Entity]:
    out = []
    for m in ORDER_ID.finditer(text):
        group = next(g for g in ("a", "b", "c", "d") if m.group(g))
        out.append(Entity("order_id", m.group(group), m.start(group), m.end(group), "rules"))
    return out


def quantities(text: str) -> list[Entity]:
    out = []
    for m in QUANTITY.finditer(text):
        group = next(g for g in ("a", "b", "c", "d") if m.group(g))
        raw = m.group(group).lower()
        value = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
        if 0 < value <= 999:
            out.append(Entity("quantity", value, m.start(group), m.end(group), "rules"))
    return out


def ordinals(text: str) -> list[Entity]:
    blocked = [(m.start(), m.end()) for m in NOT_ORDINAL_CONTEXT.finditer(text)]
    out = []
    for m in ORDINAL.finditer(text):
        if any(s <= m.start() < e for s, e in blocked):
            continue
        if m.group("word"):
            word = m.group("word").lower()
            if word == "top" and not m.group("count") and not re.match(r"\s+(?:one|result|item|pick)\b", text[m.end():], re.I):
                continue
            base = ORDINAL_WORDS[word]
            count = m.group("count")
            if count and base == 1:  # "the first two" / "top three" -> 1, 2(, 3)
                n = int(count) if count.isdigit() else COUNT_WORDS[count.lower()]
                out += [Entity("ordinal", i, m.start(), m.end(), "rules") for i in range(1, n + 1)]
            else:
                out.append(Entity("ordinal", base, m.start("word"), m.end("word"), "rules"))
        else:
            group = "num" if m.group("num") else "idx"
            start = m.start() if group == "num" else m.start(group)
            out.append(Entity("ordinal", int(m.group(group)), start, m.end(), "rules"))
    return out


def sizes(text: str) -> list[Entity]:
    out = []
    for m in SIZE_RULE.finditer(text):
        group = next(g for g in ("a", "b", "c") if m.group(g))
        raw = m.group(group)
        out.append(Entity("size", raw.upper() if not raw[0].isdigit() else raw, m.start(group), m.end(group), "rules"))
    return out


@lru_cache(maxsize=16)
def _lookup_pattern(surfaces: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(s) for s in sorted(surfaces, key=len, reverse=True))
    # optional plural ending; no letters glued on either side
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?:es|s)?(?![\w-])", re.IGNORECASE)


def lookup_matches(text: str, tables: LookupTables) -> list[Entity]:
    out = []
    for entity in LOOKUP_ENTITIES:
        terms = tables.terms.get(entity)
        if not terms:
            continue
        # one-letter and numeric sizes need SIZE_RULE's context ("size 10", a capital "M")
        usable = tuple(s for s in terms if entity != "size" or (len(s) > 1 and not s[0].isdigit()))
        for m in _lookup_pattern(usable).finditer(text):
            surface = m.group(0).lower()
            value = terms.get(surface) or terms.get(singular(surface)) or terms.get(surface.rstrip("s"))
            if value is None:
                continue
            if entity == "size" and value.lower() in ("small", "medium", "large", "full") and not (
                re.search(r"\b(?:size|in)\s+$", text[: m.start()].lower())
                or re.match(r"\s*(?:ones?\b|size\b|sized\b)", text[m.end():].lower())
            ):
                continue  # "a large bag" is a description; "in large", "size large", "large ones" a size
            out.append(Entity(entity, value, m.start(), m.end(), "lookup"))
    return out


def resolve(candidates: Iterable[Entity]) -> list[Entity]:
    """Keep the longest non-overlapping spans; entities sharing one span (price bands, "first two") stay."""
    chosen: list[Entity] = []
    spans: list[tuple[int, int]] = []
    for ent in sorted(candidates, key=lambda e: (-(e.end - e.start), e.start)):
        span = (ent.start, ent.end)
        key = (ent.entity, str(ent.value), ent.start, ent.end)
        if any((c.entity, str(c.value), c.start, c.end) == key for c in chosen):
            continue  # the same finding from a rule and a lookup table
        if span in spans or all(ent.end <= s or ent.start >= e for s, e in spans):
            chosen.append(ent)
            spans.append(span)
    return sorted(chosen, key=lambda e: (e.start, e.entity, str(e.value)))


def negated_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the words a negation cue excludes ("headphones but not from [Sonora]")."""
    out = []
    for cue in NEGATION_CUE.finditer(text):
        rest = text[cue.end():]
        end = CLAUSE_END.search(rest)
        scope = rest[: end.start()] if end else rest
        # "no leather or suede": "or" joins what the cue excludes and is not counted
        counted = [w for w in re.finditer(r"\S+", scope) if w.group(0).lower() not in ("or", "nor")]
        counted = counted[:NEGATION_WORDS]
        if counted:
            out.append((cue.end(), cue.end() + counted[-1].end()))
    return out


def extract(text: str, tables: LookupTables | None = None) -> list[dict[str, Any]]:
    """Entities as Rasa dicts; a colour, material, brand, size or product type inside a negation gets
    Rasa's entity role ``excluded`` ("anything but black")."""
    # Emails first: digits inside them must not become order ids or prices.
    found = emails(text)
    masked = text
    for ent in found:
        masked = masked[: ent.start] + " " * (ent.end - ent.start) + masked[ent.end:]
    prices_found = prices(masked)
    rule_based = prices_found + order_ids(masked) + ordinals(masked) + quantities(masked) + sizes(masked)
    lookups = lookup_matches(masked, tables) if tables else []
    negated = [(s, e) for s, e in negated_spans(masked)
               if not any(p.start < e and s < p.end for p in prices_found)]  # "no more than $50"
    out = []
    for ent in resolve(found + rule_based + lookups):
        d = ent.as_dict()
        if ent.entity in LOOKUP_ENTITIES and any(s <= ent.start and ent.end <= e for s, e in negated):
            d["role"] = "excluded"
        out.append(d)
    return out
