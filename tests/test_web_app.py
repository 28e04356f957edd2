"""The web app's chat API and health page (the real Rasa path is covered end to end)."""
from __future__ import annotations

import socket

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aisle.config import Settings
from bot.app import MAX_MESSAGE_CHARS, create_app


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def client(tmp_path):
    port = closed_port()  # nothing listens there: every dependency is "down"
    settings = Settings.from_env({
        "AISLE_DATA_DIR": str(tmp_path), "AISLE_RASA_PORT": str(port),
        "AISLE_NLU_PORT": str(port), "AISLE_ACTION_PORT": str(port),
    })
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def test_chat_page_is_served(client):
    resp = await client.get("/")
    assert resp.status == 200
    assert "chat.js" in await resp.text()


@pytest.mark.parametrize("payload, status, message", [
    ({"sender": "short", "message": "hi"}, 400, "'sender'"),
    ({"sender": "web-12345678", "message": ""}, 400, "non-empty"),
    ({"sender": "web-12345678", "message": 5}, 400, "non-empty"),
    ({"sender": "web-12345678", "message": "x" * (MAX_MESSAGE_CHARS + 1)}, 413, "longer than"),
    (["not", "an", "object"], 400, "object"),
])
async def test_bad_chat_requests_are_refused_clearly(client, payload, status, message):
    resp = await client.post("/api/messages", json=payload)
    assert resp.status == status
    assert message in (await resp.json())["error"]


async def test_malformed_json_is_refused(client):
    resp = await client.post("/api/messages", data=b"{oops", headers={"Content-Type": "application/json"})
    assert resp.status == 400


async def test_rasa_down_gives_an_honest_503(client):
    resp = await client.post("/api/messages", json={"sender": "web-12345678", "message": "hi"})
    assert resp.status == 503
    assert "not available right now" in (await resp.json())["error"]


async def test_health_lists_each_service(client):
    resp = await client.get("/health")
    assert resp.status == 503
    body = await resp.json()
    assert body["ok"] is False
    assert {s["name"] for s in body["services"]} == {"rasa", "actions", "nlu"}
    html_resp = await client.get("/health", headers={"Accept": "text/html"})
    assert "Aisle is degraded" in await html_resp.text()
