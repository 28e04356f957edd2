"""Orders and returns as the assistant may see them: only through verification, in two tiers.

The order number and the email on it show the order's *status* (what a shop's public "order status"
page shows: placed, shipped with which carrier, delivered, dates). Anything more (items, tracking
number, cancelling, returning) also needs the postcode the order ships to, which only the customer
knows. A wrong pair and an order that does not exist get the same answer.

Failures are stored (several action servers may run) with the conversation, the client address, the
order and the email. They slow the *caller* down (exponential backoff per conversation and per client
address, which may carry many shoppers and so has a larger budget), never lock an order for its owner:
once an order or an email collects failures from anyone, it only opens with every factor (email and
postcode), checked together, so guessing learns nothing and the owner still gets in.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from aisle.models import Order, OrderLine, OrderStatus, ReturnRequest, VerificationFailure, as_utc

# Order numbers as stores write them: digits ("10482", Shopify's "#1001" without its "#"), or a
# letter prefix and digit groups ("SO-2026-00042"); at least three digits, upper case.
NUMBER = re.compile(r"^(?=(?:\D*\d){3})(?:\d{3,12}|[A-Z]{1,8}[-_/.]?\d{1,12}(?:[-_/.]\d{1,12}){0,3})$")
EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
POSTCODE = re.compile(r"^(?=.*\d)[A-Z0-9]{3,10}$")
ZIP_PLUS_FOUR = re.compile(r"^(\d{5})-?\d{4}$", re.ASCII)
RETURN_WINDOW = timedelta(days=30)
FAILURE_WINDOW = timedelta(minutes=15)
FREE_FAILURES = 3  # per conversation in the window; then each further try waits twice as long as the last
# One client address may carry many shoppers (a channel's server relaying every chat, an office or mobile
# network's NAT): it gets a larger budget before the same backoff, so one shopper's typos do not lock out
# the next, while one address guessing through many conversations is still slowed down.
FREE_FAILURES_PER_CLIENT = 10
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = FAILURE_WINDOW
FAILURES_BEFORE_ALL_FACTORS = 5  # per order or per email, from anyone: then status also needs the postcode
CANCELLABLE = (OrderStatus.placed, OrderStatus.packed)


class OrderError(ValueError):
    pass


def normalize_number(text: object) -> str | None:
    """"#10482", "order 10482", " 10482 " → "10482"; "so-2026-00042" → "SO-2026-00042"; anything
    else → None."""
    number = re.sub(r"(?i)^\s*(order\s*(number|no\.?)?\s*)?#?\s*", "", str(text or "")).strip().upper()
    return number if NUMBER.match(number) else None


def normalize_email(text: object) -> str | None:
    email = str(text or "").strip().lower()
    return email if EMAIL.match(email) else None


def normalize_postcode(text: object) -> str | None:
    """" 94107 ", "94107-1234" → "94107"; "sw1a 1aa" → "SW1A1AA"; anything else → None."""
    raw = str(text or "").strip().upper()
    if plus_four := ZIP_PLUS_FOUR.match(raw):
        return plus_four.group(1)
    code = re.sub(r"[\s-]+", "", raw)
    return code if POSTCODE.match(code) else None


@dataclass(frozen=True)
class Caller:
    """Who is trying: the conversation, and the client address when the web app passed it on."""

    conversation_id: str
    client: str | None = None


class Outcome(str, enum.Enum):
    status = "status"  # number + email matched: the status tier
    full = "full"  # number + email + postcode matched: details and changes
    not_found = "not_found"  # no such order, or not with these factors (the same answer on purpose)
    need_postcode = "need_postcode"  # ask for the postcode (the pair is only checked with it when attacked)
    wrong_postcode = "wrong_postcode"  # the email was right, the postcode was not
    wait = "wait"  # this caller failed too often: try again after caller_wait() seconds


@dataclass
class Access:
    outcome: Outcome
    order: "OrderView | None" = None


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
    source: str = "aisle"  # "aisle", or the store it came from by webhook (changed there, not here)

    @property
    def from_store(self) -> bool:
        return self.source != "aisle"

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
        lines=[LineView(line.item_sku, line.item_title, line.quantity, line.unit_price) for line in order.lines],
        carrier=order.carrier, tracking_number=order.tracking_number, expected_delivery=order.expected_delivery,
        delivered_at=as_utc(order.delivered_at),
        returns=[ReturnView(r.number, r.status.value, r.resolution, list(r.skus)) for r in order.returns],
        source=order.source,
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

    def lookup(self, number: str, email: str, postcode: str | None, caller: Caller, want_full: bool) -> Access:
        """Check the factors the shopper gave, count a failure against every key it involves."""
        if self.caller_wait(caller):
            return Access(Outcome.wait)
        attacked = self.under_attack(number, email)
        if attacked and postcode is None:
            return Access(Outcome.need_postcode)  # nothing checked yet, so nothing learnt
        with self.sessions() as s:
            order = self._load(s, number)
            found = view(order) if order is not None else None
            shipping = order.shipping_postcode if order is not None else None
        if found is None or found.email.lower() != email.strip().lower():
            self._fail(caller, number, email, "email")
            return Access(Outcome.not_found)
        if postcode is None:
            return Access(Outcome.need_postcode if want_full else Outcome.status, found)
        if shipping is None or normalize_postcode(shipping) != normalize_postcode(postcode):
            self._fail(caller, number, email, "postcode")
            return Access(Outcome.not_found if attacked else Outcome.wrong_postcode, None if attacked else found)
        return Access(Outcome.full, found)

    def _fail(self, caller: Caller, number: str, email: str, factor: str) -> None:
        with self.sessions() as s:
            s.add(VerificationFailure(conversation_id=caller.conversation_id, client=caller.client,
                                      order_number=number, email=email.strip().lower()[:254], factor=factor))
            s.commit()

    def caller_wait(self, caller: Caller, now: datetime | None = None) -> int:
        """Seconds this caller must wait before the next try: 0 for the first FREE_FAILURES failures of its
        conversation (FREE_FAILURES_PER_CLIENT of its client address) in the window, then 30 s, doubling
        with each further failure, at most the window."""
        now = now or datetime.now(timezone.utc)
        budgets = [(VerificationFailure.conversation_id == caller.conversation_id, FREE_FAILURES)]
        if caller.client:
            budgets.append((VerificationFailure.client == caller.client, FREE_FAILURES_PER_CLIENT))
        waits = [0]
        with self.sessions() as s:
            for key, free in budgets:
                count, last = s.execute(select(func.count(VerificationFailure.id),
                                               func.max(VerificationFailure.created_at))
                                        .where(key, VerificationFailure.created_at >= now - FAILURE_WINDOW)).one()
                if count >= free and last is not None:
                    wait = min(LONGEST_WAIT, FIRST_WAIT * 2 ** (count - free))
                    waits.append(round((as_utc(last) + wait - now).total_seconds()))
        return max(waits)

    def under_attack(self, number: str, email: str, now: datetime | None = None) -> bool:
        """Whether this order or this email collected failures from anyone lately."""
        since = (now or datetime.now(timezone.utc)) - FAILURE_WINDOW
        with self.sessions() as s:
            on_order = s.scalar(select(func.count(VerificationFailure.id)).where(
                VerificationFailure.order_number == number, VerificationFailure.created_at >= since))
            on_email = s.scalar(select(func.count(VerificationFailure.id)).where(
                VerificationFailure.email == email.strip().lower(), VerificationFailure.created_at >= since))
        return max(on_order or 0, on_email or 0) >= FAILURES_BEFORE_ALL_FACTORS

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
            owned = {line.item_sku for line in order.lines}
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
