"""Orders and returns as the assistant may see them: only through verification.

A shopper reaches an order with its number and the email on it (or an email already verified in this
conversation). A wrong pair and an order that does not exist get the same answer, and repeated
failures are throttled per conversation and per order number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from aisle.models import Order, OrderLine, OrderStatus, ReturnRequest, VerificationFailure, as_utc

NUMBER = re.compile(r"^\d{5,8}$")
EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
RETURN_WINDOW = timedelta(days=30)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_CONVERSATION = 3
MAX_FAILURES_PER_ORDER = 5
CANCELLABLE = (OrderStatus.placed, OrderStatus.packed)


class OrderError(ValueError):
    pass


def normalize_number(text: object) -> str | None:
    """"#10482", "order 10482", " 10482 " → "10482"; anything else → None."""
    digits = re.sub(r"(?i)^\s*(order\s*(number|no\.?)?\s*)?#?\s*", "", str(text or "")).strip()
    return digits if NUMBER.match(digits) else None


def normalize_email(text: object) -> str | None:
    email = str(text or "").strip().lower()
    return email if EMAIL.match(email) else None


@dataclass
class LineView:
    sku: str
    title: str
    quantity: int
    unit_price: Decimal


@dataclass
class ReturnView:
    number: str
    status: str
    resolution: str
    skus: list[str]


@dataclass
class OrderView:
    number: str
    email: str
    status: OrderStatus
    placed_at: datetime
    total: Decimal
    currency: str
    lines: list[LineView]
    carrier: str | None = None
    tracking_number: str | None = None
    expected_delivery: date | None = None
    delivered_at: datetime | None = None
    returns: list[ReturnView] = field(default_factory=list)

    @property
    def cancellable(self) -> bool:
        return self.status in CANCELLABLE

    def return_problem(self, now: datetime | None = None) -> str | None:
        """Why this order cannot be returned, or None when it can."""
        now = now or datetime.now(timezone.utc)
        if self.status is OrderStatus.cancelled:
            return "it was cancelled, so there is nothing to return"
        if self.status is OrderStatus.returned or self.returns:
            return "a return for it already exists"
        if self.status is not OrderStatus.delivered or self.delivered_at is None:
            return "it hasn't been delivered yet" + (" (you can still cancel it)" if self.cancellable else "")
        if now - as_utc(self.delivered_at) > RETURN_WINDOW:
            days = (now - as_utc(self.delivered_at)).days
            return f"it was delivered {days} days ago and our return window is {RETURN_WINDOW.days} days"
        return None


def view(order: Order) -> OrderView:
    return OrderView(
        number=order.number, email=order.customer.email, status=order.status, placed_at=as_utc(order.placed_at),
        total=order.total, currency=order.currency,
        lines=[LineView(line.product.sku, line.product.title, line.quantity, line.unit_price) for line in order.lines],
        carrier=order.carrier, tracking_number=order.tracking_number, expected_delivery=order.expected_delivery,
        delivered_at=as_utc(order.delivered_at),
        returns=[ReturnView(r.number, r.status.value, r.resolution, list(r.skus)) for r in order.returns],
    )


@dataclass
class Orders:
    sessions: sessionmaker[Session]

    def _load(self, s: Session, number: str) -> Order | None:
        return s.scalars(select(Order).where(Order.number == number).options(
            selectinload(Order.lines).selectinload(OrderLine.product), selectinload(Order.customer),
            selectinload(Order.returns))).first()

    def verified(self, number: str, email: str) -> OrderView | None:
        """The order, only when the email is the one on it (case-insensitive); else None."""
        with self.sessions() as s:
            order = self._load(s, number)
            if order is None or order.customer.email.lower() != email.strip().lower():
                return None
            return view(order)

    def record_failure(self, conversation_id: str, number: str) -> None:
        with self.sessions() as s:
            s.add(VerificationFailure(conversation_id=conversation_id, order_number=number))
            s.commit()

    def throttled(self, conversation_id: str, number: str | None) -> bool:
        since = datetime.now(timezone.utc) - THROTTLE_WINDOW
        with self.sessions() as s:
            mine = s.scalar(select(func.count(VerificationFailure.id)).where(
                VerificationFailure.conversation_id == conversation_id, VerificationFailure.created_at >= since))
            theirs = s.scalar(select(func.count(VerificationFailure.id)).where(
                VerificationFailure.order_number == (number or ""), VerificationFailure.created_at >= since))
        return (mine or 0) >= MAX_FAILURES_PER_CONVERSATION or (theirs or 0) >= MAX_FAILURES_PER_ORDER

    def cancel(self, number: str, email: str) -> OrderView:
        with self.sessions() as s:
            order = self._load(s, number)
            if order is None or order.customer.email.lower() != email.lower():
                raise OrderError("no such order")
            if order.status not in CANCELLABLE:
                raise OrderError(f"order {number} is {order.status.value} and can no longer be cancelled")
            order.status = OrderStatus.cancelled
            s.commit()
            return view(order)

    def create_return(self, number: str, email: str, skus: list[str], reason: str, resolution: str,
                      conversation_id: str) -> ReturnView:
        with self.sessions() as s:
            order = self._load(s, number)
            if order is None or order.customer.email.lower() != email.lower():
                raise OrderError("no such order")
            problem = view(order).return_problem()
            if problem:
                raise OrderError(problem)
            owned = {line.product.sku for line in order.lines}
            if not skus or not set(skus) <= owned:
                raise OrderError("those items are not in this order")
            if resolution not in ("refund", "exchange"):
                raise OrderError("choose a refund or an exchange")
            record = ReturnRequest(number="", order_id=order.id, skus=skus, reason=reason[:1000],
                                   resolution=resolution, conversation_id=conversation_id)
            s.add(record)
            s.flush()
            record.number = f"R-{order.number}-{record.id}"
            s.commit()
            return ReturnView(record.number, record.status.value, resolution, skus)
