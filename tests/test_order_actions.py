"""Tracker-fixture tests for the order actions over a real database with the demo orders."""
from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import catalog_client, orders_client
from actions.orders import (NOT_FOUND, THROTTLED, ActionCancelOrder, ActionCreateReturn, ActionOrderNext,
                            ActionOrderRequest, ValidateOrderForm, ValidateReturnForm)
from aisle import config, migrate
from aisle.db import session_factory
from aisle.models import Order, OrderStatus, ReturnRequest
from catalog.demo.behaviour import seed_database
from catalog.importer import upsert
from catalog.records import validate_file
from tests.conftest import tracker_for, user_event

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_small.jsonl"
ALEX, SAM = "alex.morgan@example.com", "sam.lee@example.com"


@pytest.fixture(autouse=True)
def shop(tmp_path, monkeypatch):
    monkeypatch.setenv("AISLE_DATA_DIR", str(tmp_path))
    config.settings.cache_clear()
    orders_client.orders.cache_clear()
    catalog_client.engine.cache_clear()
    migrate.upgrade(config.settings().database_url)
    upsert(session_factory(), validate_file(FIXTURE).records)
    seed_database(session_factory())
    yield
    config.settings.cache_clear()
    orders_client.orders.cache_clear()
    catalog_client.engine.cache_clear()


def tracker(text="", intent="nlu_fallback", slots=None, entities=None, sender="conv-1"):
    t = tracker_for([user_event(text, intent, entities=entities)], slots or {})
    t.sender_id = sender
    return t


