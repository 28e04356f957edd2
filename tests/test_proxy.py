"""Trusted-proxy handling in the web app, in process (the test client connects from 127.0.0.1): the
proxy's headers are believed from AISLE_TRUSTED_PROXIES only. tests/test_proxy_e2e.py runs the same
behind a real nginx with TLS."""
from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aisle.config import ConfigError, Settings
from aisle.db import session_factory
from aisle.models import Role
from bot.app import create_app
from bot.console.accounts import create_user
from tests.test_console import PASSWORD, login
from tests.web_fixtures import web_settings

SHOP = "shop.example"  # the public host: https on the default port, as a browser reaches it through the proxy


async def app_client(tmp_path, **env: str) -> TestClient:
    settings = web_settings(tmp_path, **env)
    create_user(session_factory(settings.database_url), "sam", PASSWORD, Role.agent, "test")
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.mark.parametrize("trusted, expected", [("127.0.0.1", 101), ("", 403), ("10.0.0.0/8", 403)])
async def test_agent_socket_origin_behind_a_tls_proxy_on_port_443(tmp_path, trusted, expected):
    """The reported bug: Host without a port and https in X-Forwarded-Proto, so the app saw
    http://shop.example:80 while the browser's Origin is https://shop.example:443."""
    client = await app_client(tmp_path, AISLE_TRUSTED_PROXIES=trusted)
    try:
        await login(client, "sam")
        resp = await client.get("/agent/ws/queue", headers={
            "Host": SHOP, "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
            "Origin": f"https://{SHOP}", "Connection": "Upgrade", "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert resp.status == expected
        if expected == 101:  # the cookie and HSTS follow the proxy's https as well
            page = await client.get("/login", headers={"Host": SHOP, "X-Forwarded-Proto": "https",
                                                       "X-Forwarded-For": "203.0.113.7"})
            assert page.headers["Strict-Transport-Security"] and "Secure" in page.headers["Set-Cookie"]
        else:  # from an untrusted peer the headers change nothing: plain http, no HSTS
            page = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "Strict-Transport-Security" not in page.headers
            assert "Secure" not in page.headers["Set-Cookie"]
        resp.release()
    finally:
        await client.close()


async def test_forwarded_header_and_malformed_proxy_headers(tmp_path):
    client = await app_client(tmp_path, AISLE_TRUSTED_PROXIES="127.0.0.1", AISLE_PROXY_HEADERS="forwarded")
    try:
        page = await client.get("/login", headers={"Forwarded": "for=203.0.113.9;proto=https"})
        assert page.status == 200 and "Strict-Transport-Security" in page.headers
        # X-Forwarded-* is not what this proxy sets: a client's copy passes through it and is ignored.
        page = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in page.headers
        # A hop between the client and us that is not a trusted proxy: refused, not guessed.
        for bad in ("for=203.0.113.9, for=198.51.100.1;proto=https", "for=unknown;proto=https"):
            resp = await client.get("/login", headers={"Forwarded": bad})
            assert resp.status == 400 and "proxy headers" in await resp.text(), bad
    finally:
        await client.close()
    client = await app_client(tmp_path / "x", AISLE_TRUSTED_PROXIES="127.0.0.1")
    try:
        resp = await client.get("/login", headers={"X-Forwarded-For": "not-an-address"})
        assert resp.status == 400 and "X-Forwarded-For" in await resp.text()
    finally:
        await client.close()


@pytest.mark.parametrize("env, message", [
    ({"AISLE_TRUSTED_PROXIES": "10.0.0.1/8"}, "host bits"),
    ({"AISLE_TRUSTED_PROXIES": "proxy.internal"}, "not an IP address"),
    ({"AISLE_PROXY_HEADERS": "x-real-ip"}, "AISLE_PROXY_HEADERS"),
])
def test_bad_proxy_settings_are_refused_at_start(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_proxy_settings_default_to_believing_nobody():
    settings = Settings.from_env({"AISLE_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8,::1 "})
    assert settings.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    default = Settings.from_env({})
    assert default.trusted_proxies == () and default.proxy_headers == "x-forwarded"
