"""The store's orders, from Shopify's order and fulfillment webhook JSON, into Aisle's order tables.

``parse_order`` / ``parse_fulfillment`` check a payload whole and raise ``PayloadError`` saying what is
wrong, before anything is written; ``StoreOrders.apply`` then writes it in one transaction together
with the delivery id, so a delivery is taken once. Field names are Shopify's (REST Admin API Order and
Fulfillment resources): name, order_number, email, line_items[sku, variant_id, title, quantity, price],
cancelled_at, fulfillment_status, fulfillments[status, shipment_status, tracking_company,
tracking_number(s)], shipping_address.zip, total_price, currency.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from aisle.models import (Customer, Interaction, InteractionKind, Order, OrderLine, OrderStatus, Product,
                          WebhookDelivery, as_utc, utcnow)
from catalog.orders import normalize_email, normalize_number, normalize_postcode

logger = logging.getLogger(__name__)
SOURCE = "shopify"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
FULFILLMENT_TOPICS = ("fulfillments/create", "fulfillments/update")
TOPICS = ORDER_TOPICS + FULFILLMENT_TOPICS
MAX_LINES = 500


class PayloadError(ValueError):
    """The payload is not what the topic promises; the message says which field and why."""


class ReplayError(ValueError):
    """This delivery was taken before (or is too old to tell): nothing is applied again."""


class DuplicateDelivery(ReplayError):
    """A delivery id taken before: Shopify's retry of one whose answer it did not see, or a replay."""


class UnknownOrderError(LookupError):
    """A fulfillment for an order Aisle has not received yet (the store retries it later)."""


@dataclass(frozen=True)
class Shipment:
    status: OrderStatus  # shipped or delivered
    carrier: str | None
    tracking_number: str | None
    at: datetime | None  # when it was last updated (delivered: when it arrived)


@dataclass(frozen=True)
class StoreLine:
    sku: str | None
    variant_id: str | None
    title: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class StoreOrder:
    external_id: str
    number: str
    email: str
    name: str
    placed_at: datetime
    total: Decimal
    currency: str
    postcode: str | None
    updated_at: datetime | None  # the store's time of this version of the order
    cancelled: bool
    fulfilled: bool  # the store says shipped (fulfillment_status fulfilled / partial) without a fulfillment
    lines: list[StoreLine]
    shipments: list[Shipment] = field(default_factory=list)


@dataclass(frozen=True)
class StoreFulfillment:
    order_external_id: str
    shipment: Shipment | None  # None: cancelled or failed, the order stays as it was


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object")
    return value


def _id(payload: dict[str, Any], key: str, where: str = "") -> str:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise PayloadError(f"{where}{key} is required (the store's id)")
    text = str(value).strip()
    if len(text) > 64:
        raise PayloadError(f"{where}{key} is longer than 64 characters")
    return text


def _text(payload: dict[str, Any], key: str, limit: int) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise PayloadError(f"{key} must be a string")
    return str(value).strip()[:limit] or None


