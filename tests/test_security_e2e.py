"""The penetration test's requests against the internal services and the public side (issue #15, findings
1, 10 and 13), re-sent over HTTP to the real running services: each now gets the safe answer."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any, Iterator

import pytest
from sqlalchemy import func, select

from aisle.db import session_factory
from aisle.internal_auth import bearer_headers
from aisle.models import ConsoleSession, Conversation
from tests.e2e_stack import API_AUTH, Stack, api_conversation_id, free_port, http_json

pytestmark = pytest.mark.e2e
EVIL = "https://evil.example"
SHOP = "https://shop.example.com"


def send(method: str, url: str, payload: Any = None, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request: status, headers (lower-case names) and body, errors included."""
    data = body if body is not None else (None if payload is None else json.dumps(payload).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def no_cors(headers: dict[str, str]) -> bool:
    return not any(name.startswith("access-control-allow") for name in headers)


def user_events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    return [e for e in stack.tracker(sender)["events"] if e["event"] == "user"]


@pytest.fixture(scope="module")
def guarded_web(stack: Stack) -> Iterator[str]:
    """A second web app on the same services, as served behind TLS to a store that embeds the widget, with
    a per-IP limit small enough to reach."""
    port = free_port()
    stack.start("web", "web-guarded", {"AISLE_WEB_PORT": str(port), "AISLE_RATE_PER_IP": "2/minute",
                                      "AISLE_COOKIE_SECURE": "1", "AISLE_WIDGET_ORIGINS": SHOP})
    url = f"http://127.0.0.1:{port}"
    try:
        stack.wait_healthy("web-guarded", f"{url}/health")
        yield url
    finally:
        stack.stop("web-guarded")


# ---- finding 1: Rasa's HTTP API, its channels, the action and NLU servers ----------------------------

def test_rasa_api_refuses_tracker_reads_and_writes_without_the_token(stack):
    sender = f"e2e-{uuid.uuid4().hex}"
    stack.say(sender, "hi")
    tracker_url = f"{stack.settings.rasa_url}/conversations/{sender}/tracker"
    for suffix in ("", "?token=wrong-token-0123456789"):
        status, headers, body = send("GET", tracker_url + suffix)
        assert status == 401 and b'"events"' not in body
    slot = {"event": "slot", "name": "verified_email", "value": "sam.lee@example.com"}
    status, _, _ = send("POST", f"{tracker_url}/events", [slot])
    assert status == 401
    status, _, _ = send("PUT", f"{tracker_url}/events", [slot])
    assert status == 401
    assert stack.tracker(sender)["slots"].get("verified_email") != "sam.lee@example.com"
    assert stack.tracker(sender)["sender_id"] == sender  # the token itself is accepted


def test_rasa_model_endpoints_need_the_token_and_allow_no_other_origin(stack):
    status, headers, _ = send("PUT", f"{stack.settings.rasa_url}/model", {"model_file": "/tmp/other.tar.gz"})
    assert status == 401  # was 400: the body was checked, never the caller
    preflight, headers, _ = send("OPTIONS", f"{stack.settings.rasa_url}/model",
                                 headers={"Origin": EVIL, "Access-Control-Request-Method": "DELETE"})
    assert no_cors(headers), headers
    status, headers, _ = send("DELETE", f"{stack.settings.rasa_url}/model", headers={"Origin": EVIL})
    assert status == 401 and no_cors(headers), headers
    assert http_json("GET", stack.rasa_api("/status"))[1]["model_file"]  # still loaded


def test_rasa_rest_channel_answers_only_the_web_app(stack):
    sender = f"e2e-{uuid.uuid4().hex}"
    url = f"{stack.settings.rasa_url}/webhooks/rest/webhook"
    for headers in ({}, {"Authorization": "Bearer wrong-secret-0123456789"}, {"Authorization": stack.secret}):
        status, _, body = send("POST", url, {"sender": sender, "message": "where is my order 10001"}, headers)
        assert status == 401 and b"recipient_id" not in body
    assert user_events(stack, sender) == []  # nothing reached the conversation
    assert stack.say(sender, "hi")  # the web app's own calls, with the secret


def test_rasa_serves_no_socketio_channel(stack):
    status, _, _ = send("GET", f"{stack.settings.rasa_url}/socket.io/?EIO=4&transport=polling")
    assert status == 404  # unauthenticated (any session id) and broken on Python 3.11: not served


def test_nlu_server_needs_the_bearer_and_its_health_tells_nothing(stack):
    url = f"{stack.settings.nlu_url}/model/parse"
    for headers in ({}, {"Authorization": "Bearer wrong-secret-0123456789"}):
        status, _, body = send("POST", url, {"text": "where is my order 10001?"}, headers)
        assert status == 401 and b"intent" not in body
    status, _, body = send("POST", url, {"text": "where is my order 10001?"}, bearer_headers(stack.secret))
    assert status == 200 and json.loads(body)["intent"]["name"] == "order_status"
    assert http_json("GET", f"{stack.settings.nlu_url}/health") == (200, {"status": "ok"})


def test_action_server_answers_only_with_the_bearer(stack):
    base = stack.settings.action_url.rsplit("/webhook", 1)[0]
    call = {"next_action": "validate_order_form", "sender_id": "pen-test", "version": "3.6.21",
            "tracker": {"sender_id": "pen-test", "slots": {"order_id": "10006", "order_email": "x@example.com"},
                        "latest_message": {"intent": {"name": "inform"}, "entities": [], "text": "x@example.com"},
                        "events": [], "paused": False, "followup_action": None,
                        "active_loop": {"name": "order_form"}, "latest_action_name": "action_listen"},
            "domain": {}}
    for headers in ({}, {"Authorization": "Bearer wrong-secret-0123456789"}):
        status, _, body = send("POST", stack.settings.action_url, call, headers)
        assert status == 401 and b"events" not in body
        assert send("GET", f"{base}/actions", headers=headers)[0] == 401
        assert send("POST", f"{base}/faq/answer", {"text": "do you ship to canada"}, headers)[0] == 401
    status, _, body = send("GET", f"{base}/actions", headers=bearer_headers(stack.secret))
    assert status == 200 and "validate_order_form" in body.decode()
    assert http_json("GET", f"{base}/health") == (200, {"status": "ok"})


def test_internal_services_listen_on_the_internal_interface_only(stack):
    for name in ("rasa", "actions", "nlu"):
        listening = {c.laddr.ip for c in stack.service_process(name).net_connections(kind="inet")
                     if c.status == "LISTEN"}
        assert listening == {stack.settings.internal_host}, (name, listening)


# ---- finding 10: refused messages, body size, anonymous sessions, health -----------------------------

def conversation_exists(stack: Stack, cid: str) -> bool:
    with session_factory(stack.settings.database_url)() as s:
        return s.get(Conversation, cid) is not None


def test_a_refused_message_creates_no_conversation(stack, guarded_web):
    senders = [f"web-{uuid.uuid4().hex}" for _ in range(3)]
    statuses = [http_json("POST", f"{guarded_web}/api/messages", {"sender": s, "message": "hi"}, headers=API_AUTH)[0]
                for s in senders]
    assert statuses == [200, 200, 429]  # AISLE_RATE_PER_IP=2/minute on this instance
    assert [conversation_exists(stack, api_conversation_id(s)) for s in senders] == [True, True, False]


def test_an_oversized_chat_body_is_refused(stack):
    body = json.dumps({"sender": f"web-{uuid.uuid4().hex}", "message": "x" * 2 * 1024 * 1024}).encode()
    status, _, reply = send("POST", f"{stack.web_url}/api/messages", body=body, headers=API_AUTH)
    assert status == 413 and "characters" in json.loads(reply)["error"]


def test_anonymous_login_page_visits_store_no_session(stack):
    def sessions() -> int:
        with session_factory(stack.settings.database_url)() as s:
            return s.scalar(select(func.count()).select_from(ConsoleSession)) or 0

    before = sessions()
    for _ in range(3):
        status, headers, _ = send("GET", f"{stack.web_url}/login")
        assert status == 200 and "aisle_console=" not in headers.get("set-cookie", "")
    assert sessions() == before


def test_health_reports_each_service_without_addresses(stack):
    status, _, body = send("GET", f"{stack.web_url}/health")
    assert status == 200
    services = json.loads(body)["services"]
    assert {s["name"] for s in services} == {"rasa", "actions", "nlu"} and all(s["ok"] for s in services)
    text = body.decode()
    assert "http" not in text and "127.0.0.1" not in text
    for port in (stack.settings.rasa_port, stack.settings.action_port, stack.settings.nlu_port):
        assert str(port) not in text


# ---- finding 13: HSTS, secure cookies, CSP with frame-ancestors --------------------------------------

def test_plain_http_development_gets_csp_but_no_hsts(stack):
    status, headers, _ = send("GET", f"{stack.web_url}/")
    assert status == 200 and "strict-transport-security" not in headers
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'self'" in send("GET", f"{stack.web_url}/static/widget.js")[1]["content-security-policy"]


def test_behind_tls_hsts_secure_cookies_and_the_store_may_frame(guarded_web):
    status, headers, _ = send("GET", f"{guarded_web}/")
    assert status == 200 and headers["strict-transport-security"] == "max-age=31536000"
    assert f"frame-ancestors 'self' {SHOP}" in headers["content-security-policy"]
    widget = send("GET", f"{guarded_web}/static/widget.js")[1]
    assert widget["content-security-policy"].endswith(f"frame-ancestors 'self' {SHOP}")
    login = send("GET", f"{guarded_web}/login")[1]
    assert "strict-transport-security" in login and "Secure" in login["set-cookie"]
