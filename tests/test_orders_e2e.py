"""Orders and recommendations end to end through the real services (NLU, actions, Rasa, web app).

The order tests replay the penetration test of issue #15 over the chat API. Each speaks from its own
loopback address (127.0.0.0/8 all reaches the web app), so the web app sees different clients just as
it would different shoppers, and one test's failures never slow another down.
"""
from __future__ import annotations

import http.client
import json
import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from aisle.db import session_factory
from aisle.models import Order, OrderStatus
from catalog.orders import FREE_FAILURES_PER_CLIENT
from tests.e2e_stack import API_AUTH, api_conversation_id, http_json

pytestmark = pytest.mark.e2e
ALEX, ALEX_POSTCODE = "alex.morgan@example.com", "94107"  # ../shared/contracts/interfaces.md
NOT_FOUND = "couldn't find an order with that number and email"
THROTTLED = "For your security I can't look up orders from here"
ASK_POSTCODE = "I also need the postcode it ships to"
# What only the second factor may show: items, tracking numbers (10001 UPS, 10002 FedEx), changes.
DETAILS = ("Items:", "1Z999AA10123456784", "7489 2231 0091", "Shall I cancel it?", "Which items")


def chat(stack, sender: str, text: str, client: str = "127.0.0.1") -> tuple[str, list[dict]]:
    """One message through the chat API (with the stack's API key), sent from the loopback address ``client``."""
    url = urlsplit(stack.web_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60, source_address=(client, 0))
    try:
        connection.request("POST", "/api/messages", json.dumps({"sender": sender, "message": text}),
                           {"Content-Type": "application/json", **API_AUTH})
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200, body
    return " ".join(m["text"] for m in body["messages"]), [c for m in body["messages"] for c in m.get("cards", [])]


def new_sender() -> str:
    return f"orders-{uuid.uuid4().hex[:12]}"


def test_order_status_cancel_then_recommendations_and_similar_items(stack):
    sender, client = new_sender(), "127.0.0.29"
    text, _ = chat(stack, sender, "where is my order 10001?", client)
    assert "email address you used" in text
    text, _ = chat(stack, sender, "alex.morgan@example.com", client)
    assert "Order 10001" in text and "has shipped with UPS" in text and "in transit" in text
    assert not any(d in text for d in DETAILS)

    text, _ = chat(stack, sender, "please cancel order 10003", client)  # the email is verified: not asked again
    assert ASK_POSTCODE in text and "email address you used" not in text
    text, _ = chat(stack, sender, ALEX_POSTCODE, client)
    assert "Order 10003" in text and "Shall I cancel it?" in text
    text, _ = chat(stack, sender, "no", client)
    assert "order 10003 stays as it is" in text.lower()

    text, cards = chat(stack, sender, "can you recommend something for making coffee?", client)
    assert len(cards) >= 2 and all(c.get("reason") for c in cards), text
    first = cards[0]
    text, similar = chat(stack, sender, "anything similar to the first one?", client)
    assert similar and first["sku"] not in [c["sku"] for c in similar]


def test_someone_elses_order_is_not_shown(stack):
    sender = new_sender()
    chat(stack, sender, "where is my order 10006?", client="127.0.0.20")
    text, _ = chat(stack, sender, "alex.morgan@example.com", client="127.0.0.20")  # 10006 is Sam's
    assert NOT_FOUND in text and "Headphones" not in text


def test_the_whole_request_in_one_message_with_the_postcode_cancels(stack):
    sender = new_sender()
    text, _ = chat(stack, sender, f"cancel 10003, {ALEX}, {ALEX_POSTCODE}", client="127.0.0.21")
    assert "Order 10003" in text and "Shall I cancel it?" in text
    text, _ = chat(stack, sender, "yes", client="127.0.0.21")
    assert "order 10003 is cancelled" in text
    with session_factory(stack.settings.database_url)() as s:
        assert s.scalars(select(Order.status).where(Order.number == "10003")).one() is OrderStatus.cancelled


