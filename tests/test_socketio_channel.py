"""The Socket.IO channel (rasa-webchat's protocol) against an in-process app, with python-socketio's
own client over real HTTP/WebSocket; Rasa is the echoing stand-in of tests/web_fixtures.py."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from aisle.db import session_factory
from aisle.models import Author, Conversation, Message
from bot.app import create_app
from bot.appkeys import HANDOFFS, SETTINGS
from bot.socketio_channel import bot_uttered
from tests.web_fixtures import web_settings

TIMEOUT = 5
SHOP = "https://shop.example.com"


@pytest.fixture
async def server(tmp_path, rasa):
    settings = web_settings(tmp_path, rasa.url, AISLE_RATE_PER_CONVERSATION="6/minute",
                            AISLE_MAX_MESSAGE_CHARS="200", AISLE_WIDGET_ORIGINS=SHOP)
    async with TestServer(create_app(settings)) as s:
        yield s


class Client:
    """A Socket.IO client like rasa-webchat: session_request on connect, bot_uttered collected in order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: asyncio.Queue[Any] = asyncio.Queue()
        self.uttered: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sio.on("session_confirm", self.confirmed.put)
        self.sio.on("bot_uttered", self.uttered.put)

    async def connect(self, server: TestServer, session_id: str | None = None, transport: str = "websocket",
                      origin: str | None = None) -> str:
        await self.sio.connect(str(server.make_url("")), socketio_path="socket.io", transports=[transport],
                               headers={"Origin": origin} if origin else {}, wait_timeout=TIMEOUT)
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), TIMEOUT)

    async def say(self, message: str, session_id: str | None = None) -> None:
        await self.sio.emit("user_uttered", {"message": message, "session_id": session_id, "customData": {}})

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.uttered.get(), TIMEOUT)

    async def until(self, predicate) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        seen = []
        while True:
            seen.append(await self.next())
            if predicate(seen[-1]):
                return seen

    async def close(self) -> None:
        if self.sio.connected and self.sio.transport() == "polling":
            # python-engineio's client would wait for its pending long-poll (the ping interval, 25 s)
            await self.sio.eio.disconnect(abort=True)
        else:
            await self.sio.disconnect()


@pytest.fixture
async def shopper():
    client = Client()
    yield client
    await client.close()


def stored(server: TestServer) -> tuple[list[Conversation], list[Message]]:
    with session_factory(server.app[SETTINGS].database_url)() as s:
        return list(s.scalars(select(Conversation))), list(s.scalars(select(Message).order_by(Message.id)))


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_session_and_a_message_round_trip_through_the_gateway(server, rasa, shopper, transport):
    cid = await shopper.connect(server, transport=transport)
    assert isinstance(cid, str) and cid.startswith("c-")
    assert stored(server) == ([], [])  # connecting (a page view) creates no conversation
    await shopper.say("hello there", cid)
    assert await shopper.next() == {"text": "echo: hello there"}
    conversations, messages = stored(server)
    assert [(c.id, c.channel) for c in conversations] == [(cid, "socketio")]
    assert [(m.author.value, m.text) for m in messages] == [("shopper", "hello there"),
                                                             ("bot", "echo: hello there")]
    assert rasa.received == [(cid, "hello there")]


async def test_the_server_decides_the_session_id(server, shopper):
    cid = await shopper.connect(server)
    await shopper.say("remember me", cid)
    await shopper.next()
    await shopper.close()

    again = Client()
    assert await again.connect(server, cid) == cid  # a reload keeps its conversation
    await again.close()
    for wanted in ("made-up-id-0000000001", "c-" + "A" * 24, "x" * 500, None):
        other = Client()
        fresh = await other.connect(server, wanted)
        assert fresh not in (cid, wanted) and fresh.startswith("c-")
        await other.close()
    unused = Client()
    never_used = await unused.connect(server)
    await unused.close()
    late = Client()
    assert await late.connect(server, never_used) != never_used  # issued, never used: nothing to resume
    await late.close()


async def test_an_ended_or_idle_conversation_is_not_resumed(server, shopper):
    transcripts = server.app[HANDOFFS].transcripts
    cid = await shopper.connect(server)
    await shopper.say("hello", cid)
    await shopper.next()
    await shopper.close()
    transcripts.end(cid)  # e.g. closed for good from the widget on the same browser
    ended = Client()
    assert await ended.connect(server, cid) != cid
    await ended.close()

    other = Client()
    idle_id = await other.connect(server)
    await other.say("hello again", idle_id)
    await other.next()
    await other.close()
    long_ago = datetime.now(timezone.utc) - timedelta(seconds=server.app[SETTINGS].widget_idle_s + 60)
    with session_factory(server.app[SETTINGS].database_url)() as s:
        s.execute(update(Conversation).where(Conversation.id == idle_id).values(last_message_at=long_ago))
        s.commit()
    idle = Client()
    assert await idle.connect(server, idle_id) != idle_id
    await idle.close()


