"""Production mode on real infrastructure: PostgreSQL (app data and Rasa's tracker store), Redis (Rasa's
lock store, live fan-out and rate limits), two Rasa servers and two app instances sharing one catalog
index. One conversation's messages arriving at both app instances keep their order and their context."""
from __future__ import annotations

import asyncio
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from sqlalchemy import select

from aisle.db import session_factory
from aisle.models import Author, Message
from tests.e2e_stack import API_AUTH, Stack, api_conversation_id, free_port, http_json
from tests.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def servers():
    if os.environ.get("AISLE_SKIP_E2E") == "1":
        pytest.skip("AISLE_SKIP_E2E=1")
    started = []
    try:
        for server in (PostgresServer, RedisServer):
            try:
                started.append(server.start())
            except FileNotFoundError as exc:
                pytest.skip(str(exc))
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def cluster(servers, tmp_path_factory):
    postgres, redis = servers
    rasa_ports, web_ports = (free_port(), free_port()), (free_port(), free_port())
    stack = Stack.create(tmp_path_factory.mktemp("aisle-scaleout"), extra_env={
        "AISLE_DATABASE_URL": postgres.url, "AISLE_REDIS_URL": redis.url,
        "AISLE_RASA_PORT": str(rasa_ports[0]), "AISLE_WEB_PORT": str(web_ports[0]),
        "AISLE_RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in rasa_ports),
    })
    try:
        for name in ("nlu", "actions", "rasa", "web"):
            stack.start(name)
        stack.start("rasa", "rasa-2", {"AISLE_RASA_PORT": str(rasa_ports[1])})
        stack.start("web", "web-2", {"AISLE_WEB_PORT": str(web_ports[1])})
        stack.wait_until_healthy()  # the first web instance's health covers both Rasa servers
        status, body = http_json("GET", f"http://127.0.0.1:{web_ports[1]}/health")
        assert status == 200, body
        yield stack, [f"http://127.0.0.1:{port}" for port in web_ports]
    finally:
        stack.stop_all()


def post(web: str, sender: str, text: str) -> dict:
    status, body = http_json("POST", f"{web}/api/messages", {"sender": sender, "message": text}, timeout=60,
                             headers=API_AUTH)
    assert status == 200, body
    return body


def stored(stack: Stack, sender: str) -> list[Message]:
    with session_factory(stack.settings.database_url)() as s:
        return list(s.scalars(select(Message).where(Message.conversation_id == api_conversation_id(sender))
                              .order_by(Message.id)))


def tracker_user_texts(stack: Stack, sender: str) -> list[str]:
    return [e["text"] for e in stack.tracker(api_conversation_id(sender))["events"] if e["event"] == "user"]


def test_alternating_instances_keep_the_conversation_context(cluster):
    stack, webs = cluster
    sender = f"scale-{uuid.uuid4().hex[:10]}"
    script = ["show me hiking boots", "add the first one to my cart", "cheaper", "sort by price",
              "what's in my basket?"]
    replies = [" ".join(m["text"] for m in post(webs[i % 2], sender, text)["messages"])
               for i, text in enumerate(script)]
    assert "Lightweight Trail Hiking Boots" in replies[2]  # "cheaper" than the boots on screen
    assert "Your cart (1 item)" in replies[-1] and "Waterproof Leather Hiking Boots" in replies[-1]
    messages = stored(stack, sender)
    shopper = [m for m in messages if m.author is Author.shopper]
    assert [m.text for m in shopper] == script
    assert {m.turn["server"] for m in shopper} == set(stack.settings.rasa_urls)  # both Rasa servers served
    assert tracker_user_texts(stack, sender) == script


def test_simultaneous_messages_through_both_instances_are_handled_one_at_a_time(cluster):
    stack, webs = cluster
    sender = f"race-{uuid.uuid4().hex[:10]}"
    texts = ["show me hiking boots", "do you ship internationally?", "show me rain jackets", "hello",
             "what's in my basket?", "show me kettles"]
    with ThreadPoolExecutor(len(texts)) as pool:
        list(pool.map(lambda it: post(webs[it[0] % 2], sender, it[1]), enumerate(texts)))
    messages = stored(stack, sender)
    shopper_order = [m.text for m in messages if m.author is Author.shopper]
    assert sorted(shopper_order) == sorted(texts)
    # Stored order is the order Rasa saw them in, and each turn's replies follow their own message.
    assert tracker_user_texts(stack, sender) == shopper_order
    authors = [m.author for m in messages]
    starts = [i for i, a in enumerate(authors) if a is Author.shopper]
    assert all(authors[i + 1] is Author.bot for i in starts)
    assert all(m.turn is not None for m in messages if m.author is Author.shopper)


async def test_a_socket_on_one_instance_sees_the_handoff_started_on_the_other(cluster):
    _, webs = cluster
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{webs[0]}/ws") as ws:
        await ws.send_json({"type": "hello"})
        welcome = await ws.receive_json(timeout=10)
        # The same conversation open on the other instance too (its token verifies there: one secret
        # per data dir), and the shopper asks for a person there.
        async with http.ws_connect(f"{webs[1]}/ws") as other:
            await other.send_json({"type": "hello", "token": welcome["token"]})
            assert (await other.receive_json(timeout=10))["conversation_id"] == welcome["conversation_id"]
            await other.send_json({"type": "message", "text": "I want to talk to a real person"})
            while (await other.receive_json(timeout=60)).get("mode") != "waiting":
                pass
        seen: list[dict] = []
        while not any(f["type"] == "mode" and f["mode"] == "waiting" for f in seen):
            seen.append(json.loads((await ws.receive(timeout=10)).data))
    texts = [f["message"]["text"] for f in seen if f["type"] == "message"]
    assert texts[0] == "I want to talk to a real person"
    assert any("person" in t for t in texts[1:])


def test_rate_limits_are_counted_across_instances(servers):
    from bot.gateway import GatewayError, RateLimits

    _, redis = servers
    first, second = (RateLimits("2/minute", "100/minute", redis.url) for _ in range(2))
    conversation = f"limits-{uuid.uuid4().hex[:8]}"
    first.check(conversation, "127.0.0.9")
    second.check(conversation, "127.0.0.9")
    with pytest.raises(GatewayError):
        first.check(conversation, "127.0.0.9")
