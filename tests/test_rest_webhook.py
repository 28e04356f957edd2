"""The Rasa-compatible REST webhook (``POST /webhooks/rest/webhook``) against an in-process app, over
HTTP; Rasa is the echoing stand-in of tests/web_fixtures.py."""
from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.appkeys import API_KEYS, HANDOFFS
from bot.handoff import NOTICE_REQUESTED
from bot.api_keys import env_integration
from tests.web_fixtures import web_settings

KEY, OTHER_KEY = "rest-test-key-0123456789abcdef", "another-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def client(tmp_path, rasa):
    settings = web_settings(tmp_path, rasa.url, AISLE_API_KEYS=f"{KEY}, {OTHER_KEY}",
                            AISLE_MAX_MESSAGE_CHARS="100", AISLE_RATE_PER_CONVERSATION="3/minute")
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def post(client, body, headers=AUTH):  # type: ignore[no-untyped-def]
    response = await client.post("/webhooks/rest/webhook", json=body, headers=headers)
    return response.status, await response.json()


async def test_replies_in_the_shape_of_rasas_rest_channel(client, rasa):
    status, replies = await post(client, {"sender": "user1", "message": "hello"})
    assert (status, replies) == (200, [{"recipient_id": "user1", "text": "echo: hello"}])
    status, replies = await post(client, {"sender": "user1", "message": "show me cards"})
    assert status == 200
    assert replies[0] == {"recipient_id": "user1", "text": "echo: show me cards"}
    assert replies[1]["recipient_id"] == "user1"
    assert replies[1]["custom"]["type"] == "product_cards"
    assert replies[1]["custom"]["products"][0]["sku"] == "KET-100"
    cid = env_integration(KEY).conversation_id("user1")
    assert [sender for sender, _ in rasa.received] == [cid, cid]  # one conversation, in the key's namespace
    conversation = client.server.app[HANDOFFS].transcripts.get(cid)
    assert conversation is not None and conversation.channel == "rest"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY},
                                     {"Authorization": f"Basic {KEY}"}])
async def test_a_key_is_required(client, rasa, headers):
    response = await client.post("/webhooks/rest/webhook", json={"sender": "user1", "message": "hi"},
                                 headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "API key" in (await response.json())["error"]
    assert rasa.received == []


async def test_each_key_has_its_own_senders(client, rasa):
    await post(client, {"sender": "user1", "message": "one"})
    await post(client, {"sender": "user1", "message": "two"}, {"Authorization": f"Bearer {OTHER_KEY}"})
    assert rasa.received[0][0] != rasa.received[1][0]


async def test_a_key_an_admin_created_works_until_it_is_revoked(client, rasa):
    keys = client.server.app[API_KEYS]
    row, key = keys.create("Store's Rasa REST channel", "e2e-admin")
    created = {"Authorization": f"Bearer {key}"}
    assert (await post(client, {"sender": "user1", "message": "hi"}, created))[0] == 200
    keys.revoke(row.id, "e2e-admin")
    status, reply = await post(client, {"sender": "user1", "message": "hi"}, created)
    assert status == 401 and "API key" in reply["error"]
    assert len(rasa.received) == 1


async def test_a_sender_is_the_same_conversation_as_through_the_chat_api(client, rasa):
    await post(client, {"sender": "user-0001", "message": "via rest"})
    response = await client.post("/api/messages", json={"sender": "user-0001", "message": "via api"},
                                 headers=AUTH)
    assert response.status == 200
    assert rasa.received[0][0] == rasa.received[1][0] == (await response.json())["conversation_id"]


@pytest.mark.parametrize("body, status, error", [
    ({"message": "hi"}, 400, "'sender'"),
    ({"sender": "", "message": "hi"}, 400, "'sender'"),
    ({"sender": "x" * 129, "message": "hi"}, 400, "'sender'"),
    ({"sender": "a\nb", "message": "hi"}, 400, "'sender'"),
    ({"sender": "user1", "message": ""}, 400, "Type a message"),
    ({"sender": "user1"}, 400, "Type a message"),
    ({"sender": "user1", "message": "x" * 101}, 413, "too long"),
    (["not", "an", "object"], 400, "object"),
])
async def test_bad_requests_get_a_clear_error_and_store_nothing(client, rasa, body, status, error):
    got, reply = await post(client, body)
    assert got == status and error in reply["error"]
    assert rasa.received == []
    assert client.server.app[HANDOFFS].transcripts.get(env_integration(KEY).conversation_id("user1")) is None


async def test_a_body_that_is_not_json_or_too_large(client):
    response = await client.post("/webhooks/rest/webhook", data=b"{not json", headers=AUTH)
    assert response.status == 400
    response = await client.post("/webhooks/rest/webhook", data=b"x" * 1_000_000, headers=AUTH)
    assert response.status == 413


async def test_the_rate_limit(client):
    for i in range(3):
        assert (await post(client, {"sender": "user1", "message": f"m{i}"}))[0] == 200
    status, reply = await post(client, {"sender": "user1", "message": "one too many"})
    assert status == 429 and "fast" in reply["error"]


async def test_handoff_the_notice_then_the_agents_messages_with_the_next_call(client, rasa):
    handoffs = client.server.app[HANDOFFS]
    status, replies = await post(client, {"sender": "user1", "message": "a human please"})
    assert status == 200
    assert [r["text"] for r in replies] == ["echo: a human please", NOTICE_REQUESTED]
    cid = env_integration(KEY).conversation_id("user1")
    assert handoffs.take(cid, "dana")
    handoffs.agent_message(cid, "dana", "Hi, Dana here.")
    relayed = len(rasa.received)
    status, replies = await post(client, {"sender": "user1", "message": "where is my parcel?"})
    assert status == 200  # what the agent wrote since the last call comes with the next one
    assert [r["text"] for r in replies] == ["Customer support from our team joined the chat.",
                                            "Customer support (our team): Hi, Dana here."]
    assert len(rasa.received) == relayed  # the person answers, not the bot
    assert handoffs.transcripts.history(cid)[-1]["text"] == "where is my parcel?"  # the agent sees it
    status, replies = await post(client, {"sender": "user1", "message": "hello?"})
    assert (status, replies) == (200, [])  # nothing new, nothing repeated


async def test_rasa_down_is_an_honest_503(tmp_path):
    settings = web_settings(tmp_path, AISLE_API_KEYS=KEY)
    async with TestClient(TestServer(create_app(settings))) as c:
        status, reply = await post(c, {"sender": "user1", "message": "hi"})
    assert status == 503 and "not available" in reply["error"]
