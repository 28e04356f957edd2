"""Tracker-fixture tests for the order actions over a real database with the demo orders."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select, update

from actions import catalog_client, orders_client
from actions.fallback import ActionFallback
from actions.orders import (NOT_FOUND, WRONG_POSTCODE, ActionAskOrderPostcode, ActionCancelOrder, ActionCreateReturn,
                            ActionKeepOrder, ActionOrderNext, ActionOrderRequest, ActionSessionStart,
                            ValidateOrderForm, ValidateReturnForm, is_policy_question)
from aisle import config, migrate
from aisle.db import session_factory
from aisle.models import Order, OrderStatus, ReturnRequest, VerificationFailure
from catalog.orders import FREE_FAILURES_PER_CLIENT, Caller, Orders, Outcome
from catalog.demo.behaviour import backfill_postcodes, seed_database
from catalog.importer import upsert
from catalog.records import validate_file
from catalog.store_orders import StoreOrders
from tests.conftest import tracker_for, user_event
from tests.shopify_payloads import order as store_order

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_small.jsonl"
ALEX, SAM = "alex.morgan@example.com", "sam.lee@example.com"
ALEX_POSTCODE = "94107"  # ../shared/contracts/interfaces.md
DOMAIN_SLOTS = ["order_number", "order_email"]


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


def tracker(text="", intent="nlu_fallback", slots=None, entities=None, sender="conv-1", client=None):
    event = user_event(text, intent, entities=entities)
    if client:  # what the web app passes along with every message
        event["parse_data"]["metadata"] = {"client": client}
    t = tracker_for([event], slots or {})
    t.sender_id = sender
    return t


def proved(email=ALEX, unlocked=(), at=None) -> dict:
    """Slots of a conversation that verified ``email`` (and unlocked ``unlocked`` with the postcode)."""
    return {"verified_email": email, "verified_orders": list(unlocked), "verified_at": at or time.time()}


def slots(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def said(dispatcher: CollectingDispatcher) -> str:
    return " ".join(m.get("text") or "" for m in dispatcher.messages)


DOMAIN = {"forms": {"order_form": {"required_slots": DOMAIN_SLOTS}}}


async def form_turn(text: str, slots_now: dict, entities=None, sender="conv-1", client=None,
                    intent="order_status") -> tuple[dict, str]:
    """One run of the order form's validation action, as Rasa calls it: what it sets and says."""
    dispatcher = CollectingDispatcher()
    t = tracker(text, intent, slots_now, entities, sender, client)
    events = await ValidateOrderForm().run(dispatcher, t, DOMAIN)
    return slots(events), said(dispatcher)


async def identify(number: str, email: str, sender: str = "conv-1", client=None, action="status",
                   postcode=None) -> tuple[dict, str]:
    """The form's email step with the number (and any postcode) already known."""
    return await form_turn(email, {"order_action": action, "order_number": number, "order_postcode": postcode,
                                   "requested_slot": "order_email"},
                           [{"entity": "email", "value": email}], sender, client)


async def give_postcode(postcode: str, state: dict, sender="conv-1", client=None) -> tuple[dict, str]:
    """The shopper answers the postcode question (a 5-digit postcode also reads as an order id)."""
    return await form_turn(postcode, {**state, "requested_slot": "order_postcode"},
                           [{"entity": "order_id", "value": postcode, "start": 0}], sender, client)


async def next_step(action: str, number: str, email: str = ALEX, unlocked=None) -> tuple[dict, str]:
    dispatcher = CollectingDispatcher()
    events = await ActionOrderNext().run(dispatcher, tracker(slots={
        "order_action": action, "order_number": number,
        **proved(email, [number] if unlocked is None else unlocked)}), {})
    return slots(events), said(dispatcher)


def failures() -> list[tuple[str, str | None, str, str, str]]:
    with session_factory()() as s:
        return [(f.conversation_id, f.client, f.order_number, f.email, f.factor)
                for f in s.scalars(select(VerificationFailure).order_by(VerificationFailure.id))]


async def test_the_request_prefills_from_the_message_and_a_verified_session():
    dispatcher = CollectingDispatcher()
    events = await ActionOrderRequest().run(dispatcher, tracker(
        "where is order #10001", "order_status", proved(),
        [{"entity": "order_id", "value": "10001"}]), {})
    assert slots(events) == {"order_action": "status", "order_number": "10001", "order_email": ALEX,
                             "order_postcode": None, "cancel_pending": False}