def test_pen_test_an_email_alone_from_new_conversations_gives_statuses_then_slows_down(stack):
    """Finding 2: `order N <email>` for 10001-10008, each from a new conversation."""
    client = "127.0.0.22"
    answers = {n: chat(stack, new_sender(), f"order {n} {ALEX}", client)[0] for n in range(10001, 10009)}
    for n in range(10001, 10006):  # Alex's: the status, nothing more
        assert f"Order {n}" in answers[n] and not any(d in answers[n] for d in DETAILS), answers[n]
    assert "has shipped with UPS" in answers[10001] and "was delivered on" in answers[10002]
    for n in (10006, 10007, 10008):  # Sam's, and no such orders: the same answer
        assert NOT_FOUND in answers[n]
    # An address may carry many shoppers, so it has a larger budget than one conversation: once spent,
    # the next try waits, whatever the conversation.
    for n in range(FREE_FAILURES_PER_CLIENT - 3):
        assert NOT_FOUND in chat(stack, new_sender(), f"order {20000 + n} guess{n}@example.com", client)[0]
    text, _ = chat(stack, new_sender(), f"order 10001 {ALEX}", client)
    assert THROTTLED in text and "Order 10001" not in text
    # Changes need the postcode: asked for, and nothing shown before it. A change that cannot happen is
    # refused on the status alone (10002 was delivered: no cancelling, so no postcode asked).
    text, _ = chat(stack, new_sender(), f"return order 10002 {ALEX}", "127.0.0.23")
    assert ASK_POSTCODE in text and not any(d in text for d in DETAILS)
    text, _ = chat(stack, new_sender(), f"cancel order 10002 {ALEX}", "127.0.0.23")
    assert "can't be cancelled" in text and ASK_POSTCODE not in text and not any(d in text for d in DETAILS)


def test_pen_test_a_stranger_failing_on_an_order_cannot_lock_out_its_owner(stack):
    """Finding 6: failing 5 times on one order from fresh conversations."""
    stranger = "127.0.0.24"
    replies = [chat(stack, new_sender(), f"order 10004 guess{n}@example.com", stranger)[0] for n in range(3)]
    assert all(NOT_FOUND in r for r in replies)
    for n in range(2):  # and more failures on it from other clients: 5 in all
        assert NOT_FOUND in chat(stack, new_sender(), f"order 10004 other{n}@example.com", f"127.0.0.{30 + n}")[0]
    # Now the order is under attack: an email alone is not even checked, so a guess learns nothing.
    text, _ = chat(stack, new_sender(), "order 10004 other9@example.com", "127.0.0.32")
    assert ASK_POSTCODE in text and NOT_FOUND not in text

    owner = new_sender()
    text, _ = chat(stack, owner, f"order 10004 {ALEX}", "127.0.0.25")
    # Under attack the order only opens with every factor at once, so a guesser learns nothing from
    # the email alone; its owner just adds the postcode.
    assert ASK_POSTCODE in text and "Order 10004" not in text
    text, _ = chat(stack, owner, ALEX_POSTCODE, "127.0.0.25")
    assert "Order 10004" in text and "was delivered on" in text and "Items:" in text

    text, _ = chat(stack, new_sender(), f"order 10004 {ALEX} {ALEX_POSTCODE}", "127.0.0.26")  # the whole request
    assert "Items:" in text
    guess = new_sender()
    chat(stack, guess, f"order 10004 {ALEX}", "127.0.0.27")
    text, _ = chat(stack, guess, "10001", "127.0.0.27")  # the right email, a wrong postcode
    assert NOT_FOUND in text and "Order 10004" not in text


def test_a_new_rasa_session_forgets_the_verification(stack):
    """Finding 9 (server side): a verified email lasted across new Rasa sessions. (Sam's order: the
    other tests' failures put Alex's email under attack, which would ask for the postcode anyway.)"""
    sender, client = new_sender(), "127.0.0.28"
    text, _ = chat(stack, sender, "where is order 10006, sam.lee@example.com, 02139", client)
    assert "Order 10006" in text and "Items:" in text
    text, _ = chat(stack, sender, "where is order 10006?", client)  # verified: no email asked
    assert "Order 10006" in text and "is packed" in text

    # What Rasa runs when a session expires (domain.yml's session_config) or starts anew.
    conversation = api_conversation_id(sender)  # the chat API keeps each integration's senders apart
    status, body = http_json("POST", stack.rasa_api(f"/conversations/{conversation}/execute"),
                             {"name": "action_session_start"})
    assert status == 200, body
    slots = stack.tracker(conversation)["slots"]  # (the execute answer shows the tracker from before it ran)
    assert slots["verified_email"] is None and slots["verified_orders"] is None

    text, _ = chat(stack, sender, "where is order 10006?", client)
    assert "email address you used" in text and "Order 10006" not in text
