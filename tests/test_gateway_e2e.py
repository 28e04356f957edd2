"""The gateway against the real services: transcripts with NLU results, and a live handoff round trip."""
from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from aisle.db import session_factory
from aisle.models import Author, Message
from bot.app import create_app
from bot.appkeys import HANDOFFS

pytestmark = pytest.mark.e2e
TIMEOUT = 60


async def say(ws, text: str, until) -> list[dict]:
    await ws.send_json({"type": "message", "text": text})
    frames = []
    while True:
        frame = await ws.receive_json(timeout=TIMEOUT)
        frames.append(frame)
        if until(frame):
            return frames


def typing_off(frame: dict) -> bool:
    return frame == {"type": "typing", "on": False}


def cards(frames: list[dict]) -> list[str]:
    return [c["sku"] for f in frames if f["type"] == "message" for c in f["message"].get("cards", [])]


async def test_the_transcript_records_what_the_bot_understood_and_did(stack):
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{stack.web_url}/ws") as ws:
        await ws.send_json({"type": "hello"})
        cid = (await ws.receive_json(timeout=TIMEOUT))["conversation_id"]
        frames = await say(ws, "show me hiking boots", typing_off)
    assert set(cards(frames)) == {"HB-600", "HB-601"}
    with session_factory(stack.settings.database_url)() as s:
        shopper = s.scalars(select(Message).where(Message.conversation_id == cid,
                                                  Message.author == Author.shopper)).one()
    assert shopper.nlu["intent"] == "search_product" and 0 < shopper.nlu["confidence"] <= 1
    assert shopper.nlu["intent_ranking"][0]["name"] == "search_product"
    assert "action_search_products" in shopper.turn["actions"]
    assert set(shopper.turn["slots"]["shown_skus"]) == {"HB-600", "HB-601"}


async def test_handoff_to_a_person_and_back_keeps_the_bot_context(stack):
    # A second app instance over the same database and Rasa: the agent side is driven in-process.
    async with TestClient(TestServer(create_app(stack.settings))) as client:
        handoffs = client.server.app[HANDOFFS]
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "hello"})
        cid = (await ws.receive_json(timeout=TIMEOUT))["conversation_id"]
        assert set(cards(await say(ws, "show me hiking boots", typing_off))) == {"HB-600", "HB-601"}

        frames = await say(ws, "I want to talk to a real person", lambda f: f["type"] == "mode")
        assert frames[-1]["mode"] == "waiting"
        assert any(f["type"] == "message" and "bring in a person" in f["message"]["text"] for f in frames)
        assert cid in [q["conversation_id"] for q in handoffs.queue()]

        assert handoffs.take(cid, "dana")
        handoffs.agent_message(cid, "dana", "Hi! Those boots are both great for wet trails.")
        frames = await say(ws, "thanks, which is lighter?",
                           lambda f: f["type"] == "message" and f["message"]["author"] == "shopper")
        assert not any(f["type"] == "message" and f["message"]["author"] == "bot" for f in frames)
        handoffs.hand_back(cid, "dana")

        # The bot still knows which boots were shown before the handoff.
        frames = await say(ws, "sort by price", typing_off)
        assert cards(frames) == ["HB-601", "HB-600"]
        await ws.close()