@pytest.mark.parametrize("text,intent,action", [("great, can i still return it?", "return_request", "return"),
                                                 ("yes, cancel that order", "cancel_order", "cancel")])
async def test_it_after_a_status_is_the_order_just_shown(text, intent, action):
    state = {"order_number": "10002", **proved()}
    events = await ActionOrderRequest().run(CollectingDispatcher(), tracker(text, intent, state), {})
    assert slots(events)["order_action"] == action and slots(events)["order_number"] == "10002"
    events = await ActionOrderRequest().run(CollectingDispatcher(), tracker("I want to return something",
                                                                            "return_request", state), {})
    assert slots(events)["order_number"] is None  # no reference to it: which order is asked


async def test_a_postcode_glued_to_the_request_is_taken_and_never_the_order_number():
    text = "cancel 10003, alex.morgan@example.com, 94107"
    events = await ActionOrderRequest().run(CollectingDispatcher(), tracker(text, "cancel_order", entities=[
        {"entity": "order_id", "value": "94107", "start": 39}, {"entity": "order_id", "value": "10003", "start": 7},
        {"entity": "email", "value": ALEX, "start": 14}]), {})
    assert slots(events) == {"order_action": "cancel", "order_number": "10003", "order_email": ALEX,
                             "order_postcode": "94107", "cancel_pending": False}
    events = await ActionOrderRequest().run(CollectingDispatcher(), tracker(
        "what's in order 10002 zip code 94107-1234?", "order_status",
        entities=[{"entity": "order_id", "value": "10002", "start": 16}]), {})
    assert slots(events)["order_action"] == "details" and slots(events)["order_postcode"] == "94107"
    events = await ActionOrderRequest().run(CollectingDispatcher(), tracker(
        "where are orders 10001 and 10002?", "order_status",
        entities=[{"entity": "order_id", "value": "10001", "start": 17}]), {})
    assert slots(events)["order_postcode"] is None  # a second order number is not a postcode


async def test_a_search_asked_with_an_order_request_is_shown_too():
    text = f"where is my order 10001 ({ALEX}, zip 94107) and also show me hiking boots"
    dispatcher = CollectingDispatcher()
    events = await ActionOrderRequest().run(dispatcher, tracker(text, "order_status", entities=[
        {"entity": "order_id", "value": "10001", "start": 18}]), {})
    state = slots(events)
    assert state["order_number"] == "10001" and state["order_postcode"] == "94107"
    cards = [p["sku"] for m in dispatcher.messages for p in (m.get("custom") or {}).get("products", [])]
    assert cards and set(cards) <= {"HB-600", "HB-601"} and state["shown_skus"] == cards
    dispatcher = CollectingDispatcher()  # a clause that names no product is no search
    await ActionOrderRequest().run(dispatcher, tracker("where is order 10001, I need it by friday",
                                                       "order_status"), {})
    assert not dispatcher.messages


async def test_an_order_that_arrived_damaged_gets_an_apology_and_the_ways_to_put_it_right():
    text = "my order 10002 arrived damaged, email is alex.morgan@example.com"
    events = await ActionOrderRequest().run(CollectingDispatcher(), tracker(text, "order_status", entities=[
        {"entity": "order_id", "value": "10002", "start": 9}, {"entity": "email", "value": ALEX, "start": 45}]), {})
    assert slots(events)["order_action"] == "damaged"
    state, said_now = await next_step("damaged", "10002", unlocked=[])
    assert said_now.startswith("I'm sorry order 10002 didn't arrive as it should.") and "refund or a replacement" in said_now
    assert "was delivered" in said_now and state["human_offered"] is True


async def test_a_policy_question_asked_with_an_order_request_is_answered_too(monkeypatch):
    from actions import compound
    from knowledge.retrieval import FaqAnswer, Match

    asked = []

    def answer(question):
        asked.append(question)
        return FaqAnswer("answer", 0.9, [Match(1, "How long do refunds take?", "Within 5 business days.", 0.9)])

    monkeypatch.setattr(compound.knowledge_client, "answer", answer)
    for text in ("I want to return order 10002 - how long does a refund take?",
                 "where is order 10001, and when will it arrive?"):  # the second asks about the order itself
        dispatcher = CollectingDispatcher()
        await ActionOrderRequest().run(dispatcher, tracker(text, "return_request"), {})
        said_now = said(dispatcher)
        assert said_now == ("Within 5 business days." if "refund" in text else "")
    assert asked == ["how long does a refund take?"]


