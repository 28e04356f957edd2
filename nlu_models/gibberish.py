"""Seeded synthetic noise (keyboard mashes, repeated letters, symbol runs) taught to the model as
``nlu_fallback``, so meaningless input is recognised as such rather than forced onto an intent."""
from __future__ import annotations

import random

KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _mash(rng: random.Random) -> str:
    row = rng.choice(KEYBOARD_ROWS + [LETTERS])
    words = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        start = rng.randrange(len(row))
        length = rng.randint(3, 9)
        word = "".join(row[(start + rng.randint(-2, 2)) % len(row)] for _ in range(length))
        words.append(word)
    return " ".join(words)


def _repeat(rng: random.Random) -> str:
    return rng.choice(LETTERS) * rng.randint(3, 12)


def _symbols(rng: random.Random) -> str:
    return "".join(rng.choice("?!.,;:#@%&*~-_/\\|") for _ in range(rng.randint(2, 8)))


def _alnum(rng: random.Random) -> str:
    return "".join(rng.choice(LETTERS + "0123456789") for _ in range(rng.randint(4, 10)))


def gibberish(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    makers = [_mash, _mash, _mash, _repeat, _symbols, _alnum]
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        text = rng.choice(makers)(rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
