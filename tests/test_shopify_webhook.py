"""Shopify's order and fulfillment webhooks (``POST /webhooks/shopify``) against an in-process web app,
over HTTP: signature, replays, malformed bodies, and what the store's orders become in Aisle's tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from aisle.db import session_factory
from aisle.models import (Customer, Interaction, InteractionKind, Order, OrderLine, OrderStatus, Product,
                          WebhookDelivery)
from bot.app import create_app
from tests.shopify_payloads import WEBHOOK_SECRET, delivery, fulfillment, order
from tests.web_fixtures import web_settings

PATH = "/webhooks/shopify"
BUYER = "robin.hale@example.org"


@pytest.fixture
async def shop(tmp_path):
    settings = web_settings(tmp_path, AISLE_SHOPIFY_WEBHOOK_SECRET=WEBHOOK_SECRET)
    db = session_factory(settings.database_url)
    with db.begin() as s:
        s.add(Product(sku="KET-100", title="Stainless Steel Electric Kettle 1.7 L", description="A kettle.",
                      category="Kettles", price=Decimal("39.99"), stock=5))
        s.add(Order(number="10001", customer=Customer(email="alex.morgan@example.com", name="Alex"),
                    total=Decimal("1")))
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client, db


async def send(client, topic, payload, **options):  # type: ignore[no-untyped-def]
    body, headers = delivery(topic, payload, **options)
    response = await client.post(PATH, data=body, headers=headers)
    return response.status, await response.json()


def stored(db, number: str) -> Order | None:
    with db() as s:
        return s.scalars(select(Order).where(Order.number == number).options(
            selectinload(Order.lines).selectinload(OrderLine.product), selectinload(Order.customer))).first()


def counts(db) -> tuple[int, ...]:
    with db() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Order, OrderLine, Customer,
                                                                             Interaction, WebhookDelivery))


async def test_without_the_secret_the_route_is_off(tmp_path):
    async with TestClient(TestServer(create_app(web_settings(tmp_path)))) as client:
        body, headers = delivery("orders/create", order(1, "#1001", BUYER))
        assert (await client.post(PATH, data=body, headers=headers)).status == 404


async def test_a_signed_order_is_stored_with_any_number_format(shop):
    client, db = shop
    status, reply = await send(client, "orders/create", order(5001, "SO-2026-00042", BUYER, zip_code="94107-1234"))
    assert (status, reply) == (200, {"ok": True, "order": "SO-2026-00042"})
    record = stored(db, "SO-2026-00042")
    assert record is not None and (record.source, record.external_id, record.status) == ("shopify", "5001",
                                                                                          OrderStatus.placed)
    assert (record.customer.email, record.customer.name, record.shipping_postcode) == (BUYER, "Robin Hale", "94107")
    assert record.placed_at.replace(tzinfo=timezone.utc) == datetime(2026, 11, 28, 15, 15, tzinfo=timezone.utc)
    assert [(l.item_sku, l.item_title, l.quantity, l.unit_price) for l in record.lines] == [
        ("KET-100", "Stainless Steel Electric Kettle 1.7 L", 1, Decimal("39.99")),
        ("GIFT-WRAP", "Gift wrapping", 1, Decimal("14.99"))]  # kept though the catalog lacks it
    assert record.lines[0].product is not None and record.lines[1].product is None
    status, _ = await send(client, "orders/create", order(5002, "#1002", BUYER))
    assert status == 200 and stored(db, "1002") is not None  # Shopify's "#1002" is looked up as 1002


async def test_updates_fulfillments_and_cancellation_follow_the_store(shop):
    client, db = shop
    assert (await send(client, "orders/create", order(5003, "#1003", BUYER)))[0] == 200
    assert (await send(client, "fulfillments/create", fulfillment(5003)))[0] == 200
    record = stored(db, "1003")
    assert (record.status, record.carrier, record.tracking_number) == (
        OrderStatus.shipped, "USPS", "9400 1000 0000 0000 0000 00")
    assert (await send(client, "fulfillments/update", fulfillment(5003, "delivered")))[0] == 200
    assert stored(db, "1003").status is OrderStatus.delivered and stored(db, "1003").delivered_at is not None
    edited = order(5003, "#1003", BUYER, line_items=order(0, "#1", BUYER)["line_items"][:1],
                   cancelled_at="2026-11-30T08:00:00Z")
    assert (await send(client, "orders/cancelled", edited))[0] == 200
    record = stored(db, "1003")
    assert record.status is OrderStatus.cancelled and [l.item_sku for l in record.lines] == ["KET-100"]
    with db() as s:  # the purchase was noted once, when the order was created
        purchases = s.scalars(select(Interaction).where(Interaction.kind == InteractionKind.purchase)).all()
        assert [(p.customer_id, p.quantity) for p in purchases] == [(record.customer_id, 1)]


async def test_an_older_update_arriving_late_changes_nothing(shop):
    client, db = shop
    created = order(5010, "#1010", BUYER, updated_at="2026-11-30T09:00:00Z")
    assert (await send(client, "orders/create", created))[0] == 200
    cancelled = order(5010, "#1010", BUYER, updated_at="2026-11-30T11:00:00Z", cancelled_at="2026-11-30T11:00:00Z")
    assert (await send(client, "orders/cancelled", cancelled))[0] == 200
    edited_earlier = order(5010, "#1010", BUYER, updated_at="2026-11-30T10:00:00Z",
                           line_items=order(0, "#1", BUYER)["line_items"][:1])
    assert (await send(client, "orders/updated", edited_earlier))[0] == 200  # taken, so Shopify stops retrying
    record = stored(db, "1010")
    assert record.status is OrderStatus.cancelled and len(record.lines) == 2  # the newer version stands


@pytest.mark.parametrize("headers", [{"X-Shopify-Hmac-Sha256": "AAAA"}, {"X-Shopify-Hmac-Sha256": ""}])
async def test_a_bad_or_missing_signature_is_refused_and_nothing_written(shop, headers, caplog):
    client, db = shop
    before = counts(db)
    body, sent = delivery("orders/create", order(5004, "#1004", BUYER))
    response = await client.post(PATH, data=body, headers={**sent, **headers})
    assert response.status == 401 and "signature" in (await response.json())["error"]
    assert counts(db) == before and "signature" in caplog.text


async def test_signed_with_another_secret_is_refused(shop):
    client, db = shop
    before = counts(db)
    assert (await send(client, "orders/create", order(5005, "#1005", BUYER), secret="not-the-shops-secret-0000"))[0] == 401
    assert counts(db) == before


async def test_replays_are_not_applied_and_logged(shop, caplog):
    client, db = shop
    payload = order(5006, "#1006", BUYER)
    assert (await send(client, "orders/create", payload, delivery_id="d-1"))[0] == 200
    before = counts(db)
    status, reply = await send(client, "orders/updated", dict(payload, cancelled_at="2026-11-30T08:00:00Z"),
                               delivery_id="d-1")
    assert status == 200 and reply == {"ok": True, "duplicate": True}  # acknowledged, so Shopify stops retrying
    status, reply = await send(client, "orders/updated", payload, triggered_at=datetime.now(timezone.utc) - timedelta(hours=6))
    assert status == 409 and "outside the accepted 300 minutes" in reply["error"]
    assert counts(db) == before and stored(db, "1006").status is OrderStatus.placed
    assert "replay refused" in caplog.text and "acknowledged, not applied again" in caplog.text


@pytest.mark.parametrize("topic, payload, problem", [
    ("orders/create", b"{not json", "not valid JSON"),
    ("orders/create", [1, 2], "must be a JSON object"),
    ("orders/create", order(5007, "#1007", "not-an-email"), "email 'not-an-email' is not an email address"),
    ("orders/create", order(5007, "order please", BUYER, order_number=None), "is not an order number"),
    ("orders/create", order(5007, "#1007", BUYER, line_items=[]), "line_items must be a non-empty list"),
    ("orders/create", order(5007, "#1007", BUYER, line_items=[{"sku": "KET-100", "quantity": "two", "price": "1"}]),
     "line_items[1].quantity must be a whole number"),
    ("orders/create", order(5007, "#1007", BUYER, total_price="lots"), "total_price must be an amount"),
    ("orders/create", order(5007, "10001", BUYER), "already belongs to another order"),
    ("orders/create", {k: v for k, v in order(5007, "#1007", BUYER).items() if k != "id"}, "id is required"),
    ("products/create", {"id": 1}, "topic 'products/create' is not handled"),
    ("fulfillments/create", {"status": "success"}, "order_id is required"),
])
async def test_a_malformed_body_gets_a_clear_400_and_nothing_is_written(shop, topic, payload, problem):
    client, db = shop
    before = counts(db)
    status, reply = await send(client, topic, payload)
    assert status == 400 and problem in reply["error"], reply
    assert counts(db) == before


async def test_a_fulfillment_before_its_order_is_refused_for_a_retry(shop):
    client, db = shop
    before = counts(db)
    status, reply = await send(client, "fulfillments/create", fulfillment(424242))
    assert status == 422 and "has not arrived yet" in reply["error"] and counts(db) == before
