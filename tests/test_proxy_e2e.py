"""Aisle behind a TLS-terminating nginx (Debian's package) on loopback, against the real services (issue #20,
deliverable 1): shopper chat, console login with a Secure cookie and HSTS, the agent console's live
WebSocket, and per-address rate limits that count each real client, not the proxy.

The certificate is a throw-away self-signed one made here with openssl; nginx's config is written into a
scratch dir. Clients speak from their own loopback addresses (127.0.0.0/8 all reaches nginx), so nginx's
X-Forwarded-For names a different client for each. Skipped where nginx is not installed
(scripts/ensure_servers.sh installs it as root).
"""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from aisle.db import session_factory
from aisle.models import AuditEvent
from tests.e2e_stack import AGENT, API_AUTH, STAFF_PASSWORD, Stack, free_port, http_json

pytestmark = pytest.mark.e2e
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
PER_IP = 3  # messages per minute per client address on the proxied web app
TIMEOUT = 60

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        # One location for pages, the chat API and the three WebSockets (/ws, /agent/ws/, /socket.io/).
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    url: str  # https://127.0.0.1:PORT, what a browser would call the site
    tls: ssl.SSLContext  # trusts the throw-away certificate only
    web_url: str  # the web app itself, behind nginx
    database_url: str


def wait_for(check, what: str, log: str | Path, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    tail = Path(log).read_text()[-2000:] if Path(log).exists() else ""
    raise RuntimeError(f"{what} not up in {limit_s:.0f} s:\n{tail}")


@pytest.fixture(scope="module")
def proxy(stack: Stack, tmp_path_factory) -> Iterator[Proxy]:
    if NGINX is None:
        pytest.skip("nginx is not installed: run 'sudo scripts/ensure_servers.sh' (Debian's nginx) "
                    "to run the reverse-proxy end-to-end tests")
    scratch = tmp_path_factory.mktemp("nginx")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(scratch / "key.pem"), "-out", str(scratch / "cert.pem")],
                   check=True, capture_output=True)
    web_port, port = free_port(), free_port()
    stack.start("web", "web-proxied", {"AISLE_WEB_PORT": str(web_port), "AISLE_TRUSTED_PROXIES": "127.0.0.1",
                                      "AISLE_RATE_PER_IP": f"{PER_IP}/minute"})
    # nginx started as root hands requests to unprivileged workers, which could not reach this scratch dir.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = scratch / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=scratch, port=port, upstream=web_port, user=user))
    nginx = subprocess.Popen([NGINX, "-p", str(scratch), "-c", str(conf), "-e", str(scratch / "error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    tls = ssl.create_default_context(cafile=str(scratch / "cert.pem"))
    try:
        wait_for(lambda: http_json("GET", f"http://127.0.0.1:{web_port}/health", timeout=5)[0] == 200,
                 "the proxied web app", stack.data_dir / "web-proxied.log")

        def nginx_up() -> bool:
            assert nginx.poll() is None, (scratch / "error.log").read_text()
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True

        wait_for(nginx_up, "nginx", scratch / "error.log")
        yield Proxy(f"https://127.0.0.1:{port}", tls, f"http://127.0.0.1:{web_port}",
                    stack.settings.database_url)
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)
        stack.stop("web-proxied")


def post_message(proxy: Proxy, sender: str, text: str, client: str,
                 headers: dict[str, str] | None = None, url: str | None = None) -> tuple[int, dict]:
    """POST /api/messages from the loopback address ``client``: through nginx over TLS, or straight to
    ``url`` (the web app itself) when given."""
    if url is None:
        port = int(proxy.url.rsplit(":", 1)[1])
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=TIMEOUT, source_address=(client, 0), context=proxy.tls)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=TIMEOUT,
                                                source_address=(client, 0))
    try:
        connection.request("POST", "/api/messages", json.dumps({"sender": sender, "message": text}),
                           {"Content-Type": "application/json", **API_AUTH, **(headers or {})})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def wss_url(proxy: Proxy) -> str:
    return proxy.url.replace("https://", "wss://", 1)


def session(proxy: Proxy, client: str) -> aiohttp.ClientSession:
    """A browser-like client on ``client``'s address: checks the certificate, keeps cookies for an IP host."""
    connector = aiohttp.TCPConnector(ssl=proxy.tls, local_addr=(client, 0))
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def receive_until(ws: aiohttp.ClientWebSocketResponse, kind: str, author: str | None = None) -> dict:
    while True:
        frame = await ws.receive_json(timeout=TIMEOUT)
        if frame.get("type") == kind and (author is None or frame["message"]["author"] == author):
            return frame


