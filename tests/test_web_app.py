"""The web app's store page, JSON chat API and health page."""
from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from aisle.db import engine_for, session_factory
from aisle.models import Product
from bot.app import create_app
from bot.appkeys import API_KEYS, GATEWAY
from bot.site_headers import site_headers
from tests.metrics import value
from tests.web_fixtures import web_settings

API_KEY = "test-key-for-the-chat-api"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def conversation_of(client: TestClient, sender: str) -> str:
    """The conversation a chat API sender names with API_KEY."""
    return client.server.app[API_KEYS].authenticate(AUTH["Authorization"]).conversation_id(sender)


@pytest.fixture
async def client(tmp_path):
    async with TestClient(TestServer(create_app(web_settings(tmp_path, AISLE_API_KEYS=f"other-key, {API_KEY}")))) as c:
        yield c


async def test_store_page_lists_the_catalog_escaped_with_the_widget(client, tmp_path):
    settings = web_settings(tmp_path)
    with session_factory(settings.database_url)() as s:
        s.add_all([
            Product(sku="K-1", title="Kettle <b>bold</b>", description="d", category="Home > Kettles",
                    price=10, stock=3),
            Product(sku="B-1", title="Boots", description="d", category="Outdoor > Boots", price=90),
        ])
        s.commit()
    page = await (await client.get("/")).text()
    assert '<script src="/static/widget.js" defer></script>' in page
    assert "Kettle &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert "out of stock" in page  # the boots have no stock
    filtered = await (await client.get("/?category=Outdoor&page=x")).text()
    assert "Boots" in filtered and "Kettle" not in filtered


async def test_widget_assets_are_served(client):
    for path in ("/static/widget.js", "/static/widget.css"):
        assert (await client.get(path)).status == 200


@pytest.mark.parametrize("payload, status, message", [
    ({"sender": "short", "message": "hi"}, 400, "'sender'"),
    ({"sender": "web-12345678", "message": ""}, 400, "Type a message"),
    ({"sender": "web-12345678", "message": 5}, 400, "Type a message"),
    ({"sender": "web-12345678", "message": "x" * 2001}, 413, "too long"),
    ({"sender": "web-12345678", "message": "hi \ud800 there"}, 400, "can't read"),
    (["not", "an", "object"], 400, "object"),
])
async def test_bad_chat_requests_are_refused_clearly(client, payload, status, message):
    resp = await client.post("/api/messages", json=payload, headers=AUTH)
    assert resp.status == status
    assert message in (await resp.json())["error"]


async def test_malformed_json_is_refused(client):
    resp = await client.post("/api/messages", data=b"{oops", headers={"Content-Type": "application/json", **AUTH})
    assert resp.status == 400


async def test_rasa_down_gives_an_honest_503_and_keeps_the_message(client):
    resp = await client.post("/api/messages", json={"sender": "web-12345678", "message": "hi"}, headers=AUTH)
    assert resp.status == 503
    assert "not available right now" in (await resp.json())["error"]
    history = client.server.app[GATEWAY].transcripts.history(conversation_of(client, "web-12345678"))
    assert [(m["author"], m["text"]) for m in history][0] == ("shopper", "hi")


async def test_health_lists_each_service(client):
    resp = await client.get("/health")
    assert resp.status == 503
    body = await resp.json()
    assert body["ok"] is False
    assert {s["name"] for s in body["services"]} == {"rasa", "actions", "nlu"}
    assert all(s.keys() == {"name", "ok", "detail"} for s in body["services"])  # no internal URLs
    assert "127.0.0.1" not in await resp.text()
    html_resp = await client.get("/health", headers={"Accept": "text/html"})
    assert "Aisle is degraded" in await html_resp.text()


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_oversized_body_is_refused_unread(client, chunked):
    """Pen test: /api/messages accepted 2 MB bodies."""
    body = json.dumps({"sender": "web-12345678", "message": "x" * (2 * 1024 * 1024)}).encode()

    async def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    resp = await client.post("/api/messages", data=chunks() if chunked else body,
                             headers={"Content-Type": "application/json", **AUTH})
    assert resp.status == 413
    assert "up to 2000 characters" in (await resp.json())["error"]
    assert client.server.app[GATEWAY].transcripts.get(conversation_of(client, "web-12345678")) is None


async def test_the_longest_message_fully_escaped_is_not_too_large(client):
    body = json.dumps({"sender": "web-12345678", "message": "😀" * 2000})  # 24 KB of \ud83d\ude00
    resp = await client.post("/api/messages", data=body, headers={"Content-Type": "application/json", **AUTH})
    assert resp.status == 503  # accepted and relayed; Rasa is down in these tests