def slots(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def said(dispatcher: CollectingDispatcher) -> str:
    return " ".join(m.get("text") or "" for m in dispatcher.messages)


async def identify(number: str, email: str, sender: str = "conv-1") -> tuple[dict, str]:
    """The form's email step with the number already known: what verification answers."""
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderForm().validate_order_email(
        email, dispatcher, tracker(email, slots={"order_number": number}, sender=sender), {})
    return result, said(dispatcher)


async def next_step(action: str, number: str, email: str = ALEX) -> tuple[dict, str]:
    dispatcher = CollectingDispatcher()
    events = await ActionOrderNext().run(dispatcher, tracker(slots={
        "order_action": action, "order_number": number, "verified_email": email}), {})
    return slots(events), said(dispatcher)


async def test_the_request_prefills_from_the_message_and_a_verified_session():
    dispatcher = CollectingDispatcher()
    events = await ActionOrderRequest().run(dispatcher, tracker(
        "where is order #10001", "order_status", {"verified_email": ALEX},
        [{"entity": "order_id", "value": "10001"}]), {})
    assert slots(events) == {"order_action": "status", "order_number": "10001", "order_email": ALEX,
                             "cancel_pending": False}


async def test_status_happy_path():
    result, text = await identify("10001", "Alex.Morgan@Example.com ")
    assert result == {"order_number": "10001", "order_email": ALEX, "verified_email": ALEX} and text == ""
    _, text = await next_step("status", "10001")
    assert "has shipped with UPS, tracking number 1Z999AA10123456784, expected" in text
    assert "Items: 1 x" in text


async def test_a_wrong_id_and_someone_elses_order_get_the_same_answer():
    missing, missing_text = await identify("99999", ALEX)
    theirs, theirs_text = await identify("10006", ALEX)  # Sam's order, Alex's email
    assert missing == theirs == {"order_number": None, "order_email": None}
    assert missing_text == theirs_text == NOT_FOUND


async def test_repeated_failures_are_throttled():
    for number in ("99991", "99992", "99993"):
        result, _ = await identify(number, ALEX, sender="guesser")
    assert result["order_action"] == "blocked"
    result, _ = await identify("10001", ALEX, sender="guesser")  # even the right pair, for now
    assert result["order_action"] == "blocked"
    dispatcher = CollectingDispatcher()
    events = await ActionOrderNext().run(dispatcher, tracker(slots={"order_action": "blocked"}), {})
    assert said(dispatcher) == THROTTLED and slots(events)["human_offered"] is True
    assert await ValidateOrderForm().required_slots(["order_number", "order_email"], dispatcher,
                                                    tracker(slots={"order_action": "blocked"}), {}) == []


@pytest.mark.parametrize("value", ["abc", "", "12", "order number please", "10482-7"])
async def test_malformed_order_numbers_are_refused_clearly(value):
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderForm().validate_order_number(value, dispatcher, tracker(value), {})
    assert result == {"order_number": None} and "like 10482" in said(dispatcher)


async def test_malformed_email_is_refused():
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderForm().validate_order_email("alex at example", dispatcher,
                                                            tracker(slots={"order_number": "10001"}), {})
    assert result == {"order_email": None} and "email address" in said(dispatcher)


async def test_a_topic_change_is_not_taken_as_an_answer():
    form = ValidateOrderForm()
    dispatcher = CollectingDispatcher()
    question = tracker("do you ship to canada?", "faq", {"requested_slot": "order_number"})
    assert await form.extract_order_number(dispatcher, question, {}) == {}
    stop = tracker("never mind", "deny", {"requested_slot": "order_number"})
    assert await form.extract_order_number(dispatcher, stop, {}) == {}
    answer = tracker("it's 10001", "nlu_fallback", {"requested_slot": "order_number"})
    assert await form.extract_order_number(dispatcher, answer, {}) == {"order_number": "it's 10001"}


async def test_a_shipped_order_cannot_be_cancelled():
    events, text = await next_step("cancel", "10001")
    assert "can't be cancelled because it has already shipped" in text and "cancel_pending" not in events


async def test_cancel_with_confirmation_writes_the_database():
    events, text = await next_step("cancel", "10003")
    assert events == {"cancel_pending": True} and "Shall I cancel it?" in text
    dispatcher = CollectingDispatcher()
    await ActionCancelOrder().run(dispatcher, tracker("yes", "affirm", {
        "order_number": "10003", "verified_email": ALEX, "cancel_pending": True}), {})
    assert "order 10003 is cancelled" in said(dispatcher)
    with session_factory()() as s:
        assert s.scalars(select(Order.status).where(Order.number == "10003")).one() is OrderStatus.cancelled
    _, again = await next_step("cancel", "10003")
    assert "can't be cancelled because it is cancelled" in again


async def test_outside_the_return_window():
    _, text = await next_step("return", "10004")
    assert "delivered 46 days ago and our return window is 30 days" in text


async def test_a_return_end_to_end_and_its_status_later():
    events, _ = await next_step("return", "10002")
    assert events["return_eligible"] is True
    form = ValidateReturnForm()
    dispatcher = CollectingDispatcher()
    base = {"order_number": "10002", "verified_email": ALEX}
    items = await form.extract_return_items(dispatcher, tracker("all of them", "refine_search", {
        **base, "requested_slot": "return_items"}), {})  # whatever the NLU made of it
    assert len(items["return_items"]) == 2
    nothing = await form.extract_return_items(dispatcher, tracker("the purple one", "nlu_fallback", {
        **base, "requested_slot": "return_items"}), {})
    assert await form.validate_return_items(nothing["return_items"], dispatcher, tracker(), {}) == {
        "return_items": None}
    question = await form.extract_return_items(dispatcher, tracker("do you ship to canada", "faq", {
        **base, "requested_slot": "return_items"}), {})
    assert question == {}  # a change of topic: the form steps aside
    resolution = await form.extract_return_resolution(dispatcher, tracker("I'd like my money back", "return_request", {
        **base, "requested_slot": "return_resolution"}), {})
    assert resolution == {"return_resolution": "refund"}

    dispatcher = CollectingDispatcher()
    await ActionCreateReturn().run(dispatcher, tracker(slots={
        **base, "return_items": items["return_items"], "return_reason": "too loud", "return_resolution": "refund"}), {})
    assert "is set up for" in said(dispatcher) and "(refund)" in said(dispatcher)
    with session_factory()() as s:
        record = s.scalars(select(ReturnRequest).join(Order).where(Order.number == "10002")).one()
    assert record.number.startswith("R-10002-") and record.reason == "too loud"
    _, text = await next_step("return", "10002")  # "where's my refund?" later
    assert f"Return {record.number} (refund) is requested" in text


async def test_verification_is_per_email():
    result, _ = await identify("10006", SAM)
    assert result["verified_email"] == SAM
    _, text = await next_step("status", "10006", email=ALEX)  # Alex's session cannot see Sam's order
    assert text == NOT_FOUND
