"""The agent console: filters, masking and audited reveal, corrections and their Rasa YAML, permissions,
CSV export, the live queue over HTTP and WebSocket, analytics and retention."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from aisle.db import session_factory
from aisle.models import AuditEvent, Author, Conversation, FaqEntry, FaqFeedback, FaqMiss, Message, Role
from bot.agent import analytics
from bot.agent.masking import mask
from bot.agent.retention import purge
from bot.agent.review import Review, annotate
from bot.agent.transcripts_query import Filters, rows
from bot.app import create_app
from bot.appkeys import HANDOFFS, TOKENS
from bot.console.accounts import create_user
from bot.hub import Hub
from bot.rasa_client import TurnTrace
from bot.transcripts import Transcripts
from tests.test_console import PASSWORD, login, token_in
from tests.web_fixtures import web_settings


def nlu(intent: str, confidence: float, entities=()):
    return {"intent": intent, "confidence": confidence, "intent_ranking": [{"name": intent, "confidence": confidence}],
            "entities": [{"entity": e, "value": v} for e, v in entities]}


def say(t: Transcripts, cid: str, text: str, understood: dict, actions=(), slots=None) -> int:
    message = t.post(cid, Author.shopper, text)
    trace = TurnTrace(0, understood, list(actions), slots or {})
    t.record_turn(cid, message["id"], trace)
    return message["id"]


@pytest.fixture
def world(tmp_path):
    """Three conversations: an order question handed off, a fallback with FAQ feedback, a search."""
    settings = web_settings(tmp_path)
    db = session_factory(settings.database_url)
    create_user(db, "ada", PASSWORD, Role.admin, "test")
    create_user(db, "sam", PASSWORD, Role.agent, "test")
    create_user(db, "kim", PASSWORD, Role.agent, "test")
    t = Transcripts(db, Hub())
    order = t.ensure("conv-order-1", "web").id
    ids = {"order_msg": say(t, order, "where is my order 10482? mail me at jo@example.com",
                            nlu("cancel_order", 0.41, [("order_id", "10482"), ("email", "jo@example.com")]),
                            ["order_form"], {"order_number": "10482", "verified_email": "jo@example.com"})}
    t.post(order, Author.bot, "Let me check.")
    with db() as s:
        s.execute(update(Conversation).where(Conversation.id == order).values(
            handoff_requested_at=datetime.now(timezone.utc)))
        s.commit()
    lost = t.ensure("conv-lost-22", "api").id
    say(t, lost, "blorp fnargle", nlu("nlu_fallback", 0.2))
    search = t.ensure("conv-boots-3", "web").id
    say(t, search, "purple unicorn boots", nlu("search_product", 0.97),
        ["action_search_products"], {"shown_skus": []})
    with db() as s:
        entry = FaqEntry(question="Q?", answer="A", category="c")
        s.add(entry)
        s.flush()
        s.add(FaqFeedback(entry_id=entry.id, helpful=False, conversation_id=lost))
        s.commit()
    Review(db).add_tag(search, "catalog gap", "sam")
    Review(db).set_reviewed(lost, True, "sam")
    return settings, db, ids


@pytest.fixture
async def client(world):
    async with TestClient(TestServer(create_app(world[0]))) as c:
        yield c


@pytest.mark.parametrize("params, expected", [
    ({}, {"conv-order-1", "conv-lost-22", "conv-boots-3"}),
    ({"channel": "api"}, {"conv-lost-22"}),
    ({"intent": "cancel_order"}, {"conv-order-1"}),
    ({"max_confidence": "0.5"}, {"conv-order-1", "conv-lost-22"}),
    ({"fallback": "yes"}, {"conv-lost-22"}),
    ({"fallback": "no"}, {"conv-order-1", "conv-boots-3"}),
    ({"handoff": "yes"}, {"conv-order-1"}),
    ({"feedback": "unhelpful"}, {"conv-lost-22"}),
    ({"feedback": "helpful"}, set()),
    ({"tag": "Catalog Gap"}, {"conv-boots-3"}),
    ({"reviewed": "yes"}, {"conv-lost-22"}),
    ({"reviewed": "no"}, {"conv-order-1", "conv-boots-3"}),
    ({"q": "UNICORN"}, {"conv-boots-3"}),
    # Search looks in the masked text with % and _ taken literally: it cannot confirm an email.
    ({"q": "jo@example.com"}, set()),
    ({"q": "jo@"}, set()),
    ({"q": "%example%"}, set()),
    ({"q": "_o@"}, set()),
    ({"q": "email hidden"}, {"conv-order-1"}),
    ({"q": "%"}, set()),
    ({"date_from": "2000-01-01", "date_to": "2000-12-31"}, set()),
    ({"max_confidence": "not a number", "date_from": "garbage"}, {"conv-order-1", "conv-lost-22", "conv-boots-3"}),
])
def test_filters(world, params, expected):
    _, db, _ = world
    with db() as s:
        found, total = rows(s, Filters.from_query(params))
    assert {r.id for r in found} == expected and total == len(expected)


def test_filters_round_trip_through_the_url():
    filters = Filters.from_query({"intent": "faq", "handoff": "yes", "page": "3"})
    assert Filters.from_query(dict(x.split("=") for x in filters.query_string().split("&"))) == filters


def test_masking_hides_emails_phones_and_card_numbers_only():
    text = "I'm jo@example.com, call +1 503 555 0199, card 4111-1111-1111-1111, order 10482 was $49.99 on 2026-11-02"
    assert mask(text) == ("I'm [email hidden], call [phone hidden], card [card number hidden], order 10482 was "
                          "$49.99 on 2026-11-02")


async def test_agents_see_masked_transcripts_and_admin_reveal_is_audited(client, world):
    _, db, _ = world
    await login(client, "sam")
    page = await (await client.get("/agent/conversations/conv-order-1")).text()
    assert "[email hidden]" in page and "jo@example.com" not in page
    assert "cancel_order" in page and "order_id=10482" in page  # what the bot understood
    assert 'order_number="10482"' in page and 'verified_email="[hidden]"' in page  # slots set
    page = await (await client.get("/agent/conversations/conv-order-1?reveal=1")).text()
    assert "jo@example.com" not in page  # agents cannot reveal
    await client.post("/logout", data={"csrf_token": token_in(page)})

    await login(client, "ada")
    page = await (await client.get("/agent/conversations/conv-order-1?reveal=1")).text()
    assert "jo@example.com" in page
    with db() as s:
        reveals = s.scalars(select(AuditEvent).where(AuditEvent.action == "transcript.reveal")).all()
    assert [(r.username, r.target) for r in reveals] == [("ada", "conv-order-1")]


async def test_a_correction_is_stored_and_exported_as_rasa_nlu_yaml(client, world):
    _, db, ids = world
    await login(client, "sam")
    token = token_in(await (await client.get("/agent/conversations/conv-order-1")).text())
    resp = await client.post(f"/agent/messages/{ids['order_msg']}/correction", data={
        "csrf_token": token, "conversation_id": "conv-order-1", "intent": "order_status",
        "entities": "order_id=10482\nemail=jo@example.com"})
    assert resp.status == 200
    exported = yaml.safe_load(await (await client.get("/agent/corrections.yml")).text())
    # Training data shows no shopper's address: an email keeps its shape, and its annotation.
    assert exported["nlu"] == [{"intent": "order_status", "examples":
                                "- where is my order [10482](order_id)? mail me at [customer@example.com](email)\n"}]
    resp = await client.post(f"/agent/messages/{ids['order_msg']}/correction", data={
        "csrf_token": token, "conversation_id": "conv-order-1", "intent": "teleport", "entities": ""})
    assert "unknown intent" in await resp.text()
    bot_message = ids["order_msg"] + 1
    resp = await client.post(f"/agent/messages/{bot_message}/correction", data={
        "csrf_token": token, "conversation_id": "conv-order-1", "intent": "greet", "entities": ""})
    assert "only shopper messages" in await resp.text()


def test_merging_corrections_appends_valid_training_data(world, tmp_path):
    _, db, ids = world
    review = Review(db)
    review.correct(ids["order_msg"], "order_status", [{"entity": "order_id", "value": "10482"}], "sam",
                   {"order_status"})
    target = tmp_path / "corrections.yml"
    assert review.merge_into_training_data("ada", target) == 1
    assert review.merge_into_training_data("ada", target) == 0  # nothing new
    from nlu_models.data import load_file

    [example] = load_file(target)
    assert (example.intent, [(e.entity, e.value) for e in example.entities]) == (
        "order_status", [("order_id", "10482")])


def test_annotate_marks_each_value_once_without_overlaps():
    assert annotate("red shoes in red", [{"entity": "color", "value": "red"}]) == "[red](color) shoes in red"
    assert annotate("hi", [{"entity": "email", "value": "x@y.z"}]) == "hi"


async def test_console_permissions_and_csv_export(client):
    assert (await client.get("/agent/conversations", allow_redirects=False)).status == 303
    await login(client, "sam")
    page = await (await client.get("/agent/conversations?handoff=yes")).text()
    assert "conv-order-1" in page and "conv-boots-3" not in page
    csv_text = await (await client.get("/agent/conversations.csv?handoff=yes")).text()
    assert csv_text.splitlines()[1].startswith("conv-order-1,web,") and "[email hidden]" in csv_text
    token = token_in(page)
    assert (await client.post("/admin/nlu/merge", data={"csrf_token": token})).status == 403
    assert (await client.get("/agent/analytics")).status == 200
    for query in ("to=9999-12-31", "from=0001-01-01&to=0001-01-02", "from=9999-12-30&to=9999-12-31"):
        assert (await client.get(f"/agent/analytics?{query}")).status == 200, query


async def test_two_agents_cannot_take_the_same_conversation(client, world):
    settings, _, _ = world
    client.server.app[HANDOFFS].transcripts.ensure("conv-wait-99", "web")
    client.server.app[HANDOFFS].request("conv-wait-99", "requested")
    await login(client, "sam")
    token = token_in(await (await client.get("/agent/queue")).text())
    resp = await client.post("/agent/queue/conv-wait-99/take", data={"csrf_token": token}, allow_redirects=False)
    assert resp.headers["Location"] == "/agent/live/conv-wait-99"
    async with TestClient(TestServer(create_app(settings))) as other:  # a second agent, elsewhere
        await login(other, "kim")
        token = token_in(await (await other.get("/agent/queue")).text())
        resp = await other.post("/agent/queue/conv-wait-99/take", data={"csrf_token": token}, allow_redirects=False)
        assert "error=" in resp.headers["Location"]


async def test_agent_websocket_is_same_origin_only_and_reaches_the_shopper(client):
    handoffs = client.server.app[HANDOFFS]
    handoffs.transcripts.ensure("conv-live-77", "web")
    handoffs.request("conv-live-77", "requested")
    await login(client, "sam")
    handoffs.take("conv-live-77", "sam")
    origin = str(client.make_url("")).rstrip("/")
    for bad in ("https://evil.example", "http://[::1", "http://host:99999999"):  # malformed: refused, no 500
        resp = await client.get("/agent/ws/conv-live-77", headers={"Origin": bad})
        assert resp.status == 403, bad
    shopper = await client.ws_connect("/ws")
    await shopper.send_json({"type": "hello", "token": client.server.app[TOKENS].issue("conv-live-77")})
    assert (await shopper.receive_json(timeout=5))["mode"]["mode"] == "agent"
    agent = await client.ws_connect("/agent/ws/conv-live-77", headers={"Origin": origin})
    await agent.send_json({"type": "message", "text": "Hi, Sam here."})
    frame = await shopper.receive_json(timeout=5)
    assert frame["message"]["author"] == "agent" and frame["message"]["text"] == "Hi, Sam here."
    await shopper.send_json({"type": "message", "text": "my email is jo@example.com"})
    while (frame := await agent.receive_json(timeout=5))["message"]["author"] != "shopper":
        pass
    assert frame["message"]["text"] == "my email is [email hidden]"  # masked for agents, live too
    # The shopper saw the display name; the transcript tells staff which login wrote it.
    page = await (await client.get("/agent/conversations/conv-live-77")).text()
    shown = re.search(r'<li class="tm agent"[^>]*>.*?<strong>(.*?)</strong>', page, re.S)
    assert shown and shown.group(1) == "Customer support (sam)"


def test_analytics_report(world):
    _, db, _ = world
    today = datetime.now(timezone.utc).date()
    with db() as s:
        data = analytics.report(s, today - timedelta(days=6), today)
    assert data["conversations"] == 3 and data["per_day"]["values"][-1] == 3
    assert data["handoff_rate"] == pytest.approx(1 / 3) and data["containment_rate"] == pytest.approx(2 / 3)
    assert data["fallback_rate"] == pytest.approx(1 / 3)
    assert data["lowest_confidence"][0]["text"] == "blorp fnargle"
    assert [m["text"] for m in data["no_result_searches"]] == ["purple unicorn boots"]
    assert data["faq_feedback"]["unhelpful"] == 1


def test_retention_deletes_old_transcripts_only(world):
    _, db, _ = world
    old = datetime.now(timezone.utc) - timedelta(days=200)
    with db() as s:
        s.execute(update(Conversation).where(Conversation.id == "conv-lost-22").values(last_message_at=old))
        s.commit()
    assert purge(db, 0) == 0  # 0 keeps everything
    assert purge(db, 180) == 1
    with db() as s:
        assert set(s.scalars(select(Conversation.id))) == {"conv-order-1", "conv-boots-3"}
        assert not s.scalars(select(Message).where(Message.conversation_id == "conv-lost-22")).all()


def test_a_candidate_model_goes_live_only_when_promoted(tmp_path):
    import json as jsonlib

    from bot.agent.retrain import NluRetraining, RetrainError

    job = NluRetraining(tmp_path)
    with pytest.raises(RetrainError):
        job.promote()  # nothing trained yet
    for folder, accuracy in (("nlu", 0.91), ("nlu-candidate", 0.93)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "meta.json").write_text(jsonlib.dumps(
            {"trained_at": folder, "n_examples": 10, "validation": {"accuracy": accuracy}}))
    status = job.status()
    assert (status["live"]["accuracy"], status["candidate"]["accuracy"]) == (0.91, 0.93)
    job.promote()
    assert job.status()["live"]["accuracy"] == 0.93 and job.status()["candidate"] is None
    assert (tmp_path / "nlu-previous" / "meta.json").exists()


async def test_only_admins_reach_nlu_training(client):
    await login(client, "sam")
    token = token_in(await (await client.get("/agent/queue")).text())
    assert (await client.get("/admin/nlu")).status == 403
    for path in ("/admin/nlu/retrain", "/admin/nlu/promote", "/admin/nlu/merge"):
        assert (await client.post(path, data={"csrf_token": token})).status == 403
    await client.post("/logout", data={"csrf_token": token})
    await login(client, "ada")
    page = await (await client.get("/admin/nlu")).text()
    assert "Train a candidate" in page and "Make the candidate live" in page


async def test_faq_misses_are_masked_for_staff(client, world):
    _, db, _ = world
    with db() as s:
        s.add(FaqMiss(question="can you send the invoice to jo@example.com or call 503 555 0199?", confidence=0.1,
                      conversation_id="conv-order-1"))
        s.commit()
    await login(client, "sam")
    page = await (await client.get("/admin/faq/insights")).text()
    assert "can you send the invoice to [email hidden] or call [phone hidden]?" in page
    assert "jo@example.com" not in page and "555 0199" not in page


def test_postcodes_are_masked_but_order_numbers_stay():
    assert mask("order 10002 alex.morgan@example.com 94107") == "order 10002 [email hidden] [postcode hidden]"
    assert mask("my zip code is 94107-1234, order #10482") == "my zip code is [postcode hidden], order #10482"
    assert mask("deliver to SW1A 1AA") == "deliver to [postcode hidden]"
    assert mask("size 10 boots under 100 for order 10482") == "size 10 boots under 100 for order 10482"


# ---- the inbox (issue #17 item 4) ---------------------------------------------------------------
def test_form_answers_are_not_fallbacks(world):
    """An email the order form took is an answer, even when the NLU called it a fallback."""
    _, db, _ = world
    t = Transcripts(db, Hub())
    cid = t.ensure("conv-form-5", "web").id
    say(t, cid, "jo@example.com", nlu("nlu_fallback", 0.3, [("email", "jo@example.com")]),
        ["order_form", "action_listen"], {"order_email": "jo@example.com", "requested_slot": None})
    say(t, cid, "94107", nlu("nlu_fallback", 0.2), ["order_form"], {"order_postcode": None})  # a wrong one too
    say(t, cid, "asdfgh", nlu("nlu_fallback", 0.1), ["action_default_fallback"])  # still a fallback
    today = datetime.now(timezone.utc).date()
    with db() as s:
        data = analytics.report(s, today, today)
    assert data["form_answers"] == 2
    assert dict(data["top_intents"])["nlu_fallback"] == 2  # "blorp fnargle" and "asdfgh"
    assert data["fallback_rate"] == pytest.approx(2 / 4)
    assert [m["text"] for m in data["lowest_confidence"][:2]] == ["asdfgh", "blorp fnargle"]
    assert analytics.form_answer({"actions": ["order_form"], "slots": {"order_number": "10482"}})
    assert not analytics.form_answer({"actions": ["action_search_products"], "slots": {"order_number": "1"}})
    assert not analytics.form_answer(None)


def test_readable_waits():
    from bot.agent.inbox import readable

    assert [readable(s) for s in (0, 59.4, 61, 1068, 3600, 3725, 49 * 3600)] == [
        "0 s", "59 s", "1 min", "17 min", "1 h", "1 h 2 min", "2 days"]


async def test_inbox_rows_read_like_sentences_and_show_who_has_what(client, world):
    _, db, _ = world
    handoffs = client.server.app[HANDOFFS]
    for cid, reason in (("conv-a", "requested"), ("conv-b", "repeated_fallback")):
        handoffs.transcripts.ensure(cid, "web")
        handoffs.transcripts.post(cid, Author.shopper, "first")
        handoffs.transcripts.post(cid, Author.shopper, f"mail {cid}@example.com please")
        handoffs.request(cid, reason)
    with db() as s:
        s.execute(update(Conversation).where(Conversation.id == "conv-a").values(
            handoff_requested_at=datetime.now(timezone.utc) - timedelta(seconds=1068)))
        s.commit()
    handoffs.take("conv-b", "kim")
    await login(client, "sam")
    page = await (await client.get("/agent/queue")).text()
    rows = re.findall(r'<li class="row (\w+)[^"]*" data-id="([^"]+)"', page)
    assert rows == [("waiting", "conv-a"), ("agent", "conv-b")]  # waiting first
    assert "waiting 17 min" in page and "1068 s" not in page and "asked for a person" in page
    assert "the bot did not understand, three times" in page and "kim" in page and "unassigned" in page
    assert "mail [email hidden] please" in page and "conv-a@example.com" not in page  # the latest, masked
    fragment = await (await client.get("/agent/queue/rows?current=conv-b")).text()
    assert 'aria-current="page"' in fragment and "<html" not in fragment
    assert [r["wait_text"] for r in (await (await client.get("/agent/queue.json")).json())["inbox"]][0] == \
        "waiting 17 min"


def test_customer_panel_from_the_transcript_cart_and_orders(world):
    from decimal import Decimal

    from aisle.models import Customer, Order, Product
    from bot.agent.customer import Verification, panel
    from catalog import cart

    _, db, _ = world
    with db() as s:
        boots, kettle = (Product(sku=sku, title=title, description="", category="c", price=Decimal(price), stock=5)
                         for sku, title, price in (("B1", "Trail boots", "89.00"), ("K1", "Kettle", "30.00")))
        jo = Customer(email="jo@example.com", name="Jo")
        s.add_all([boots, kettle, jo])
        s.flush()
        placed = datetime(2026, 11, 1, tzinfo=timezone.utc)
        s.add_all([Order(number="10482", customer_id=jo.id, total=Decimal("89.00"), placed_at=placed),
                   Order(number="10483", customer_id=jo.id, total=Decimal("12.00"), placed_at=placed + timedelta(1))])
        s.commit()
    t = Transcripts(db, Hub())
    cid = t.ensure("conv-panel-1", "web").id
    assert panel(db, cid, 1800).verification is Verification.none
    message = say(t, cid, "boots", nlu("search_product", 0.9), ["action_search_products"])
    t.record_turn(cid, message, TurnTrace(0, None, [], {}),
                  replies=[("Here you go", {"cards": [{"sku": "B1"}, {"sku": "K1"}, {"sku": "GONE"}]})])
    say(t, cid, "details of the kettle", nlu("product_details", 0.9), [], {"focus_sku": "K1"})
    now = datetime.now(timezone.utc)
    say(t, cid, "10482 jo@example.com 94107", nlu("order_status", 0.9), ["order_form"],
        {"verified_email": "jo@example.com", "verified_orders": ["10482"], "verified_at": now.timestamp()})
    cart.add(db, cid, "B1", 2)

    got = panel(db, cid, 1800, now=now)
    assert (got.verification, got.email) == (Verification.verified, "j•••@example.com")
    assert [(o.number, o.unlocked) for o in got.orders] == [("10483", False), ("10482", True)]  # newest first
    assert [(p.sku, p.opened) for p in got.products] == [("K1", True), ("B1", False)]  # newest first, once
    assert (got.cart.items, got.cart.total) == (2, Decimal("178.00"))
    assert panel(db, cid, 1800, now=now + timedelta(hours=1)).verification is Verification.expired


async def test_canned_replies_are_admin_only_validated_and_audited(client, world):
    _, db, _ = world
    await login(client, "sam")
    token = token_in(await (await client.get("/agent/queue")).text())
    assert (await client.get("/admin/canned")).status == 403
    assert (await client.post("/admin/canned", data={"csrf_token": token, "shortcut": "x", "text": "y"})).status == 403
    await client.post("/logout", data={"csrf_token": token})
    await login(client, "ada")
    token = token_in(await (await client.get("/admin/canned")).text())
    resp = await client.post("/admin/canned", data={"csrf_token": token, "shortcut": "/Returns",
                                                    "text": "You have 30 days.\r\n- free labels"})
    assert "Saved /returns." in await resp.text()
    resp = await client.post("/admin/canned", data={"csrf_token": token, "shortcut": "returns", "text": "again"})
    body = await resp.text()
    assert resp.status == 400 and "already a reply with the shortcut /returns" in body and ">again</textarea>" in body
    resp = await client.post("/admin/canned", data={"csrf_token": token, "shortcut": "bad shortcut!", "text": "t"})
    assert resp.status == 400 and "A shortcut is" in await resp.text()
    from bot.agent.canned import CannedReplies

    [reply] = CannedReplies(db).all()
    assert reply.text == "You have 30 days.\n- free labels"
    await client.post(f"/admin/canned/{reply.id}", data={"csrf_token": token, "shortcut": "returns-30",
                                                         "text": "30 days."})
    assert [(r.shortcut, r.text) for r in CannedReplies(db).all()] == [("returns-30", "30 days.")]
    await client.post(f"/admin/canned/{reply.id}/delete", data={"csrf_token": token})
    resp = await client.post(f"/admin/canned/{reply.id}/delete", data={"csrf_token": token})
    assert "No such canned reply" in await resp.text()
    with db() as s:
        events = s.execute(select(AuditEvent.action, AuditEvent.target).where(
            AuditEvent.action.like("canned.%")).order_by(AuditEvent.id)).all()
    assert [tuple(e) for e in events] == [("canned.create", "returns"), ("canned.update", "returns-30"),
                                          ("canned.delete", "returns-30")]


async def test_the_live_page_has_three_panes_and_typing_goes_both_ways(client, world):
    from bot.agent.canned import CannedReplies

    CannedReplies(world[1]).create("hello", "Hi <there>, how can I help?", "ada")
    handoffs = client.server.app[HANDOFFS]
    handoffs.transcripts.ensure("conv-type-1", "web")
    handoffs.request("conv-type-1", "requested")
    await login(client, "sam")
    handoffs.take("conv-type-1", "sam")
    page = await (await client.get("/agent/live/conv-type-1")).text()
    for pane in ('class="pane inbox-list"', 'class="pane inbox-chat"', 'class="pane inbox-customer"'):
        assert pane in page
    assert "Hi \\u003cthere\\u003e" in page  # canned replies for the picker, escaped inside the script tag
    assert "not verified" in (await (await client.get("/agent/live/conv-type-1/customer")).text())

    origin = str(client.make_url("")).rstrip("/")
    shopper = await client.ws_connect("/ws")
    await shopper.send_json({"type": "hello", "token": client.server.app[TOKENS].issue("conv-type-1")})
    await shopper.receive_json(timeout=5)
    agent = await client.ws_connect("/agent/ws/conv-type-1", headers={"Origin": origin})
    await agent.send_json({"type": "typing", "on": True})
    assert await shopper.receive_json(timeout=5) == {"type": "typing", "on": True, "author": "agent",
                                                     "agent": "Customer support"}
    # Only the first "on" and the first "off" go out: the other "on"s come too soon, the second "off" is no news.
    for on in (True, True, False, False, True):
        await shopper.send_json({"type": "typing", "on": on})
    assert await agent.receive_json(timeout=5) == {"type": "typing", "on": True, "author": "shopper"}
    assert await agent.receive_json(timeout=5) == {"type": "typing", "on": False, "author": "shopper"}
    await shopper.send_json({"type": "message", "text": "hello?"})
    assert (await agent.receive_json(timeout=5))["message"]["text"] == "hello?"  # nothing else came first
    await shopper.send_json({"type": "ping"})
    while (frame := await shopper.receive_json(timeout=5))["type"] != "pong":
        assert frame["type"] != "typing"  # no echo of its own typing

    handoffs.hand_back("conv-type-1", "sam")
    while (await agent.receive_json(timeout=5))["type"] != "mode":
        pass
    await agent.send_json({"type": "typing", "on": True})  # no longer theirs: refused
    assert (await agent.receive_json(timeout=5))["type"] == "error"