def test_shopper_chat_through_the_proxy(proxy):
    status, body = post_message(proxy, f"proxy-{uuid.uuid4().hex[:10]}", "show me kettles", "127.0.0.11")
    assert status == 200 and body["messages"] and body["mode"] == "bot"

    async def widget() -> None:  # the widget's WebSocket from the site's own https page
        async with session(proxy, "127.0.0.11") as http:
            async with http.ws_connect(f"{wss_url(proxy)}/ws",
                                       headers={"Origin": proxy.url}) as ws:
                await ws.send_json({"type": "hello"})
                assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "welcome"
                await ws.send_json({"type": "message", "text": "hello"})
                assert (await receive_until(ws, "message", "bot"))["message"]["text"]
            # Socket.IO (rasa-webchat) takes the same origin rule: the https page yes, another site no.
            for origin, expected in ((proxy.url, 200), ("https://evil.example", 400)):
                resp = await http.get(f"{proxy.url}/socket.io/?EIO=4&transport=polling",
                                      headers={"Origin": origin})
                assert resp.status == expected, (origin, await resp.text())

    asyncio.run(widget())


def test_console_login_secure_cookie_hsts_and_the_agent_live_socket(proxy):
    async def console() -> None:
        async with session(proxy, "127.0.0.12") as http:
            page = await http.get(f"{proxy.url}/login")
            assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert "Secure" in page.headers["Set-Cookie"]  # AISLE_COOKIE_SECURE is not set: the proxy's https
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
            resp = await http.post(f"{proxy.url}/login", allow_redirects=False, data={
                "username": AGENT, "password": STAFF_PASSWORD, "csrf_token": token, "next": "/agent/queue"})
            assert resp.status == 303 and "Secure" in resp.headers["Set-Cookie"]
            queue = await (await http.get(f"{proxy.url}/agent/queue")).text()
            assert "Log out" in queue
            async with session(proxy, "127.0.0.13") as shopper:
                async with shopper.ws_connect(f"{wss_url(proxy)}/ws", headers={"Origin": proxy.url}) as ws:
                    await ws.send_json({"type": "hello"})
                    cid = (await ws.receive_json(timeout=TIMEOUT))["conversation_id"]
                    await ws.send_json({"type": "message", "text": "I want to talk to a real person"})
                    assert (await receive_until(ws, "mode"))["mode"] == "waiting"
                    token = re.search(r'name="csrf_token" value="([^"]+)"', queue).group(1)
                    taken = await http.post(f"{proxy.url}/agent/queue/{cid}/take", data={"csrf_token": token},
                                            allow_redirects=False)
                    assert taken.headers["Location"] == f"/agent/live/{cid}"
                    # The live socket from the console's own https page (refused before: 443 vs 80).
                    async with http.ws_connect(f"{wss_url(proxy)}/agent/ws/{cid}",
                                               headers={"Origin": proxy.url}) as agent_ws:
                        await agent_ws.send_json({"type": "message", "text": "Hi, Eve here."})
                        reply = await receive_until(ws, "message", "agent")
                        assert reply["message"]["text"] == "Hi, Eve here."
                        await ws.send_json({"type": "message", "text": "thanks, where is my parcel?"})
                        seen = await receive_until(agent_ws, "message", "shopper")
                        assert seen["message"]["text"] == "thanks, where is my parcel?"
            refused = await http.get(f"{proxy.url}/agent/ws/queue",
                                     headers={"Origin": "https://evil.example"})
            assert refused.status == 403

    asyncio.run(console())
    with session_factory(proxy.database_url)() as s:
        logins = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.login",
                                                    AuditEvent.username == AGENT)).all()
    # The client, not nginx's 127.0.0.1.
    assert any(event.detail.get("ip") == "127.0.0.12" for event in logins)


def test_rate_limits_count_each_real_client_not_the_proxy(proxy):
    def send(client: str, headers: dict[str, str] | None = None, url: str | None = None) -> int:
        return post_message(proxy, f"limit-{uuid.uuid4().hex[:10]}", "hi", client, headers, url)[0]

    # 127.0.0.21 spends its budget; a spoofed X-Forwarded-For does not buy it a fresh one.
    spoofed = [send("127.0.0.21", {"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(PER_IP)]
    assert spoofed == [200] * PER_IP
    assert send("127.0.0.21") == 429
    assert send("127.0.0.21", {"X-Forwarded-For": "198.51.100.77"}) == 429
    # Another shopper behind the same proxy is not limited by it.
    assert send("127.0.0.22") == 200
    # Straight to the web app from an address that is not the proxy: its X-Forwarded-For is ignored, so
    # naming the limited client neither limits this one nor is it let off as someone else.
    direct = proxy.web_url
    direct_sends = [send("127.0.0.23", {"X-Forwarded-For": "127.0.0.21"}, direct) for _ in range(PER_IP)]
    assert direct_sends == [200] * PER_IP
    assert send("127.0.0.23", {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250}"}, direct) == 429