def _money(payload: dict[str, Any], key: str, where: str = "", default: str | None = None) -> Decimal:
    raw = payload.get(key, default)
    try:
        if isinstance(raw, bool) or raw is None:
            raise InvalidOperation
        value = Decimal(str(raw))
    except InvalidOperation:
        raise PayloadError(f"{where}{key} must be an amount like \"19.99\", got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise PayloadError(f"{where}{key} must be an amount ≥ 0, got {raw!r}")
    return value.quantize(Decimal("0.01"))


def _moment(payload: dict[str, Any], key: str, where: str = "") -> datetime | None:
    raw = payload.get(key)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where}{key} must be an ISO 8601 time, got {raw!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _shipment(payload: dict[str, Any], where: str) -> Shipment | None:
    """A fulfillment as the shopper sees it; None for one that was cancelled or failed."""
    status = str(payload.get("status") or "success").lower()
    if status in ("cancelled", "error", "failure"):
        return None
    numbers = payload.get("tracking_numbers")
    tracking = _text(payload, "tracking_number", 64)
    if tracking is None and isinstance(numbers, list) and numbers and isinstance(numbers[0], str):
        tracking = numbers[0].strip()[:64] or None
    delivered = str(payload.get("shipment_status") or "").lower() == "delivered"
    return Shipment(OrderStatus.delivered if delivered else OrderStatus.shipped,
                    _text(payload, "tracking_company", 64), tracking,
                    _moment(payload, "updated_at", where) or _moment(payload, "created_at", where))


def parse_order(payload: Any) -> StoreOrder:
    order = _object(payload, "the order")
    external_id = _id(order, "id")
    name = order.get("name")
    number = normalize_number(name) if isinstance(name, str) else None
    if number is None and order.get("order_number") is not None:
        number = normalize_number(str(order["order_number"]))
    if number is None:
        raise PayloadError(f"name {name!r} (or order_number) is not an order number like #1001 or SO-2026-00042")
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    raw_email = order.get("email") or order.get("contact_email") or customer.get("email")
    email = normalize_email(raw_email)
    if email is None:
        raise PayloadError(f"email {raw_email!r} is not an email address: shoppers look orders up by it")
    address = order.get("shipping_address")
    address = _object(address, "shipping_address") if address is not None else {}
    raw_lines = order.get("line_items")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise PayloadError("line_items must be a non-empty list")
    if len(raw_lines) > MAX_LINES:
        raise PayloadError(f"line_items has more than {MAX_LINES} lines")
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        where = f"line_items[{n}]."
        line = _object(raw, f"line_items[{n}]")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise PayloadError(f"{where}quantity must be a whole number ≥ 0, got {quantity!r}")
        if quantity == 0:  # removed by an order edit
            continue
        sku = _text(line, "sku", 64)
        variant = str(line["variant_id"]) if isinstance(line.get("variant_id"), (int, str)) else None
        title = _text(line, "title", 300) or _text(line, "name", 300) or sku or "item"
        lines.append(StoreLine(sku, variant, title, quantity, _money(line, "price", where)))
    fulfillments = order.get("fulfillments") or []
    if not isinstance(fulfillments, list):
        raise PayloadError("fulfillments must be a list")
    shipments = [s for n, f in enumerate(fulfillments, start=1)
                 if (s := _shipment(_object(f, f"fulfillments[{n}]"), f"fulfillments[{n}].")) is not None]
    first, last = str(customer.get("first_name") or "").strip(), str(customer.get("last_name") or "").strip()
    who = f"{first} {last}".strip() or str(address.get("name") or "").strip() or email.split("@")[0]
    currency = str(order.get("currency") or "USD").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise PayloadError(f"currency must be a 3-letter code, got {order.get('currency')!r}")
    zip_code = address.get("zip")
    return StoreOrder(
        external_id=external_id, number=number, email=email, name=who[:200],
        placed_at=_moment(order, "processed_at") or _moment(order, "created_at") or utcnow(),
        total=_money(order, "total_price", default="0"), currency=currency,
        postcode=normalize_postcode(zip_code) if isinstance(zip_code, str) else None,
        updated_at=_moment(order, "updated_at"),
        cancelled=_moment(order, "cancelled_at") is not None,
        fulfilled=str(order.get("fulfillment_status") or "").lower() in ("fulfilled", "partial"),
        lines=lines, shipments=shipments,
    )


def parse_fulfillment(payload: Any) -> StoreFulfillment:
    fulfillment = _object(payload, "the fulfillment")
    return StoreFulfillment(_id(fulfillment, "order_id"), _shipment(fulfillment, ""))


def _status(order: StoreOrder) -> tuple[OrderStatus, Shipment | None]:
    if order.cancelled:
        return OrderStatus.cancelled, None
    latest = max(order.shipments, key=lambda s: s.at or order.placed_at, default=None)
    if latest is not None:
        delivered = all(s.status is OrderStatus.delivered for s in order.shipments)
        return (OrderStatus.delivered if delivered else OrderStatus.shipped), latest
    return (OrderStatus.shipped if order.fulfilled else OrderStatus.placed), None


def _ship(record: Order, status: OrderStatus, shipment: Shipment | None) -> None:
    if record.status is OrderStatus.returned:
        return  # a return handled in Aisle is not undone by the store's view of the shipment
    record.status = status
    if shipment is not None:
        record.carrier = shipment.carrier or record.carrier
        record.tracking_number = shipment.tracking_number or record.tracking_number
        if status is OrderStatus.delivered:
            record.delivered_at = shipment.at or utcnow()


@dataclass
class StoreOrders:
    sessions: sessionmaker[Session]
    max_age: timedelta

    def _take(self, s: Session, delivery_id: str, topic: str, triggered_at: datetime | None) -> None:
        """Refuse a delivery seen before or triggered too long ago; remember this one."""
        now = utcnow()
        if triggered_at is not None and not now - self.max_age <= triggered_at <= now + timedelta(minutes=5):
            raise ReplayError(f"triggered at {triggered_at.isoformat()}, outside the accepted "
                              f"{int(self.max_age.total_seconds() // 60)} minutes")
        if s.scalar(select(WebhookDelivery.id).where(WebhookDelivery.delivery_id == delivery_id)) is not None:
            raise DuplicateDelivery(f"delivery {delivery_id} was received before")
        # Ids older than the accepted age are refused by their time anyway: no need to keep them.
        s.execute(delete(WebhookDelivery).where(WebhookDelivery.received_at < now - self.max_age - timedelta(days=1)))
        s.add(WebhookDelivery(delivery_id=delivery_id, topic=topic, received_at=now))

    def apply(self, topic: str, payload: Any, delivery_id: str, triggered_at: datetime | None = None) -> str:
        """Check the payload, then write it with the delivery id in one transaction. Returns the order
        number. Raises PayloadError, ReplayError or UnknownOrderError; nothing is written then."""
        if topic not in TOPICS:
            raise PayloadError(f"topic {topic!r} is not handled: subscribe to {', '.join(TOPICS)}")
        parsed = parse_order(payload) if topic in ORDER_TOPICS else parse_fulfillment(payload)
        try:
            with self.sessions.begin() as s:
                self._take(s, delivery_id, topic, triggered_at)
                return self._upsert(s, parsed) if isinstance(parsed, StoreOrder) else self._fulfil(s, parsed)
        except IntegrityError:  # the same delivery taken at the same moment by another app instance
            raise DuplicateDelivery(f"delivery {delivery_id} was received before") from None

    def _fulfil(self, s: Session, fulfillment: StoreFulfillment) -> str:
        order_id = fulfillment.order_external_id
        record = s.scalars(select(Order).where(Order.source == SOURCE, Order.external_id == order_id)).first()
        if record is None:
            raise UnknownOrderError(f"order {order_id} has not arrived yet (its orders/create webhook comes first)")
        if fulfillment.shipment is not None and record.status is not OrderStatus.cancelled:
            _ship(record, fulfillment.shipment.status, fulfillment.shipment)
        return record.number

    def _upsert(self, s: Session, order: StoreOrder) -> str:
        record = s.scalars(select(Order).where(Order.source == SOURCE, Order.external_id == order.external_id)
                           .options(selectinload(Order.lines))).first()
        clash = s.scalars(select(Order).where(Order.number == order.number)).first()
        if clash is not None and clash is not record:
            raise PayloadError(f"order number {order.number} already belongs to another order in Aisle")
        customer = s.scalars(select(Customer).where(Customer.email == order.email)).first()
        if customer is None:
            customer = Customer(email=order.email, name=order.name)
            s.add(customer)
        created = record is None
        if (record is not None and record.store_updated_at is not None and order.updated_at is not None
                and order.updated_at < as_utc(record.store_updated_at)):
            # Webhooks may arrive out of order: an update older than what is held changes nothing.
            logger.info("store order %s: an update of %s arrived after one of %s, ignored", order.number,
                        order.updated_at.isoformat(), record.store_updated_at.isoformat())
            return order.number
        if record is None:
            record = Order(source=SOURCE, external_id=order.external_id, number=order.number)
            s.add(record)
        status, shipment = _status(order)
        record.number, record.customer = order.number, customer
        record.placed_at, record.total, record.currency = order.placed_at, order.total, order.currency
        record.shipping_postcode = order.postcode
        if order.updated_at is not None:
            record.store_updated_at = order.updated_at
        _ship(record, status, shipment)
        products = self._products(s, order.lines)
        record.lines = [OrderLine(product=products.get(line.sku or "") or products.get(f"v:{line.variant_id}"),
                                  sku=line.sku, title=line.title, quantity=line.quantity, unit_price=line.unit_price)
                        for line in order.lines]
        s.flush()
        if created:  # a purchase, for the recommender: once per order, however often it is updated
            s.add_all(Interaction(customer_id=customer.id, product_id=line.product.id, kind=InteractionKind.purchase,
                                  quantity=line.quantity, created_at=order.placed_at)
                      for line in record.lines if line.product is not None)
        logger.info("store order %s %s (%s)", order.number, "created" if created else "updated", record.status.value)
        return order.number

    def _products(self, s: Session, lines: list[StoreLine]) -> dict[str, Product]:
        """Catalog products by sku, and by ``v:<variant id>`` for lines without a known sku."""
        skus = [line.sku for line in lines if line.sku]
        variants = [line.variant_id for line in lines if line.variant_id]
        found: dict[str, Product] = {}
        if skus:
            found.update({p.sku: p for p in s.scalars(select(Product).where(Product.sku.in_(skus)))})
        if variants:
            found.update({f"v:{p.variant_id}": p for p in s.scalars(select(Product).where(Product.variant_id.in_(variants)))})
        return found
