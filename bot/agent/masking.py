"""Personal data in transcripts, hidden from agents by default: emails, phone numbers, card numbers."""
from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
PHONE = re.compile(r"(?<![\w])\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){2,5}(?![\w])")
MIN_PHONE_DIGITS = 7


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card number hidden]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()


DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


def _phone(match: re.Match[str]) -> str:
    found = match.group()
    if DATE.fullmatch(found.strip()) or len(re.sub(r"\D", "", found)) < MIN_PHONE_DIGITS:
        return found
    return "[phone hidden]"


def mask(text: str) -> str:
    """The text with card-like numbers (Luhn-valid), emails and phone numbers replaced.
    Order numbers (5-6 digits) and prices stay visible: agents need them."""
    text = CARD.sub(_card, text)
    text = EMAIL.sub("[email hidden]", text)
    return PHONE.sub(_phone, text)


def mask_message(message: dict[str, Any]) -> dict[str, Any]:
    """A transcript message for an agent: text and entity values masked."""
    out = dict(message, text=mask(message.get("text") or ""))
    nlu = message.get("nlu")
    if nlu:
        out["nlu"] = dict(nlu, entities=[dict(e, value=mask(str(e.get("value", "")))) for e in nlu.get("entities", [])])
    return out
