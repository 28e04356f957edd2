"""Issue #15 findings 3, 4 and 7 re-sent as the penetration test sent them, against every real service:
chat API keys, conversation ids only the server issues, the shopper socket's Origin check, "end chat",
and no personal data (or search oracle) in the agent console."""
from __future__ import annotations

import re
import uuid

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from aisle.db import session_factory
from aisle.models import Author, Message
from tests.e2e_stack import AGENT, STAFF_PASSWORD, http_json

pytestmark = pytest.mark.e2e
TIMEOUT = 60
EMAIL = "alex.morgan@example.com"


async def hello(http: aiohttp.ClientSession, url: str, **fields) -> tuple[aiohttp.ClientWebSocketResponse, dict]:
    ws = await http.ws_connect(f"{url}/ws")
    await ws.send_json({"type": "hello", **fields})
    welcome = await ws.receive_json(timeout=TIMEOUT)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def say(ws, text: str) -> list[dict]:
    """One shopper message; the frames up to the end of the bot's turn."""
    await ws.send_json({"type": "message", "text": text})
    frames = []
    while (frame := await ws.receive_json(timeout=TIMEOUT)) != {"type": "typing", "on": False}:
        frames.append(frame)
    return frames


def test_the_chat_api_refuses_calls_without_a_valid_key(stack):
    body = {"sender": "pentest-00000001", "message": "where is my order 10002?"}
    for headers in ({}, {"Authorization": "Bearer guessed-key"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        status, answer = http_json("POST", f"{stack.web_url}/api/messages", body, headers=headers)
        assert status == 401 and "API key" in answer["error"], headers
    status, answer = stack.chat("pentest-00000001", "are you a bot?")
    assert status == 200 and answer["messages"], answer


async def test_an_id_used_through_the_api_opens_nothing_in_the_widget(stack):
    sender = f"pentest-{uuid.uuid4().hex[:12]}"
    for text in ("where is my order 10002?", EMAIL):
        status, answer = stack.chat(sender, text)
        assert status == 200, answer
    api_conversation = answer["conversation_id"]
    async with aiohttp.ClientSession() as http:
        for fields in ({"conversation_id": sender}, {"token": sender}, {"token": api_conversation},
                       {"token": api_conversation + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}):
            ws, welcome = await hello(http, stack.web_url, **fields)
            await ws.close()
            # A fresh conversation, exactly as without an id: no history, nothing about the order.
            assert welcome["conversation_id"] not in (sender, api_conversation), fields
            assert welcome["history"] == [] and welcome["mode"]["mode"] == "bot", fields


async def test_a_widget_conversation_cannot_be_reached_through_the_api(stack):
    async with aiohttp.ClientSession() as http:
        ws, welcome = await hello(http, stack.web_url)
        await say(ws, "where is my order 10002?")
        await say(ws, EMAIL)
        await ws.close()
    widget_conversation = welcome["conversation_id"]
    status, answer = stack.chat(widget_conversation, "what is the status of order 10002?")
    assert status == 200 and answer["conversation_id"] != widget_conversation
    slots = stack.tracker(answer["conversation_id"])["slots"]
    assert slots.get("verified_email") is None  # the widget's verification did not come along
    with session_factory(stack.settings.database_url)() as s:
        texts = list(s.scalars(select(Message.text).where(Message.conversation_id == answer["conversation_id"],
                                                          Message.author == Author.shopper)))
    assert texts == ["what is the status of order 10002?"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://[::1"])
async def test_another_site_cannot_open_the_shopper_socket(stack, origin):
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{stack.web_url}/ws", headers={"Origin": origin})
        assert refused.value.status == 403
        ws = await http.ws_connect(f"{stack.web_url}/ws", headers={"Origin": stack.web_url})  # the store itself
        await ws.send_json({"type": "hello"})
        assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "welcome"
        await ws.close()


async def test_end_chat_closes_the_conversation_for_good(stack):
    async with aiohttp.ClientSession() as http:
        ws, welcome = await hello(http, stack.web_url)
        await say(ws, "show me kettles")
        await ws.send_json({"type": "end"})
        while (await ws.receive_json(timeout=TIMEOUT))["type"] != "ended":
            pass
        await ws.close()
        ws, again = await hello(http, stack.web_url, token=welcome["token"])
        await ws.close()
    assert again["conversation_id"] != welcome["conversation_id"] and again["history"] == []


async def login(http: aiohttp.ClientSession, url: str, username: str) -> None:
    page = await (await http.get(f"{url}/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = await http.post(f"{url}/login", data={"username": username, "password": STAFF_PASSWORD,
                                                 "csrf_token": token, "next": "/agent/conversations"})
    assert resp.status == 200 and "Log out" in await resp.text()


async def test_the_agent_console_shows_no_personal_data_and_search_is_no_oracle(stack):
    url = stack.web_url
    async with aiohttp.ClientSession() as http:
        ws, welcome = await hello(http, url)
        await say(ws, "where is my order 10002?")
        await say(ws, EMAIL)
        await ws.close()
    cid = welcome["conversation_id"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, url, AGENT)
        page = await (await http.get(f"{url}/agent/conversations/{cid}")).text()
        assert "[email hidden]" in page and EMAIL not in page and "alex.morgan" not in page
        if "verified_email=" in page:  # the slot set by the order check is shown hidden
            assert 'verified_email="[hidden]"' in page

        async def listed(query: str) -> bool:
            resp = await http.get(f"{url}/agent/conversations", params={"q": query})
            assert resp.status == 200
            return cid in await resp.text()

        for probe in (EMAIL, "alex.morgan", "%alex%", "_lex.morgan@", "%@example.com"):
            assert not await listed(probe), probe
        assert await listed("where is my order 10002")  # search itself still works

        with session_factory(stack.settings.database_url)() as s:
            message_id = s.scalars(select(Message.id).where(Message.conversation_id == cid,
                                                            Message.text == EMAIL)).one()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        resp = await http.post(f"{url}/agent/messages/{message_id}/correction", data={
            "csrf_token": token, "conversation_id": cid, "intent": "order_status", "entities": f"email={EMAIL}"})
        assert resp.status == 200
        exported = await (await http.get(f"{url}/agent/corrections.yml", params={"conversation": cid})).text()
        assert EMAIL not in exported
        assert yaml.safe_load(exported)["nlu"] == [
            {"intent": "order_status", "examples": "- [customer@example.com](email)\n"}]
