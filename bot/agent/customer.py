"""The agent inbox's customer panel: what the shopper proved (order verification), their cart, their
orders once verified, and the products they looked at in this conversation.

Everything comes from Aisle's own tables: the verification slots the bot set are in the transcript
(each shopper message's ``turn``), carts and orders in the shop tables. The verified email is shown
partly hidden, like all personal data agents see.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from aisle.models import Author, Customer, Message, Order, Product
from bot.agent.masking import partly_hidden
from catalog import cart

ORDERS_SHOWN = 5
PRODUCTS_SHOWN = 8


class Verification(str, enum.Enum):
    none = "not verified"
    verified = "verified"
    expired = "verification expired"  # unused for longer than AISLE_ORDER_VERIFICATION_IDLE_MINUTES


@dataclass(frozen=True)
class OrderRow:
    number: str
    status: str
    placed_at: datetime
    total: Decimal
    currency: str
    unlocked: bool  # the postcode was given too: details and changes are open


@dataclass(frozen=True)
class ProductRow:
    sku: str
    title: str
    price: Decimal
    currency: str
    opened: bool  # the shopper asked for its details (or added it to the cart), not only saw its card


@dataclass
class CustomerPanel:
    verification: Verification = Verification.none
    email: str | None = None  # partly hidden
    cart: cart.CartSummary = field(default_factory=cart.CartSummary)
    orders: list[OrderRow] = field(default_factory=list)
    products: list[ProductRow] = field(default_factory=list)


def _slots(turns: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The slot values after these turns, in order (a slot set to None is forgotten)."""
    slots: dict[str, Any] = {}
    for turn in turns:
        slots.update((turn or {}).get("slots") or {})
    return slots


def _viewed(messages: list[Message]) -> list[tuple[str, bool]]:
    """SKUs shown as cards or opened, newest first, each once (opened wins)."""
    seen: dict[str, bool] = {}
    for m in reversed(messages):
        focus = ((m.turn or {}).get("slots") or {}).get("focus_sku")
        if focus:
            seen[str(focus)] = True
        for card in (m.payload or {}).get("cards") or []:
            if isinstance(card, dict) and card.get("sku"):
                seen.setdefault(str(card["sku"]), False)
    return list(seen.items())


def panel(sessions: sessionmaker[Session], conversation_id: str, idle_s: float,
          now: datetime | None = None) -> CustomerPanel:
    now = now or datetime.now(timezone.utc)
    out = CustomerPanel(cart=cart.summary(sessions, conversation_id))
    with sessions() as s:
        messages = list(s.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                        Message.author.in_((Author.shopper, Author.bot)))
                                  .order_by(Message.id)))
        slots = _slots([m.turn for m in messages if m.author is Author.shopper])
        email, at = slots.get("verified_email"), slots.get("verified_at")
        if email:
            fresh = isinstance(at, (int, float)) and now.timestamp() - at <= idle_s
            out.verification = Verification.verified if fresh else Verification.expired
            out.email = partly_hidden(str(email))
            unlocked = {str(n) for n in slots.get("verified_orders") or []}
            out.orders = [OrderRow(o.number, o.status.value, o.placed_at, o.total, o.currency, o.number in unlocked)
                          for o in s.scalars(select(Order).join(Customer).where(func.lower(Customer.email) == str(email).lower())
                                             .order_by(Order.placed_at.desc()).limit(ORDERS_SHOWN))]
        viewed = _viewed(messages)[:PRODUCTS_SHOWN]
        products = {p.sku: p for p in s.scalars(select(Product).where(Product.sku.in_([sku for sku, _ in viewed])))}
        out.products = [ProductRow(sku, products[sku].title, products[sku].price, products[sku].currency, opened)
                        for sku, opened in viewed if sku in products]
    return out
