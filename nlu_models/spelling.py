"""Normalising misspelt words before the model sees them ("retrun" -> "return", "crat" -> "cart").

A word is left alone when it is known: a whole word of the encoder's vocabulary, a word of the training
data, or a word of the lookup tables (brands, product types, colours...). An unknown word of 4+ letters
becomes the most frequent training-data or lookup word one edit away (a letter dropped, added, changed
or two neighbours swapped) that starts with the same letter; with no such word it stays as typed.
Nothing here is a list of misspellings: the vocabulary comes from the training data and the catalog.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

LETTERS = "abcdefghijklmnopqrstuvwxyz"
TOKEN = re.compile(r"[A-Za-z]+")
MIN_LENGTH = 4


def words(text: str) -> list[str]:
    return [w.lower() for w in TOKEN.findall(text)]


def vocabulary(texts: Iterable[str]) -> dict[str, int]:
    """Word counts of the training texts (what corrections may turn a word into)."""
    return dict(Counter(w for t in texts for w in words(t) if len(w) >= 2))


def edits1(word: str) -> set[str]:
    """Damerau-Levenshtein distance-1 neighbours of ``word`` (Norvig's construction)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in LETTERS]
    inserts = [a + c + b for a, b in splits for c in LETTERS]
    return set(deletes + transposes + replaces + inserts)


@dataclass(frozen=True)
class Edit:
    """One replaced word: its span in the original text and in the normalised text."""

    start: int
    end: int
    new_start: int
    new_end: int
    original: str
    replacement: str


@dataclass
class Speller:
    counts: dict[str, int]  # training-data words and their frequency: the correction targets
    known: frozenset[str] = frozenset()  # other words that are never corrected (encoder vocabulary)
    extra: dict[str, int] = field(default_factory=dict)  # lookup-table words (catalog), count 1

    def with_terms(self, terms: Iterable[str]) -> "Speller":
        """A speller that also knows (and may correct towards) these lookup-table terms."""
        extra = {w: 1 for t in terms for w in words(t) if len(w) >= 3}
        return Speller(self.counts, self.known, extra)

    def is_known(self, word: str) -> bool:
        return word in self.counts or word in self.extra or word in self.known

    def correct(self, word: str) -> str | None:
        """The correction of one lowercase word, or None when it stays as typed."""
        if len(word) < MIN_LENGTH or not word.isalpha() or self.is_known(word):
            return None
        best, best_count = None, 0
        for candidate in edits1(word):
            if candidate[0] != word[0] or len(candidate) < 3:
                continue
            count = self.counts.get(candidate, 0) or self.extra.get(candidate, 0)
            if count > best_count or (count == best_count and count and candidate < (best or "~")):
                best, best_count = candidate, count
        return best

    def normalise(self, text: str) -> tuple[str, list[Edit]]:
        """``text`` with unknown words corrected, and where each replacement sits in both texts."""
        out: list[str] = []
        edits: list[Edit] = []
        pos = shift = 0
        for m in TOKEN.finditer(text):
            word = m.group(0)
            fixed = self.correct(word.lower())
            if fixed is None:
                continue
            if word[0].isupper():
                fixed = fixed.capitalize()
            out.append(text[pos:m.start()])
            new_start = m.start() + shift
            edits.append(Edit(m.start(), m.end(), new_start, new_start + len(fixed), word, fixed))
            out.append(fixed)
            shift += len(fixed) - len(word)
            pos = m.end()
        out.append(text[pos:])
        return "".join(out), edits


def to_original(start: int, end: int, edits: list[Edit]) -> tuple[int, int]:
    """Map a span of the normalised text back onto the original text."""
    def point(i: int, is_end: bool) -> int:
        shift = 0
        for e in edits:
            if i < e.new_start or (is_end and i == e.new_start):
                break
            if i < e.new_end or (is_end and i == e.new_end):
                return e.end if is_end else e.start
            shift = e.end - e.new_end
        return i + shift

    return point(start, False), point(end, True)
