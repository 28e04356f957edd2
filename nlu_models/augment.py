"""Seeded training-data augmentation: typos, greetings glued to requests, catalog terms swapped in.

Shoppers type fast: "retrun", "cheeper", "helo", "can u ...", "hi, do you sell kettles". The model
sees such variants of its own training examples while it is fine-tuned, drawn afresh each epoch
(nlu_models.finetune), so it learns them without a list of misspellings and without more steps than
an extra share of each epoch. Everything here is deterministic for a given ``random.Random``.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from nlu_models.data import Example

# Neighbouring keys on a QWERTY keyboard, for substitution typos.
_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _ch in enumerate(_row):
        near = [_row[j] for j in (_c - 1, _c + 1) if 0 <= j < len(_row)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                near += [_ROWS[_other][j] for j in (_c - 1, _c) if 0 <= j < len(_ROWS[_other])]
        NEIGHBOURS[_ch] = "".join(near)

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Intents a greeting is not glued to (they are small talk themselves, or would change meaning).
NOT_GLUED = {"greet", "goodbye", "thank", "affirm", "deny", "nlu_fallback"}
# Entities whose annotated surface may be replaced by another value of the same kind.
SWAPPABLE = ("product_type", "brand", "color", "material")
GLUE = [", ", " ", "! ", ". ", " - ", ",", "!! "]


def typo_word(word: str, rng: random.Random) -> str:
    """One keyboard slip: two letters swapped, one dropped, one doubled, or a neighbour key hit."""
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1) if len(word) > 3 else rng.randrange(len(word) - 1)
    kind = rng.choice(("swap", "swap", "drop", "double", "neighbour"))
    if kind == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    near = NEIGHBOURS.get(word[i].lower())
    if near:
        return word[:i] + rng.choice(near) + word[i + 1:]
    return word[:i] + word[i + 1:]


def casual(text: str, rng: random.Random) -> str:
    """Chat-style spelling: lower case, no apostrophes, no final punctuation (each at random)."""
    if rng.random() < 0.5:
        text = text.lower()
    if rng.random() < 0.4:
        text = text.replace("'", "").replace("’", "")
    if rng.random() < 0.4:
        text = text.rstrip("?!. ")
    return text or "?"


def add_typos(text: str, rng: random.Random, max_words: int = 2) -> str:
    """``text`` with one or two of its words misspelt (words of 3+ letters), often in chat style."""
    words = [m for m in WORD.finditer(text) if len(m.group(0)) >= 3]
    if not words:
        return casual(text, rng)
    n = 1 if len(words) < 4 or rng.random() < 0.6 else min(max_words, len(words))
    chosen = sorted(rng.sample(words, n), key=lambda m: m.start(), reverse=True)
    out = text
    for m in chosen:
        out = out[: m.start()] + typo_word(m.group(0), rng) + out[m.end():]
    return casual(out, rng) if rng.random() < 0.5 else out


def greeting_openers(examples: Iterable[Example], max_words: int = 3) -> list[str]:
    """Short greet examples that are only a greeting ("hi", "good morning", "hey there")."""
    out = []
    for ex in examples:
        if ex.intent != "greet" or "?" in ex.text or "," in ex.text:
            continue
        text = ex.text.rstrip("!. ")
        if 0 < len(text.split()) <= max_words and text.lower() not in out:
            out.append(text.lower())
    return sorted(out)


def glue_greeting(text: str, openers: Sequence[str], rng: random.Random) -> str:
    opener = rng.choice(openers)
    if rng.random() < 0.3:
        opener = opener.capitalize()
    body = text[0].lower() + text[1:] if text and rng.random() < 0.5 else text
    return opener + rng.choice(GLUE) + body


def plural(word: str) -> str:
    if word.endswith("s"):
        return word
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(?:sh|ch|x|z)$", word):
        return word + "es"
    return word + "s"


@dataclass
class Augmenter:
    """Variants of training examples, drawn with a caller's seeded ``random.Random``."""

    openers: list[str]
    pools: dict[str, list[str]] = field(default_factory=dict)  # entity -> surfaces to swap in

    @classmethod
    def from_data(cls, examples: Sequence[Example], terms: dict[str, Iterable[str]] | None = None) -> "Augmenter":
        """Openers from the greet examples; swap pools from annotated spans plus lookup table terms."""
        pools: dict[str, set[str]] = {e: set() for e in SWAPPABLE}
        for ex in examples:
            for span in ex.entities:
                if span.entity in pools:
                    pools[span.entity].add(ex.text[span.start:span.end].lower())
        for entity, surfaces in (terms or {}).items():
            if entity in pools:
                pools[entity].update(s.lower() for s in surfaces if len(s) > 2)
        return cls(greeting_openers(examples), {e: sorted(p) for e, p in pools.items() if p})

    def swap_entities(self, ex: Example, rng: random.Random) -> str | None:
        spans = [s for s in ex.entities if s.entity in self.pools]
        if not spans:
            return None
        text = ex.text
        for span in sorted(spans, key=lambda s: s.start, reverse=True):
            original = text[span.start:span.end]
            new = rng.choice(self.pools[span.entity])
            if span.entity == "product_type" and original.lower().endswith("s"):
                new = plural(new)
            if span.entity == "brand" and original[:1].isupper():
                new = new.title()
            text = text[: span.start] + new + text[span.end:]
        return text

    def variant(self, ex: Example, rng: random.Random) -> str:
        """One random variant: catalog terms swapped, a greeting glued on, typos, or several of them."""
        text = ex.text
        swapped = self.swap_entities(ex, rng) if rng.random() < 0.5 else None
        if swapped:
            text = swapped
        if self.openers and ex.intent not in NOT_GLUED and rng.random() < 0.25:
            text = glue_greeting(text, self.openers, rng)
        if not swapped or rng.random() < 0.5:
            text = add_typos(text, rng)
        return text

    def epoch_extra(self, examples: Sequence[Example], share: float, rng: random.Random) -> list[Example]:
        """Variants of a random ``share`` of ``examples`` (fresh ones each call)."""
        n = round(len(examples) * share)
        picked = rng.sample(range(len(examples)), n) if n < len(examples) else list(range(len(examples)))
        return [Example(self.variant(examples[i], rng), examples[i].intent) for i in sorted(picked)]
