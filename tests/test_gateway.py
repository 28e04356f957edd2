"""The widget's WebSocket protocol, limits, ordering and handoff, against an in-process app."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from aisle.models import Conversation, Role
from bot.app import create_app
from bot.appkeys import HANDOFFS, SETTINGS
from bot.console.accounts import create_user
from bot.gateway import BotTurn, GatewayError, RateLimits, max_body_bytes
from bot.handoff import HandoffError
from bot.rasa_client import RasaClient
from tests.web_fixtures import closed_port, web_settings

TIMEOUT = 5


@pytest.fixture
async def client(tmp_path, rasa):
    settings = web_settings(tmp_path, rasa.url, AISLE_RATE_PER_CONVERSATION="8/minute")
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def hello(client, token=None):
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": token})
    welcome = await ws.receive_json(timeout=TIMEOUT)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def until(ws, predicate):
    """Frames up to and including the first one the predicate accepts."""
    seen = []
    while True:
        frame = await ws.receive_json(timeout=TIMEOUT)
        seen.append(frame)
        if predicate(frame):
            return seen


def bot_said(text):
    return lambda f: f["type"] == "message" and f["message"]["author"] == "bot" and f["message"]["text"] == text


async def test_the_gateway_calls_rasa_with_the_internal_secret(client, rasa):
    """Rasa's REST channel answers only the web app: every call carries the data dir's secret."""
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "hello"})
    await until(ws, bot_said("echo: hello"))
    secret = client.server.app[SETTINGS].internal_secret()
    assert rasa.authorizations == [f"Bearer {secret}"]


async def test_a_message_round_trip_and_history_on_reconnect(client):
    ws, welcome = await hello(client)
    cid = welcome["conversation_id"]
    assert welcome["history"] == [] and welcome["mode"]["mode"] == "bot"
    await ws.send_json({"type": "message", "text": "hi", "client_id": "m1"})
    frames = await until(ws, lambda f: f == {"type": "typing", "on": False})
    kinds = [(f["type"], f.get("message", {}).get("author") or f.get("on")) for f in frames]
    assert kinds == [("message", "shopper"), ("typing", True), ("message", "bot"), ("typing", False)]
    assert frames[0]["message"]["client_id"] == "m1" and frames[2]["message"]["text"] == "echo: hi"
    await ws.close()

    ws, again = await hello(client, welcome["token"])
    assert again["conversation_id"] == cid
    assert [(m["author"], m["text"]) for m in again["history"]] == [("shopper", "hi"), ("bot", "echo: hi")]
    await ws.close()


async def test_an_unknown_conversation_id_starts_a_new_one(client):
    ws, welcome = await hello(client, "c-not-a-real-conversation")
    assert welcome["conversation_id"] != "c-not-a-real-conversation"
    await ws.close()


@pytest.mark.parametrize("forge", [
    lambda real: real["conversation_id"],  # the bare id: not a token
    lambda real: real["token"][:-2] + ("AA" if not real["token"].endswith("AA") else "BB"),  # signature altered
    lambda real: "c-someone-else." + real["token"].rpartition(".")[2],  # another id, this id's signature
    lambda real: "\ud800." + "x" * 43,  # not ASCII
    lambda real: ["a", "list"],
])
async def test_only_a_token_the_server_issued_resumes_a_conversation(client, forge):
    ws, real = await hello(client)
    await ws.send_json({"type": "message", "text": "my secret order", "client_id": "s1"})
    await until(ws, bot_said("echo: my secret order"))
    await ws.close()
    ws, other = await hello(client, forge(real))
    assert other["conversation_id"] != real["conversation_id"] and other["history"] == []
    await ws.close()


@pytest.mark.parametrize("frame, code", [
    ("not json", "bad_json"),
    ('["a list"]', "bad_frame"),
    ('{"no": "type"}', "bad_frame"),
    ('{"type": "launch_missiles"}', "unknown_type"),
    ('{"type": "message", "text": "   "}', "empty"),
    ('{"type": "message", "text": "' + "x" * 2001 + '"}', "too_long"),
    ('{"type": "message", "text": "hi", "payload": "<script>"}', "bad_payload"),
    ('{"type": "message", "text": "hi", "client_id": 7}', "bad_frame"),
])
async def test_bad_frames_get_a_clear_error_and_the_socket_stays_open(client, frame, code):
    ws, _ = await hello(client)
    await ws.send_str(frame)
    error = await ws.receive_json(timeout=TIMEOUT)
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json(timeout=TIMEOUT) == {"type": "pong"}
    await ws.close()


async def test_binary_frames_and_hello_first_are_enforced(client):
    ws, _ = await hello(client)
    await ws.send_bytes(b"\x00\x01")
    assert (await ws.receive_json(timeout=TIMEOUT))["code"] == "bad_frame"
    await ws.close()
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "message", "text": "hi"})
    assert (await ws.receive_json(timeout=TIMEOUT))["code"] == "hello_first"
    assert (await ws.receive(timeout=TIMEOUT)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)


async def test_an_oversized_frame_closes_the_socket_with_1009(client):
    ws, welcome = await hello(client)
    await ws.send_str("x" * (max_body_bytes(welcome["max_message_chars"]) + 1))
    msg = await ws.receive(timeout=TIMEOUT)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and ws.close_code == 1009


async def test_the_longest_message_fits_a_frame_even_fully_escaped(client):
    """The frame limit follows the message limit: a 2,000-emoji message, JSON-escaped as surrogate pairs
    the way Python and other clients send it, is still a frame the socket takes."""
    ws, welcome = await hello(client)
    text = "😀" * welcome["max_message_chars"]
    frame = json.dumps({"type": "message", "text": text, "client_id": "long-one"})  # ASCII-only: \ud83d\ude00
    assert len(frame.encode()) > 16 * 1024  # what the fixed limit used to refuse
    await ws.send_str(frame)
    await until(ws, bot_said(f"echo: {text}"))


async def test_a_resent_message_is_handled_once(client, rasa):
    ws, welcome = await hello(client)
    for _ in range(2):
        await ws.send_json({"type": "message", "text": "once", "client_id": "same-id"})
    await until(ws, bot_said("echo: once"))
    await asyncio.sleep(0.2)
    assert [m for _, m in rasa.received] == ["once"]
    history = client.server.app[HANDOFFS].transcripts.history(welcome["conversation_id"])
    assert [m["text"] for m in history if m["author"] == "shopper"] == ["once"]


async def test_messages_are_answered_in_order_even_when_the_first_is_slow(client, rasa):
    rasa.delay_first = 0.5
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "first"})
    await ws.send_json({"type": "message", "text": "second"})
    frames = await until(ws, bot_said("echo: second"))
    bot = [f["message"]["text"] for f in frames if f["type"] == "message" and f["message"]["author"] == "bot"]
    assert bot == ["echo: first", "echo: second"]


async def test_the_conversation_rate_limit(client):
    ws, _ = await hello(client)
    for i in range(9):
        await ws.send_json({"type": "message", "text": f"m{i}"})
    frames = await until(ws, lambda f: f["type"] == "error")
    assert frames[-1]["code"] == "rate_limited"


async def test_product_cards_join_the_text_they_follow(client):
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "cards please"})
    frames = await until(ws, bot_said("echo: cards please"))
    message = frames[-1]["message"]
    assert message["intro"] == "Here you go:" and message["cards"][0]["sku"] == "KET-100"


async def test_rasa_down_gives_a_one_moment_notice(tmp_path):
    async with TestClient(TestServer(create_app(web_settings(tmp_path)))) as client:
        ws, _ = await hello(client)
        await ws.send_json({"type": "message", "text": "hi"})
        frames = await until(ws, lambda f: f["type"] == "message" and f["message"]["author"] == "system")
        assert "one moment" in frames[-1]["message"]["text"].lower()
        assert frames[-1]["message"]["notice"] == "unavailable"


async def test_the_client_address_reaches_rasa_as_message_metadata(client, rasa):
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "where is my order"})
    await until(ws, bot_said("echo: where is my order"))
    assert rasa.metadata[-1] == {"client": "127.0.0.1"}  # the order actions slow a guessing client down


async def test_handoff_take_live_agent_messages_and_hand_back(client, rasa):
    handoffs = client.server.app[HANDOFFS]
    create_user(handoffs.transcripts.sessions, "dana.k", "a long enough password", Role.agent, "test",
                display_name="Dana")
    ws, welcome = await hello(client)
    cid = welcome["conversation_id"]
    await ws.send_json({"type": "message", "text": "a human please"})
    frames = await until(ws, lambda f: f["type"] == "mode")
    assert frames[-1]["mode"] == "waiting" and frames[-1]["queue_position"] == 1
    assert handoffs.queue()[0]["conversation_id"] == cid

    relayed = len(rasa.received)
    await ws.send_json({"type": "message", "text": "hello? anyone?"})
    await until(ws, lambda f: f["type"] == "message" and f["message"]["text"] == "hello? anyone?")
    assert len(rasa.received) == relayed  # the bot is silent while waiting for a person

    assert handoffs.take(cid, "dana.k") is True
    assert handoffs.take(cid, "sam") is False  # two agents cannot take the same conversation
    frames = await until(ws, lambda f: f["type"] == "mode")
    # The shopper sees the display name, never the login (it would help guess logins).
    assert frames[-1] == {"type": "mode", "mode": "agent", "agent": "Dana"}
    joined = [f["message"] for f in frames if f["type"] == "message" and f["message"].get("notice") == "agent_joined"]
    assert joined[0]["text"] == "Dana from our team joined the chat."

    handoffs.agent_message(cid, "dana.k", "Hi, Dana here. How can I help?")
    frames = await until(ws, lambda f: f["type"] == "message" and f["message"]["author"] == "agent")
    assert frames[-1]["message"]["agent"] == "Dana" and "agent_name" not in frames[-1]["message"]
    with pytest.raises(HandoffError):
        handoffs.agent_message(cid, "sam", "I am not the agent on this one")

    handoffs.hand_back(cid, "dana.k")
    frames = await until(ws, lambda f: f["type"] == "mode" and f["mode"] == "bot")
    assert "dana.k" not in json.dumps(frames)
    history = handoffs.transcripts.history(cid, details=True)
    assert "dana.k" not in json.dumps(handoffs.transcripts.history(cid))  # what the widget's hello gets
    assert [m["agent_login"] for m in history if m["author"] == "agent"] == ["dana.k"]  # the console knows who
    await ws.send_json({"type": "message", "text": "back to you, bot"})
    await until(ws, bot_said("echo: back to you, bot"))
    assert handoffs.queue() == []


async def test_handoff_state_survives_an_app_restart_and_can_be_cancelled(tmp_path, rasa):
    settings = web_settings(tmp_path, rasa.url)
    async with TestClient(TestServer(create_app(settings))) as client:
        ws, welcome = await hello(client)
        await ws.send_json({"type": "message", "text": "human"})
        await until(ws, lambda f: f["type"] == "mode")
        await ws.close()
    async with TestClient(TestServer(create_app(settings))) as client:  # a fresh process, same database
        ws, again = await hello(client, welcome["token"])
        assert again["mode"]["mode"] == "waiting"
        await ws.send_json({"type": "cancel_handoff"})
        frames = await until(ws, lambda f: f["type"] == "mode")
        assert frames[-1]["mode"] == "bot"


def test_bot_turn_folds_rasa_replies():
    turn = BotTurn.from_replies([
        {"text": "Found 2:", "recipient_id": "x"},
        {"custom": {"type": "product_cards", "intro": "Found 2:", "products": [{"sku": "A"}]}},
        {"text": "Anything else?", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
        {"text": "Bringing someone in."},
        {"custom": {"type": "handoff", "reason": "repeated_fallback"}},
    ])
    assert turn.messages == [
        ("Found 2:", {"cards": [{"sku": "A"}], "intro": "Found 2:"}),
        ("Anything else?", {"buttons": [{"title": "Yes", "payload": "/affirm"}]}),
        ("Bringing someone in.", {}),
    ]
    assert turn.handoff_reason == "repeated_fallback"


def test_a_cart_or_comparison_payload_joins_its_text_instead_of_an_empty_message():
    cart = {"type": "cart", "items": [{"sku": "A", "title": "Kettle", "quantity": 1, "unit_price": 30.0}],
            "total": 30.0, "currency": "USD"}
    turn = BotTurn.from_replies([
        {"text": "Your cart (1 item):"}, {"custom": cart},
        {"text": "A vs B"}, {"custom": {"type": "comparison", "products": [], "rows": []}},
        {"custom": {"type": "something_new", "value": 1}},  # no text before it of its own: kept, not lost
    ])
    assert turn.messages == [
        ("Your cart (1 item):", {"custom": cart}),
        ("A vs B", {"custom": {"type": "comparison", "products": [], "rows": []}}),
        ("", {"custom": {"type": "something_new", "value": 1}}),
    ]


def test_rate_limits_are_per_ip_too():
    limits = RateLimits("100/minute", "2/minute")
    limits.check("c1", "10.0.0.1")
    limits.check("c2", "10.0.0.1")
    with pytest.raises(GatewayError, match="your network"):
        limits.check("c3", "10.0.0.1")
    limits.check("c4", "10.0.0.2")
    with pytest.raises(ValueError, match="AISLE_RATE"):
        RateLimits("lots", "1/minute")


async def test_an_agent_can_take_over_from_the_bot(client, rasa):
    handoffs = client.server.app[HANDOFFS]
    ws, welcome = await hello(client)
    cid = welcome["conversation_id"]
    await ws.send_json({"type": "message", "text": "hi"})
    await until(ws, bot_said("echo: hi"))
    assert handoffs.take(cid, "dana.k") is True  # never queued: a takeover
    frames = await until(ws, lambda f: f["type"] == "mode")
    assert frames[-1]["mode"] == "agent" and handoffs.take(cid, "sam") is False
    relayed = len(rasa.received)
    await ws.send_json({"type": "message", "text": "is someone there?"})
    await until(ws, lambda f: f["type"] == "message" and f["message"]["text"] == "is someone there?")
    assert len(rasa.received) == relayed


async def test_a_slow_bot_ends_in_an_honest_notice_within_the_turn_timeout(tmp_path, rasa):
    rasa.delay_first = 3  # a hung dependency behind Rasa (NLU, actions) looks like this to the gateway
    settings = web_settings(tmp_path, rasa.url, AISLE_TURN_TIMEOUT_S="1")
    async with TestClient(TestServer(create_app(settings))) as slow_client:
        ws, _ = await hello(slow_client)
        started = time.monotonic()
        await ws.send_json({"type": "message", "text": "anyone there?"})
        frames = await until(ws, lambda f: f["type"] == "message" and f["message"]["author"] == "system")
        waited = time.monotonic() - started
    assert frames[-1]["message"]["notice"] == "unavailable" and "longer than it should" in frames[-1]["message"]["text"]
    assert 1 <= waited < 3


async def test_turns_skip_a_rasa_server_that_refuses_connections(tmp_path, rasa):
    down = f"http://127.0.0.1:{closed_port()}"
    settings = web_settings(tmp_path, f"{down},{rasa.url}", AISLE_REDIS_URL="redis://127.0.0.1:1/0")
    async with aiohttp.ClientSession() as session:
        client = RasaClient(settings.rasa_urls, session, settings.turn_timeout_s, settings.internal_secret())
        answers = [await client.send("failover-1", f"m{i}") for i in range(3)]
    assert {a.server for a in answers} == {rasa.url} and [a.replies[0]["text"] for a in answers] == [
        "echo: m0", "echo: m1", "echo: m2"]


async def test_a_turn_the_bot_leaves_silent_gets_the_honest_notice(client):
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "silence please"})
    frames = await until(ws, lambda f: f["type"] == "message" and f["message"]["author"] == "system")
    assert frames[-1]["message"]["notice"] == "unavailable"


async def test_end_chat_forgets_the_conversation_in_every_tab(client):
    ws, welcome = await hello(client)
    await ws.send_json({"type": "message", "text": "order 10002", "client_id": "e1"})
    await until(ws, bot_said("echo: order 10002"))
    second_tab, again = await hello(client, welcome["token"])
    assert again["conversation_id"] == welcome["conversation_id"]

    await ws.send_json({"type": "end"})
    await until(ws, lambda f: f["type"] == "ended")
    await until(second_tab, lambda f: f["type"] == "ended")
    await second_tab.send_json({"type": "message", "text": "still there?", "client_id": "e2"})
    refused = await until(second_tab, lambda f: f["type"] == "error")
    assert refused[-1]["code"] == "ended"
    await ws.close()
    await second_tab.close()

    ws, fresh = await hello(client, welcome["token"])  # the old token no longer opens it
    assert fresh["conversation_id"] != welcome["conversation_id"] and fresh["history"] == []
    await ws.close()
    transcript = client.server.app[HANDOFFS].transcripts.history(welcome["conversation_id"])
    assert transcript[-1]["text"] == "The shopper ended the chat."  # the agent's transcript says so
    assert "still there?" not in [m["text"] for m in transcript]


async def test_end_chat_takes_a_waiting_conversation_out_of_the_queue(client):
    handoffs = client.server.app[HANDOFFS]
    ws, welcome = await hello(client)
    await ws.send_json({"type": "message", "text": "human"})
    await until(ws, lambda f: f["type"] == "mode" and f["mode"] == "waiting")
    assert [q["conversation_id"] for q in handoffs.queue()] == [welcome["conversation_id"]]
    await ws.send_json({"type": "end"})
    await until(ws, lambda f: f["type"] == "ended")
    assert handoffs.queue() == []
    await ws.close()


async def test_an_idle_conversation_is_not_resumed(tmp_path, rasa):
    settings = web_settings(tmp_path, rasa.url, AISLE_WIDGET_IDLE_MINUTES="5")
    async with TestClient(TestServer(create_app(settings))) as client:
        ws, welcome = await hello(client)
        assert welcome["idle_expiry_s"] == 300
        await ws.send_json({"type": "message", "text": "hi"})
        await until(ws, bot_said("echo: hi"))
        await ws.close()
        ws, again = await hello(client, welcome["token"])
        assert again["conversation_id"] == welcome["conversation_id"]  # 4 minutes would still be fine
        await ws.close()
        transcripts = client.server.app[HANDOFFS].transcripts
        with transcripts.sessions() as s:
            s.execute(update(Conversation).where(Conversation.id == welcome["conversation_id"])
                      .values(last_message_at=datetime.now(timezone.utc) - timedelta(minutes=6)))
            s.commit()
        ws, later = await hello(client, welcome["token"])
        assert later["conversation_id"] != welcome["conversation_id"] and later["history"] == []
        await ws.close()


@pytest.mark.parametrize("origin, allowed", [
    (None, True),  # not a browser
    ("own", True),
    ("https://shop.example.com", True),  # AISLE_WIDGET_ORIGINS
    ("https://SHOP.example.com/", True),
    ("https://evil.example", False),
    ("http://shop.example.com", False),  # another scheme is another origin
    ("null", False),
    ("http://[::1", False),  # malformed
])
async def test_only_the_stores_own_pages_may_open_the_shopper_socket(tmp_path, rasa, origin, allowed):
    settings = web_settings(tmp_path, rasa.url, AISLE_WIDGET_ORIGINS="https://shop.example.com")
    async with TestClient(TestServer(create_app(settings))) as client:
        if origin == "own":
            origin = str(client.make_url("")).rstrip("/")
        headers = {"Origin": origin} if origin else {}
        if allowed:
            ws = await client.ws_connect("/ws", headers=headers)
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "welcome"
            await ws.close()
        else:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws", headers=headers)
            assert refused.value.status == 403