async def test_a_question_about_the_rules_is_answered_by_its_article_not_the_order_form(tiny_kb):
    for text, answer in (("can I send earbuds back if I've already opened them?",
                          "You can return most items within 30 days of delivery."),
                         ("ok, what's your return policy?", "You can return most items within 30 days of delivery.")):
        dispatcher = CollectingDispatcher()
        events = await ActionOrderRequest().run(dispatcher, tracker(text, "return_request"), {})
        assert said(dispatcher) == answer and slots(events) == {"order_action": "answered"}
        assert await ValidateOrderForm().required_slots(DOMAIN_SLOTS, dispatcher, tracker(
            text, "return_request", {"order_action": "answered"}), DOMAIN) == []
        assert slots(await ActionOrderNext().run(dispatcher, tracker(slots={"order_action": "answered"}), {})) == {
            "order_action": None}
    assert is_policy_question("and when would i actually get my money back")
    assert not is_policy_question("when will my order arrive?")
    # One's own order: the form asks for it as before.
    for text in ("can I return my order?", "can you cancel my order please", "is my package on its way?",
                 "can I track my parcel?"):
        dispatcher = CollectingDispatcher()
        events = await ActionOrderRequest().run(dispatcher, tracker(text, "return_request"), {})
        assert slots(events)["order_action"] == "return" and said(dispatcher) == "", text


async def test_number_and_email_give_the_status_only():
    result, text = await identify("10001", "Alex.Morgan@Example.com ")
    assert result["order_email"] == ALEX and result["verified_email"] == ALEX and result["verified_orders"] == []
    assert text == "" and result["requested_slot"] is None  # the form is complete: no postcode needed
    _, text = await next_step("status", "10001", unlocked=[])
    assert "has shipped with UPS and is in transit, expected" in text
    assert "1Z999AA10123456784" not in text and "Items" not in text and "postcode" in text


async def test_details_cancel_and_return_ask_for_the_postcode_then_show_everything():
    for action, number, purpose in (("details", "10001", "To show the items and tracking of order 10001"),
                                    ("cancel", "10003", "To cancel order 10003"),
                                    ("return", "10001", "To return something from order 10001")):
        state, text = await identify(number, ALEX, action=action)
        assert state["requested_slot"] == "order_postcode" and state["verified_orders"] == [] and text == ""
        dispatcher = CollectingDispatcher()
        await ActionAskOrderPostcode().run(dispatcher, tracker(slots={"order_action": action, "order_number": number,
                                                                      **state}), {})
        assert said(dispatcher).startswith(purpose) and "postcode it ships to" in said(dispatcher)
    state = {"order_action": "details", "order_number": "10001", "order_email": ALEX, **proved()}
    result, text = await give_postcode(ALEX_POSTCODE, state)
    assert result["verified_orders"] == ["10001"] and "order_number" not in result  # not taken for a number
    assert result["requested_slot"] is None and text == ""
    _, text = await next_step("details", "10001")
    assert "has shipped with UPS, tracking number 1Z999AA10123456784, expected" in text and "Items: 1 x" in text


async def test_cancelling_a_shipped_order_is_refused_without_asking_for_the_postcode():
    state, text = await identify("10001", ALEX, action="cancel")
    assert state["requested_slot"] is None and state["order_action"] == "cancel_refused" and text == ""
    assert state["verified_orders"] == []  # nothing private was unlocked
    _, text = await next_step("cancel_refused", "10001")
    assert text.startswith("Order 10001 can't be cancelled because it has already shipped.")


async def test_the_whole_request_in_one_message_unlocks_the_order():
    result, text = await identify("10003", ALEX, action="cancel", postcode=ALEX_POSTCODE)
    assert result["verified_orders"] == ["10003"] and text == ""


async def test_a_wrong_postcode_is_refused_asked_again_and_counted():
    state = {"order_action": "cancel", "order_number": "10003", "order_email": ALEX, **proved()}
    result, text = await give_postcode("10001", state, client="203.0.113.7")
    assert text == WRONG_POSTCODE and result["order_postcode"] is None and result["verified_orders"] == []
    assert result["requested_slot"] == "order_postcode"
    assert failures() == [("conv-1", "203.0.113.7", "10003", ALEX, "postcode")]
    result, text = await give_postcode("not a code", state)
    assert "doesn't look like a postcode" in text and len(failures()) == 1  # a typo is not a guess