async def test_an_id_of_another_channel_gets_a_fresh_conversation(server, shopper):
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        await ws.send_json({"type": "hello"})
        widget_id = (await ws.receive_json(timeout=TIMEOUT))["conversation_id"]  # the widget's own channel
    assert await shopper.connect(server, widget_id) != widget_id


async def test_product_cards_become_a_carousel_and_a_click_is_stored_as_its_title(server, rasa, shopper):
    cid = await shopper.connect(server)
    await shopper.say("show me cards", cid)
    assert await shopper.next() == {"text": "Here you go:"}
    carousel = await shopper.next()
    assert carousel["attachment"]["type"] == "template"
    assert carousel["attachment"]["payload"]["template_type"] == "generic"
    [card] = carousel["attachment"]["payload"]["elements"]
    assert card["title"] == "Kettle" and card["subtitle"] == "$39.90"
    assert card["buttons"] == []  # the stand-in's card has none; the real ones are in the browser test

    await shopper.say('/product_details{"sku": "KET-100"}', cid)
    await shopper.next()
    assert rasa.received[-1] == (cid, '/product_details{"sku": "KET-100"}')


async def test_buttons_become_quick_replies_and_a_clicked_payload_reads_as_its_title(server, rasa, shopper):
    cid = await shopper.connect(server)
    card = {"sku": "KET-1", "title": "Steel Kettle", "price": 25, "rating": 4.5, "in_stock": False,
            "image_url": "https://img.example.com/k.jpg",
            "buttons": [{"title": "Details", "payload": '/product_details{"sku": "KET-1"}'}]}
    server.app[HANDOFFS].transcripts.ensure(cid, "socketio")
    server.app[HANDOFFS].transcripts.post(cid, Author.bot, "Pick one", payload={
        "buttons": [{"title": "Yes please", "payload": "/affirm"}], "cards": [card], "intro": "Two kettles"})
    assert await shopper.next() == {"text": "Two kettles", "quick_replies": [
        {"content_type": "text", "title": "Yes please", "payload": "/affirm"}]}
    [element] = (await shopper.next())["attachment"]["payload"]["elements"]
    assert element == {"title": "Steel Kettle", "subtitle": "$25.00 · ★ 4.5 · Out of stock",
                       "image_url": "https://img.example.com/k.jpg",
                       "buttons": [{"type": "postback", "title": "Details",
                                    "payload": '/product_details{"sku": "KET-1"}'}],
                       "default_action": {"type": "postback", "title": "Details",
                                          "payload": '/product_details{"sku": "KET-1"}'}}
    await shopper.say('/product_details{"sku": "KET-1"}', cid)
    await shopper.next()
    await shopper.close()
    reloaded = Client()  # a reload: rasa-webchat redraws the old buttons, and they still read as clicked
    assert await reloaded.connect(server, cid) == cid
    await reloaded.say("/affirm", cid)
    await reloaded.next()
    await reloaded.close()
    _, messages = stored(server)
    assert [(m.text, (m.payload or {}).get("postback")) for m in messages if m.author is Author.shopper] == [
        ("Details: Steel Kettle", '/product_details{"sku": "KET-1"}'), ("Yes please", "/affirm")]


def test_every_stored_kind_has_a_shape_rasa_webchat_renders():
    assert bot_uttered({"author": "bot", "text": "Hi", "buttons": [{"title": "A", "payload": "/a"}]}) == [
        {"text": "Hi", "quick_replies": [{"content_type": "text", "title": "A", "payload": "/a"}]}]
    assert bot_uttered({"author": "agent", "agent": "dana", "text": "Hello"}) == [
        {"text": "dana (our team): Hello"}]
    assert bot_uttered({"author": "system", "text": "Dana joined", "notice": "agent_joined"}) == [
        {"text": "Dana joined"}]
    comparison = bot_uttered({"author": "bot", "text": "", "custom": {
        "type": "comparison", "products": [{"title": "A", "price": 1, "buttons": []}]}})
    assert [e["attachment"]["payload"]["template_type"] for e in comparison] == ["generic"]
    cart = {"type": "cart", "items": [{"sku": "X", "quantity": 1}], "total": 3}
    assert bot_uttered({"author": "bot", "text": "", "custom": cart}) == [cart]  # as Rasa sends custom JSON
    assert bot_uttered({"author": "bot", "text": "", "image": "https://i.example.com/a.png"}) == [
        {"attachment": {"type": "image", "payload": {"src": "https://i.example.com/a.png"}}}]
    assert bot_uttered({"author": "bot", "text": ""}) == []  # never an empty bubble


def test_pictures_aisle_serves_itself_get_its_address_for_a_widget_on_the_stores_site():
    cards = [{"title": "Kettle", "image_url": "/demo-art/kettles-black.svg", "buttons": []},
             {"title": "Mug", "image_url": "https://cdn.example.com/mug.png", "buttons": []},
             {"title": "Pan", "image_url": "//tracker.example.net/p.gif", "buttons": []}]
    elements = bot_uttered({"author": "bot", "text": "Found:", "cards": cards}, "https://aisle.shop.example")[1][
        "attachment"]["payload"]["elements"]
    assert [e.get("image_url") for e in elements] == [
        "https://aisle.shop.example/demo-art/kettles-black.svg", "https://cdn.example.com/mug.png", None]


