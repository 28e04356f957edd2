"""What the shopper has proved in this conversation: the email of their orders, and which of those orders
they unlocked with the postcode. The order actions grant it; the cart, product views and
recommendations attribute to it while it lasts (``AISLE_ORDER_VERIFICATION_IDLE_MINUTES`` unused).
"""
from __future__ import annotations

import time

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from aisle.config import settings

VERIFICATION_SLOTS = ("verified_email", "verified_orders", "verified_at")


def verification(tracker: Tracker) -> tuple[str | None, list[str]]:
    """The verified email and the orders unlocked with their postcode, unless unused for too long."""
    email, at = tracker.get_slot("verified_email"), tracker.get_slot("verified_at")
    if not email or not isinstance(at, (int, float)) or time.time() - at > settings().order_verification_idle_s:
        return None, []
    return str(email), [str(n) for n in tracker.get_slot("verified_orders") or []]


def verified_now(email: str, unlocked: list[str]) -> list[EventType]:
    return [SlotSet("verified_email", email), SlotSet("verified_orders", unlocked), SlotSet("verified_at", time.time())]


def forgotten() -> list[EventType]:
    return [SlotSet(name, None) for name in VERIFICATION_SLOTS]