async def test_a_wrong_id_and_someone_elses_order_get_the_same_answer():
    missing, missing_text = await identify("99999", ALEX)
    theirs, theirs_text = await identify("10006", ALEX)  # Sam's order, Alex's email
    cleared = {"order_email": None, "order_postcode": None}  # the number stays: the email is asked again
    assert {k: missing[k] for k in cleared} == {k: theirs[k] for k in cleared} == cleared
    assert (missing["order_number"], theirs["order_number"]) == ("99999", "10006")
    assert missing["requested_slot"] == theirs["requested_slot"] == "order_email"
    assert missing_text == theirs_text == NOT_FOUND
    assert "verified_email" not in missing and "verified_email" not in theirs


async def test_a_guessing_client_is_slowed_down_across_conversations_but_the_owner_is_not():
    # many emails and orders, new conversations: one address carries many shoppers, so it gets a larger
    # budget than one conversation; past it, every conversation from there waits
    for n in range(FREE_FAILURES_PER_CLIENT):
        result, text = await identify(f"{20000 + n}", f"guess{n}@example.com", sender=f"fresh-{n}",
                                      client="198.51.100.9")
        assert text == NOT_FOUND and result.get("order_action") != "blocked"
    result, _ = await identify("10001", ALEX, sender="fresh-a", client="198.51.100.9")  # even the right pair
    assert result["order_action"] == "blocked" and result["requested_slot"] is None
    dispatcher = CollectingDispatcher()
    events = await ActionOrderNext().run(dispatcher, tracker(slots={"order_action": "blocked"}, sender="fresh-b",
                                                             client="198.51.100.9"), {})
    assert "for the next 30 seconds" in said(dispatcher) and slots(events)["human_offered"] is True
    # One conversation hopping addresses is slowed down as well; the owner elsewhere is not.
    for n, number in enumerate(("99991", "99992", "99993")):
        await identify(number, SAM, sender="hopper", client=f"192.0.2.{n + 1}")
    result, _ = await identify("10001", ALEX, sender="hopper", client="192.0.2.9")
    assert result["order_action"] == "blocked"
    result, text = await identify("10001", ALEX, sender="owner", client="192.0.2.44", action="details",
                                  postcode=ALEX_POSTCODE)
    assert result["verified_orders"] == ["10001"] and text == ""


async def test_an_order_under_attack_needs_every_factor_and_still_opens_for_its_owner():
    for n in range(5):  # one order, many emails, from many clients
        await identify("10001", f"guess{n}@example.com", sender=f"bot-{n}", client=f"203.0.113.{n}")
    result, text = await identify("10001", ALEX, sender="owner", client="192.0.2.44")
    assert result["requested_slot"] == "order_postcode" and result["order_action"] == "details"
    assert "verified_email" not in result and text == ""  # nothing said about the email yet
    state = {"order_action": "details", "order_number": "10001", "order_email": ALEX}
    result, text = await give_postcode(ALEX_POSTCODE, state, sender="owner", client="192.0.2.44")
    assert result["verified_orders"] == ["10001"] and result["verified_email"] == ALEX and text == ""
    # A stranger with the right email but not the postcode learns nothing, not even that the email fits.
    result, text = await give_postcode("10001", state, sender="stranger", client="198.51.100.77")
    assert text == NOT_FOUND and result["order_email"] is None


def test_the_wait_doubles_with_each_failure_and_is_capped():
    orders = Orders(session_factory())
    caller, now = Caller("conv-x", "198.51.100.1"), datetime.now(timezone.utc)
    waits = []
    for _ in range(8):
        orders._fail(caller, "99999", ALEX, "email")
        waits.append(orders.caller_wait(caller, now))
    assert waits[:2] == [0, 0] and 28 <= waits[2] <= 30 and 58 <= waits[3] <= 60 and 118 <= waits[4] <= 120
    assert waits[-1] <= 15 * 60 and orders.caller_wait(caller, now + timedelta(minutes=16)) == 0
    assert orders.caller_wait(Caller("conv-y", "198.51.100.2"), now) == 0  # nobody else waits
    assert orders.lookup("10001", ALEX, None, caller, want_full=False).outcome is Outcome.wait