async def test_handoff_the_agent_reaches_the_socket_and_the_shopper_reaches_the_agent(server, rasa, shopper):
    handoffs = server.app[HANDOFFS]
    cid = await shopper.connect(server)
    await shopper.say("a human please", cid)
    said = await shopper.until(lambda e: "asked a person" in e.get("text", ""))
    assert said[0] == {"text": "echo: a human please"}
    assert handoffs.queue()[0]["conversation_id"] == cid

    assert handoffs.take(cid, "dana") is True
    await shopper.until(lambda e: "joined the chat" in e.get("text", ""))
    handoffs.agent_message(cid, "dana", "Hi, Dana here. How can I help?")
    assert await shopper.next() == {"text": "Customer support (our team): Hi, Dana here. How can I help?"}

    relayed = len(rasa.received)
    await shopper.say("where is my parcel?", cid)
    for _ in range(50):
        if any(m["text"] == "where is my parcel?" for m in handoffs.transcripts.history(cid)):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the shopper's message never reached the transcript")
    assert len(rasa.received) == relayed  # the person answers, not the bot

    handoffs.hand_back(cid, "dana")
    await shopper.until(lambda e: "handed you back" in e.get("text", ""))
    await shopper.say("thanks bot", cid)
    await shopper.until(lambda e: e == {"text": "echo: thanks bot"})


async def test_what_was_said_while_the_page_reloaded_follows_the_session_confirm(server, shopper):
    handoffs = server.app[HANDOFFS]
    cid = await shopper.connect(server)
    await shopper.say("a human please", cid)
    await shopper.until(lambda e: "asked a person" in e.get("text", ""))
    await shopper.close()  # the page reloads; meanwhile an agent joins and answers
    handoffs.take(cid, "dana")
    handoffs.agent_message(cid, "dana", "Still there? I can help.")
    reloaded = Client()
    assert await reloaded.connect(server, cid) == cid
    assert [await reloaded.next(), await reloaded.next()] == [
        {"text": "Customer support from our team joined the chat."},
        {"text": "Customer support (our team): Still there? I can help."}]
    handoffs.agent_message(cid, "dana", "Live again.")
    assert await reloaded.next() == {"text": "Customer support (our team): Live again."}  # once, not twice
    await reloaded.close()
    again = Client()
    await again.connect(server, cid)  # nothing was missed this time
    handoffs.agent_message(cid, "dana", "Next one.")
    assert await again.next() == {"text": "Customer support (our team): Next one."}
    await again.close()


async def test_two_tabs_of_one_conversation_both_see_the_replies(server, shopper):
    cid = await shopper.connect(server)
    await shopper.say("first", cid)
    await shopper.next()
    second = Client()
    await second.connect(server, cid)
    await shopper.say("second", cid)
    assert await second.next() == {"text": "echo: second"}
    assert await shopper.next() == {"text": "echo: second"}
    await second.close()


async def test_refusals_come_back_as_text_and_store_nothing(server, rasa, shopper):
    cid = await shopper.connect(server)
    await shopper.say("x" * 201, cid)
    assert "too long" in (await shopper.next())["text"]
    await shopper.say("   ", cid)
    assert (await shopper.next())["text"] == "Type a message first."
    # rasa-webchat without an initPayload sends a null message on a new session
    await shopper.sio.emit("user_uttered", {"message": None, "session_id": cid})
    await shopper.sio.emit("user_uttered", "not an object")
    await shopper.sio.emit("ping-me", {})  # not an event of this protocol
    assert stored(server) == ([], []) and rasa.received == []
    for i in range(6):
        await shopper.say(f"message {i}", cid)
        assert await shopper.next() == {"text": f"echo: message {i}"}  # nothing answered the ignored ones
    await shopper.say("one too many", cid)
    assert "very fast" in (await shopper.next())["text"]
    assert len(stored(server)[1]) == 12


async def test_a_client_that_skips_session_request_still_gets_a_conversation(server, shopper):
    await shopper.sio.connect(str(server.make_url("")), socketio_path="socket.io", transports=["websocket"])
    await shopper.say("hi without a session")
    cid = await asyncio.wait_for(shopper.confirmed.get(), TIMEOUT)
    assert await shopper.next() == {"text": "echo: hi without a session"}
    assert [c.id for c in stored(server)[0]] == [cid]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_only_the_store_and_aisle_itself_may_connect_from_a_browser(server, transport):
    own = str(server.make_url("")).rstrip("/")
    for origin in (SHOP, own):
        client = Client()
        assert await client.connect(server, transport=transport, origin=origin)
        await client.close()
    for origin in ("https://evil.example.com", "https://shop.example.com.evil.example", "null"):
        client = Client()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server, transport=transport, origin=origin)
        await client.close()
