"""Chat API keys (issue #15, finding 4): required on POST /api/messages, created and revoked by admins
in the console, stored hashed; each key's integration has its own conversations, which the widget's
socket can never open."""
from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from aisle.db import session_factory
from aisle.models import ApiKey, AuditEvent, Role
from bot.app import create_app
from bot.console.accounts import create_user
from tests.test_console import PASSWORD, login, token_in
from tests.test_gateway import TIMEOUT
from tests.web_fixtures import web_settings

ENV_KEY = "env-key-for-automation-0123456789"


@pytest.fixture
async def client(tmp_path, rasa):  # noqa: F811
    settings = web_settings(tmp_path, rasa.url, AISLE_API_KEYS=ENV_KEY)
    db = session_factory(settings.database_url)
    create_user(db, "ada", PASSWORD, Role.admin, "test")
    create_user(db, "sam", PASSWORD, Role.agent, "test")
    async with TestClient(TestServer(create_app(settings))) as c:
        c.db = db
        yield c


async def chat(client, key: str | None, sender: str, message: str, scheme: str = "Bearer"):
    headers = {"Authorization": f"{scheme} {key}"} if key is not None else {}
    resp = await client.post("/api/messages", json={"sender": sender, "message": message}, headers=headers)
    return resp.status, await resp.json()


async def create_key(client, name: str) -> str:
    page = await (await client.get("/admin/api-keys")).text()
    resp = await client.post("/admin/api-keys", data={"csrf_token": token_in(page), "name": name})
    assert resp.status == 200
    return re.search(r'<code id="new-key">([^<]+)</code>', await resp.text()).group(1)


@pytest.mark.parametrize("key, scheme", [(None, "Bearer"), ("", "Bearer"), ("wrong-key", "Bearer"),
                                         (ENV_KEY, "Basic"), (ENV_KEY + "x", "Bearer"), ("ключ", "Bearer")])
async def test_the_chat_api_refuses_requests_without_a_valid_key(client, key, scheme):
    status, body = await chat(client, key, "pen-test-001", "order 10002", scheme)
    assert status == 401 and "API key" in body["error"]


async def test_an_environment_key_works(client):
    status, body = await chat(client, ENV_KEY, "pen-test-001", "hello")
    assert status == 200 and body["messages"][0]["text"] == "echo: hello" and body["mode"] == "bot"


async def test_admins_create_a_key_shown_once_stored_hashed_and_revocable(client):
    await login(client, "ada")
    key = await create_key(client, "Messenger bridge")
    assert key.startswith("aisle_") and len(key) > 40
    status, body = await chat(client, key, "messenger-user-1", "hi")
    assert status == 200 and body["messages"][0]["text"] == "echo: hi"

    listing = await (await client.get("/admin/api-keys")).text()
    assert "Messenger bridge" in listing and key not in listing and key[:12] in listing
    assert "never" not in listing  # last used is shown
    with client.db() as s:
        row = s.scalars(select(ApiKey)).one()
        assert row.key_hash != key and key not in (row.prefix, row.name) and len(row.key_hash) == 64
        assert row.last_used_at is not None

    await client.post(f"/admin/api-keys/{row.id}/revoke", data={"csrf_token": token_in(listing)})
    status, _ = await chat(client, key, "messenger-user-1", "hi again")
    assert status == 401
    with client.db() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.action.like("api_key.%")))]
    assert actions == ["api_key.create", "api_key.revoke"]


async def test_agents_cannot_manage_keys_and_a_key_needs_a_name(client):
    await login(client, "sam")
    assert (await client.get("/admin/api-keys")).status == 403
    await client.post("/logout", data={"csrf_token": token_in(await (await client.get("/agent/queue")).text())})
    await login(client, "ada")
    page = await (await client.get("/admin/api-keys")).text()
    resp = await client.post("/admin/api-keys", data={"csrf_token": token_in(page), "name": "   "})
    assert resp.status == 400 and "name the integration" in await resp.text()


async def test_each_integration_has_its_own_conversations(client):
    await login(client, "ada")
    other_key = await create_key(client, "Other shop channel")
    status, mine = await chat(client, ENV_KEY, "shared-sender-1", "my order is 10002")
    assert status == 200
    status, theirs = await chat(client, other_key, "shared-sender-1", "hello")
    assert status == 200 and theirs["conversation_id"] != mine["conversation_id"]
    # The pen test: the API conversation's id (or the sender) in a widget hello opens nothing.
    for attempt in ({"token": mine["conversation_id"]}, {"token": "shared-sender-1"},
                    {"conversation_id": mine["conversation_id"]}):
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "hello", **attempt})
        welcome = await ws.receive_json(timeout=TIMEOUT)
        assert welcome["conversation_id"] != mine["conversation_id"] and welcome["history"] == []
        await ws.close()