async def test_the_verification_ends_after_the_idle_time():
    stale = proved(unlocked=["10001"], at=time.time() - 31 * 60)
    events = await ActionOrderRequest().run(CollectingDispatcher(), tracker(
        "where is order 10001", "order_status", stale, [{"entity": "order_id", "value": "10001"}]), {})
    assert slots(events)["order_email"] is None  # asked again
    assert {k: slots(events)[k] for k in ("verified_email", "verified_orders", "verified_at")} == {
        "verified_email": None, "verified_orders": None, "verified_at": None}
    dispatcher = CollectingDispatcher()
    await ActionOrderNext().run(dispatcher, tracker(slots={"order_action": "details", "order_number": "10001",
                                                           **stale}), {})
    assert said(dispatcher) == NOT_FOUND


async def test_a_new_session_keeps_the_shopping_context_but_not_the_verification():
    events = await ActionSessionStart().run(CollectingDispatcher(), tracker(slots={
        **proved(unlocked=["10001"]), "order_number": "10001", "order_email": ALEX, "search_query": "kettles",
        "shown_skus": ["A-1"], "cancel_pending": True}), {})
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    assert slots(events) == {"search_query": "kettles", "shown_skus": ["A-1"]}


async def test_cancelling_needs_the_postcode_verification():
    dispatcher = CollectingDispatcher()
    await ActionCancelOrder().run(dispatcher, tracker("yes", "affirm", {
        "order_number": "10003", "cancel_pending": True, **proved()}), {})  # email only
    assert "check it's you again" in said(dispatcher)
    with session_factory()() as s:
        assert s.scalars(select(Order.status).where(Order.number == "10003")).one() is OrderStatus.placed
    _, text = await next_step("cancel", "10003", unlocked=[])
    assert "Shall I cancel" not in text and "postcode" in text


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


async def test_the_email_answer_with_a_postcode_keeps_the_order_number():
    """Asked for the email of order 10002, "alex@…, 94107" gives the email and the postcode."""
    form = ValidateOrderForm()
    known = {"requested_slot": "order_email", "order_number": "10002"}
    for text in (f"{ALEX}, 94107", f"its {ALEX} and zip 94107"):
        answer = tracker(text, "inform", known, entities=[
            {"entity": "email", "value": ALEX, "start": text.index(ALEX)},
            {"entity": "order_id", "value": "94107", "start": text.index("94107")}])
        assert await form.extract_order_number(CollectingDispatcher(), answer, {}) == {}
        postcode = await form.extract_order_postcode(CollectingDispatcher(), answer, {})
        assert postcode == {"order_postcode": "94107"}
    first = tracker(f"{ALEX} 10002", "inform", {"requested_slot": "order_number"},
                    entities=[{"entity": "order_id", "value": "10002", "start": len(ALEX) + 1}])
    assert await form.extract_order_number(CollectingDispatcher(), first, {}) == {"order_number": "10002"}


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
    assert events["cancel_pending"] is True and "Shall I cancel it?" in text
    dispatcher = CollectingDispatcher()
    await ActionCancelOrder().run(dispatcher, tracker("yes", "affirm", {
        "order_number": "10003", "cancel_pending": True, **proved(unlocked=["10003"])}), {})
    assert "order 10003 is cancelled" in said(dispatcher)
    with session_factory()() as s:
        assert s.scalars(select(Order.status).where(Order.number == "10003")).one() is OrderStatus.cancelled
    _, again = await next_step("cancel", "10003")
    assert "can't be cancelled because it is cancelled" in again


async def test_yes_cancel_it_confirms_the_cancellation_whatever_intent_it_was_heard_as():
    pending = {"order_number": "10003", "cancel_pending": True, **proved(unlocked=["10003"])}
    for text, intent, action in (("yes cancel it", "deny", ActionKeepOrder()),
                                 ("yes, cancel it please", "nlu_fallback", ActionFallback()),
                                 ("yes, cancel it please", "cancel_order", ActionOrderRequest())):
        dispatcher = CollectingDispatcher()
        events = slots(await action.run(dispatcher, tracker(text, intent, pending), {}))
        assert "stays as it is" not in said(dispatcher) and "cancel" in said(dispatcher), text
        assert events["cancel_pending"] is False
    assert events["order_action"] == "answered"  # ActionOrderRequest's
    dispatcher = CollectingDispatcher()
    await ActionKeepOrder().run(dispatcher, tracker("no, don't cancel it", "deny", pending), {})
    assert "order 10003 stays as it is" in said(dispatcher)


async def test_where_is_it_not_understood_after_a_lookup_gets_that_orders_status():
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(dispatcher, tracker("ugh ok, where is it then?", "nlu_fallback",
                                                   {"order_number": "10001", **proved()}), {})
    assert said(dispatcher).startswith("Order 10001") and "shipped" in said(dispatcher)
    assert "Items:" not in said(dispatcher)  # the number and email alone show no details


