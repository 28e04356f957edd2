"""Orders and recommendations end to end through the real services (NLU, actions, Rasa, web app)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from aisle.db import session_factory
from aisle.models import Order, OrderStatus

pytestmark = pytest.mark.e2e


def chat(stack, sender: str, text: str) -> tuple[str, list[dict]]:
    status, body = stack.chat(sender, text)
    assert status == 200, body
    return " ".join(m["text"] for m in body["messages"]), [c for m in body["messages"] for c in m.get("cards", [])]


def test_order_status_cancel_then_recommendations_and_similar_items(stack):
    sender = f"orders-{uuid.uuid4().hex[:12]}"
    text, _ = chat(stack, sender, "where is my order 10001?")
    assert "email address you used" in text
    text, _ = chat(stack, sender, "alex.morgan@example.com")
    assert "Order 10001" in text and "has shipped with UPS" in text

    text, _ = chat(stack, sender, "please cancel order 10003")  # the session is verified: no email again
    assert "Order 10003" in text and "Shall I cancel it?" in text
    text, _ = chat(stack, sender, "yes")
    assert "order 10003 is cancelled" in text
    with session_factory(stack.settings.database_url)() as s:
        assert s.scalars(select(Order.status).where(Order.number == "10003")).one() is OrderStatus.cancelled

    text, cards = chat(stack, sender, "can you recommend something for making coffee?")
    assert len(cards) >= 2 and all(c.get("reason") for c in cards), text
    first = cards[0]
    text, similar = chat(stack, sender, "anything similar to the first one?")
    assert similar and first["sku"] not in [c["sku"] for c in similar]


def test_someone_elses_order_is_not_shown(stack):
    sender = f"orders-{uuid.uuid4().hex[:12]}"
    chat(stack, sender, "where is my order 10006?")
    text, _ = chat(stack, sender, "alex.morgan@example.com")  # 10006 is Sam's
    assert "couldn't find an order with that number and email" in text and "Headphones" not in text
