"""The store integration through the running services: Shopify order webhooks signed and sent over HTTP
to the web app, then asked about in chat (JSON chat API); the cart handed to the store's checkout; what
the chat did written to ``interactions``."""
from __future__ import annotations

import random
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, update

from aisle.db import session_factory
from aisle.models import Interaction, InteractionKind, Order, Product, WebhookDelivery
from tests.e2e_stack import api_conversation_id
from tests.shopify_payloads import delivery, fulfillment, order
from tests.test_orders_e2e import chat

pytestmark = pytest.mark.e2e


def post_delivery(stack, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"{stack.web_url}/webhooks/shopify", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def send(stack, topic: str, payload: Any, **options: Any) -> tuple[int, str]:
    return post_delivery(stack, *delivery(topic, payload, **options))


def new_store_order() -> tuple[int, str, str]:
    """A Shopify order id, a prefixed order number and a buyer no other test uses."""
    n = random.randrange(10_000, 99_999)
    return random.randrange(10**9, 10**10), f"SO-2026-{n:05d}", f"buyer-{uuid.uuid4().hex[:8]}@example.org"


def written(stack) -> tuple[int, int]:
    with session_factory(stack.settings.database_url)() as s:
        return s.scalar(select(func.count(Order.id))), s.scalar(select(func.count(WebhookDelivery.id)))


def test_an_order_created_by_a_signed_webhook_is_answered_in_the_next_message(stack):
    order_id, number, email = new_store_order()
    status, body = send(stack, "orders/create", order(order_id, number, email, zip_code="60614"))
    assert status == 200 and number in body
    sender = f"store-{uuid.uuid4().hex[:12]}"
    text, _ = chat(stack, sender, f"where is my order {number.lower()}? {email}", "127.0.0.41")
    assert f"Order {number}" in text and "is confirmed" in text, text

    assert send(stack, "fulfillments/create", fulfillment(order_id))[0] == 200
    text, _ = chat(stack, sender, f"and where is order {number} now?", "127.0.0.41")
    assert f"Order {number}" in text and "has shipped with USPS" in text, text
    text, _ = chat(stack, sender, "can you cancel it?", "127.0.0.41")
    assert "postcode" in text, text
    text, _ = chat(stack, sender, "60614", "127.0.0.41")
    assert f"I can't cancel order {number}" in text and "person" in text, text  # the store holds it


def test_bad_signature_replay_and_malformed_bodies_are_refused_with_nothing_written(stack):
    order_id, number, email = new_store_order()
    before = written(stack)
    body, headers = delivery("orders/create", order(order_id, number, email))
    assert post_delivery(stack, body, {**headers, "X-Shopify-Hmac-Sha256": "bm90IHRoZSBzaWduYXR1cmU="})[0] == 401
    status, text = send(stack, "orders/create", b'{"id": 1, "name": ')
    assert status == 400 and "not valid JSON" in text
    status, text = send(stack, "orders/create", order(order_id, number, "nobody"))
    assert status == 400 and "is not an email address" in text
    assert written(stack) == before

    assert post_delivery(stack, body, headers)[0] == 200
    after = written(stack)
    status, text = post_delivery(stack, body, headers)  # the same delivery again, byte for byte
    assert status == 200 and '"duplicate": true' in text and written(stack) == after


def test_the_cart_goes_to_the_stores_checkout_and_the_chat_feeds_the_recommender(stack):
    with session_factory(stack.settings.database_url).begin() as s:  # as a Shopify import with ids would
        s.execute(update(Product).where(Product.sku == "KET-100").values(variant_id="44001"))
    sender = f"cart-{uuid.uuid4().hex[:12]}"
    assert stack.chat(sender, '/product_details{"sku": "KET-100"}')[0] == 200
    status, body = stack.chat(sender, '/add_to_cart{"sku": "KET-100", "quantity": 2}')
    carts = [m["custom"] for m in body["messages"] if (m.get("custom") or {}).get("type") == "cart"]
    assert status == 200 and carts, body
    assert carts[0]["checkout_url"] == "https://shop.example.com/cart/44001:2"
    assert any("Go to checkout: https://shop.example.com/cart/44001:2" in m.get("text", "") for m in body["messages"])
    with session_factory(stack.settings.database_url)() as s:
        seen = s.execute(select(Interaction.kind, Interaction.quantity, Interaction.customer_id)
                         .join(Product, Product.id == Interaction.product_id)
                         .where(Interaction.conversation_id == api_conversation_id(sender),
                                Product.sku == "KET-100").order_by(Interaction.id)).all()
    assert [tuple(r) for r in seen] == [(InteractionKind.view, 1, None), (InteractionKind.cart, 2, None)]