async def test_outside_the_return_window():
    _, text = await next_step("return", "10004")
    assert "delivered 46 days ago and our return window is 30 days" in text


async def test_a_return_end_to_end_and_its_status_later():
    events, _ = await next_step("return", "10002")
    assert events["return_eligible"] is True
    form = ValidateReturnForm()
    dispatcher = CollectingDispatcher()
    base = {"order_number": "10002", **proved(unlocked=["10002"])}
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
    person = await form.extract_return_items(dispatcher, tracker(
        "actually can I just talk to a real person about it", "human_handoff",
        {**base, "requested_slot": "return_items"}), {})
    assert person == {}  # "actually" is not "all of them"
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


def test_demo_orders_ship_to_their_customers_postcode_and_older_databases_are_backfilled():
    with session_factory()() as s:
        postcodes = dict(s.execute(select(Order.number, Order.shipping_postcode)).all())
        assert {postcodes[n] for n in ("10001", "10002", "10003", "10004", "10005")} == {ALEX_POSTCODE}
        assert postcodes["10006"] == "02139" and all(postcodes.values())
        s.execute(update(Order).values(shipping_postcode=None))  # as seeded before orders had postcodes
        s.commit()
    assert backfill_postcodes(session_factory()) == len(postcodes)
    assert backfill_postcodes(session_factory()) == 0
    with session_factory()() as s:
        assert dict(s.execute(select(Order.number, Order.shipping_postcode)).all()) == postcodes


async def test_a_store_order_with_a_prefixed_number_is_answered_and_changed_only_by_a_person():
    """An order from the store's webhook (catalog/store_orders.py): any number format, an item the catalog
    lacks, no expected date; cancelling or returning it is the store's job, so a person is offered."""
    payload = store_order(777, "SO-2026-00042", ALEX, fulfillments=[{"status": "success", "tracking_company": "USPS",
                                                                 "tracking_number": "9400", "shipment_status": None}])
    StoreOrders(session_factory(), timedelta(hours=5)).apply("orders/create", payload, "delivery-1")
    dispatcher = CollectingDispatcher()
    events = await ValidateOrderForm().run(dispatcher, tracker("where is so-2026-00042?", "order_status", {
        "requested_slot": "order_number", "order_action": "status"},
        entities=[{"entity": "order_id", "value": "so-2026-00042"}, {"entity": "email", "value": ALEX}]),
        {"forms": {"order_form": {"required_slots": DOMAIN_SLOTS}}})
    assert slots(events)["order_number"] == "SO-2026-00042" and slots(events)["verified_email"] == ALEX
    _, text = await next_step("status", "SO-2026-00042")
    assert "Order SO-2026-00042" in text and "has shipped with USPS, tracking number 9400." in text
    assert "1 x Gift wrapping ($14.99)" in text and "expected" not in text
    for action, change in (("cancel", "cancel"), ("return", "return items from")):
        events, text = await next_step(action, "SO-2026-00042")
        assert f"I can't {change} order SO-2026-00042 from here" in text and events["human_offered"] is True
    with session_factory()() as s:
        assert s.scalars(select(Order.status).where(Order.number == "SO-2026-00042")).one() is OrderStatus.shipped


async def test_a_corrected_order_number_goes_with_the_email_given_before():
    """After "not found" for 10006 (someone else's), "oops, I meant order 10002" needs no email again."""
    text = "oops my bad, I meant order 10002"
    earlier = [{"event": "slot", "name": "order_email", "value": ALEX},
               {"event": "slot", "name": "order_email", "value": None}]
    now = user_event(text, "order_status", entities=[{"entity": "order_id", "value": "10002",
                                                      "start": text.index("10002")}])
    t = tracker_for([*earlier, now], {"order_action": "status", "order_number": "10006",
                                      "requested_slot": "order_email"})
    dispatcher = CollectingDispatcher()
    events = slots(await ValidateOrderForm().run(dispatcher, t, DOMAIN))
    assert events["order_number"] == "10002" and events["verified_email"] == ALEX
    assert "doesn't look like an email" not in said(dispatcher)
    # without an earlier email the form simply asks for it (the message is not taken for one)
    t = tracker_for([now], {"order_action": "status", "order_number": "10006",
                            "requested_slot": "order_email"})
    assert await ValidateOrderForm().extract_order_email(CollectingDispatcher(), t, {}) == {}