async def test_refused_messages_create_no_conversation(tmp_path):
    """Pen test: refused (429) messages still created conversations; so did invalid ones."""
    settings = web_settings(tmp_path, AISLE_RATE_PER_IP="1/minute", AISLE_API_KEYS=API_KEY)
    async with TestClient(TestServer(create_app(settings))) as client:
        first = await client.post("/api/messages", json={"sender": "web-first-one", "message": "hi"}, headers=AUTH)
        assert first.status == 503  # taken (Rasa is down in these tests)
        refused = await client.post("/api/messages", json={"sender": "web-second-one", "message": "hi"}, headers=AUTH)
        assert refused.status == 429
        invalid = await client.post("/api/messages", json={"sender": "web-third-one", "message": ""}, headers=AUTH)
        assert invalid.status == 400
        transcripts = client.server.app[GATEWAY].transcripts
        assert transcripts.get(conversation_of(client, "web-first-one")) is not None
        assert transcripts.get(conversation_of(client, "web-second-one")) is None
        assert transcripts.get(conversation_of(client, "web-third-one")) is None


async def test_store_page_and_widget_files_send_csp_with_frame_ancestors(tmp_path):
    settings = web_settings(tmp_path, AISLE_WIDGET_ORIGINS="https://shop.example.com, https://www.shop.example.com/")
    async with TestClient(TestServer(create_app(settings))) as client:
        page = await client.get("/")
        csp = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self' https://shop.example.com https://www.shop.example.com" in csp
        assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp
        assert '<script src="/static/store.js" defer></script>' in await page.text()
        assert "<script>" not in await page.text()  # no inline script for the CSP to block
        for path in ("/static/widget.js", "/static/widget.css"):
            resp = await client.get(path)
            assert resp.headers["Content-Security-Policy"].endswith(
                "frame-ancestors 'self' https://shop.example.com https://www.shop.example.com")
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in page.headers  # plain-http loopback development


async def test_hsts_when_served_over_https(tmp_path):
    plain = web_settings(tmp_path)
    request = make_mocked_request("GET", "/", app=create_app(plain))

    async def handler(_):
        return web.Response(text="ok")

    assert "Strict-Transport-Security" not in (await site_headers(request, handler)).headers
    over_tls = await site_headers(request.clone(scheme="https"), handler)
    assert over_tls.headers["Strict-Transport-Security"] == "max-age=31536000"
    behind_proxy = make_mocked_request("GET", "/", app=create_app(web_settings(tmp_path, AISLE_COOKIE_SECURE="1")))
    assert (await site_headers(behind_proxy, handler)).headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_metrics_count_turns_stages_and_rasa_failures(client):
    before = await (await client.get("/metrics")).text()
    await client.post("/api/messages", json={"sender": "web-12345678", "message": "hi"}, headers=AUTH)
    resp = await client.get("/metrics")
    assert resp.status == 200
    after = await resp.text()
    for name, labels in (("aisle_turns_total", {"channel": "api"}),
                         ("aisle_stage_duration_seconds_count", {"stage": "gateway"}),
                         ("aisle_stage_duration_seconds_count", {"stage": "rasa"}),
                         ("aisle_errors_total", {"kind": "rasa_unreachable"})):
        assert value(after, name, **labels) == value(before, name, **labels) + 1, (name, labels)
    assert "web-12345678" not in after and conversation_of(client, "web-12345678") not in after


async def test_metrics_count_handoffs_and_read_the_queue(tmp_path, rasa):
    async with TestClient(TestServer(create_app(web_settings(tmp_path, rasa.url, AISLE_API_KEYS=API_KEY)))) as c:
        before = await (await c.get("/metrics")).text()
        resp = await c.post("/api/messages", json={"sender": "web-87654321", "message": "a human please"},
                            headers=AUTH)
        assert (await resp.json())["mode"] == "waiting"
        after = await (await c.get("/metrics")).text()
    assert value(after, "aisle_handoffs_total") == value(before, "aisle_handoffs_total") + 1
    assert value(after, "aisle_agent_queue_length") == 1


async def test_probes_and_metrics_access(client):
    assert (await client.get("/livez")).status == 200
    resp = await client.get("/readyz")  # the database is there, no Rasa server is
    assert resp.status == 503 and await resp.json() == {"status": "not ready", "failing": ["rasa"]}
    proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status == 403



async def test_readiness_once_rasa_answers(tmp_path, rasa):
    async with TestClient(TestServer(create_app(web_settings(tmp_path, rasa.url)))) as c:
        resp = await c.get("/readyz")
        assert resp.status == 200 and await resp.json() == {"status": "ready"}


async def test_metrics_still_answer_when_the_database_does_not(tmp_path):
    settings = web_settings(tmp_path, AISLE_API_KEYS=API_KEY)
    async with TestClient(TestServer(create_app(settings))) as c:
        engine_for(settings.database_url).dispose()
        (tmp_path / "aisle.db").unlink()
        (tmp_path / "aisle.db").mkdir()  # now nothing can open it
        resp = await c.get("/metrics")
        assert resp.status == 200
        assert "aisle_agent_queue_length NaN" in await resp.text()
        assert (await c.get("/readyz")).status == 503
