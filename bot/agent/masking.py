"""Personal data in transcripts, hidden from agents by default: emails, phone numbers, card numbers,
postcodes; and slots or entities that hold such data, whatever their value looks like."""
from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
PHONE = re.compile(r"(?<![\w])\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){2,5}(?![\w])")
MIN_PHONE_DIGITS = 7
# A postcode is only recognisable in free text by its shape (UK) or by what stands next to it: a
# bare 5-digit US ZIP looks like an order number, which agents need to see.
UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)
NAMED_POSTCODE = re.compile(r"\b((?:zip|post\s?code|postal\s?code)(?:\s*(?:code|is|was|:|=|#))*\s*)"
                            r"(\d{5}(?:-\d{4})?|(?=[A-Z0-9 ]*\d)[A-Z0-9]{2,4}\s?[A-Z0-9]{3})\b", re.IGNORECASE)
# "order 10002 alex@example.com 94107": the number after an email is the order's postcode.
ZIP_AFTER_EMAIL = re.compile(r"([\w.+-]+@[\w-]+(?:\.[\w-]+)+[\s,;]{1,3})(\d{5}(?:-\d{4})?)\b")
POSTCODE_HIDDEN = "[postcode hidden]"
EMAIL_HIDDEN = "[email hidden]"
HIDDEN = "[hidden]"
# Slots and entities whose values are personal data whatever they look like.
SENSITIVE_NAMES = re.compile(r"email|post_?code|zip|phone|address", re.IGNORECASE)


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


def mask(text: str, email: str = EMAIL_HIDDEN) -> str:
    """The text with card-like numbers (Luhn-valid), postcodes, emails and phone numbers replaced
    (emails by ``email``). Order numbers (5-6 digits) and prices stay visible: agents need them."""
    text = CARD.sub(_card, text)
    text = NAMED_POSTCODE.sub(lambda m: m.group(1) + POSTCODE_HIDDEN, text)
    text = ZIP_AFTER_EMAIL.sub(lambda m: m.group(1) + POSTCODE_HIDDEN, text)
    text = UK_POSTCODE.sub(POSTCODE_HIDDEN, text)
    text = EMAIL.sub(email, text)
    return PHONE.sub(_phone, text)


def search_text(text: str) -> str:
    """What the agent console's search looks in: the masked text, lower case, so a search can never
    tell whether some email or phone number occurs in a conversation."""
    return mask(text).lower()


def partly_hidden(email: str) -> str:
    """A verified email for the customer panel: the first letter and the domain ("a•••@example.com"),
    enough to tell the shopper which address it was, not enough to write to it."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if at and local else EMAIL_HIDDEN


def mask_value(name: str, value: Any) -> Any:
    """A slot's or entity's value for an agent: hidden whole when the name says it is personal data."""
    if value is None:
        return None
    if SENSITIVE_NAMES.search(name):
        return HIDDEN
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_value(name, v) for v in value]
    return value


def mask_message(message: dict[str, Any]) -> dict[str, Any]:
    """A transcript message for an agent: text, entity values and slot values masked."""
    out = dict(message, text=mask(message.get("text") or ""))
    nlu = message.get("nlu")
    if nlu:
        out["nlu"] = dict(nlu, entities=[dict(e, value=mask_value(str(e.get("entity", "")), e.get("value", "")))
                                         for e in nlu.get("entities", [])])
    turn = message.get("turn")
    if turn and isinstance(turn.get("slots"), dict):
        out["turn"] = dict(turn, slots={k: mask_value(str(k), v) for k, v in turn["slots"].items()})
    return out


# Corrections become NLU training data: an email keeps an email's shape (the model learns from it and
# the inline [value](email) markup still finds it) but is nobody's address.
TRAINING_EMAIL = "customer@example.com"


def training_text(text: str) -> str:
    """A shopper message as exported training data: personal data replaced."""
    return mask(text, email=TRAINING_EMAIL)


def training_entity(entity: dict[str, Any]) -> dict[str, Any]:
    name, value = str(entity.get("entity", "")), str(entity.get("value", ""))
    if "email" in name.lower():
        return dict(entity, value=TRAINING_EMAIL)
    return dict(entity, value=mask_value(name, value) if SENSITIVE_NAMES.search(name) else training_text(value))
