"""In-process web app fixtures: a migrated scratch database and, for protocol tests, a stand-in for
Rasa's REST channel (the real Rasa path is covered by the end-to-end tests)."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from aisle import migrate
from aisle.config import Settings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_settings(data_dir: Path, rasa_url: str | None = None, **env: str) -> Settings:
    """Settings over a migrated scratch database; every dependency is down unless rasa_url is given."""
    port = str(closed_port())  # nothing listens there
    values = {"AISLE_DATA_DIR": str(data_dir), "AISLE_RASA_PORT": port, "AISLE_NLU_PORT": port,
              "AISLE_ACTION_PORT": port, **env}
    if rasa_url:
        values["AISLE_RASA_URL"] = rasa_url
    settings = Settings.from_env(values)
    migrate.upgrade(settings.database_url)
    return settings


class EchoRasa:
    """Answers like Rasa's REST channel: echoes the text; "cards" adds a product card payload,
    "human" asks for a handoff, "silence" gets no reply at all (what Rasa sends when a custom action
    failed). ``delay`` makes the first reply slow, to test ordering."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.authorizations: list[str | None] = []  # what each call sent in its Authorization header
        self.metadata: list[Any] = []  # each message's metadata, as the web app sent it
        self.delay_first = 0.0

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append((body["sender"], body["message"]))
        self.authorizations.append(request.headers.get("Authorization"))
        self.metadata.append(body.get("metadata"))
        if len(self.received) == 1 and self.delay_first:
            await asyncio.sleep(self.delay_first)
        text = body["message"]
        if "silence" in text:
            return web.json_response([])
        replies: list[dict[str, Any]] = [{"recipient_id": body["sender"], "text": f"echo: {text}"}]
        if "cards" in text:
            replies.append({"recipient_id": body["sender"], "custom": {
                "type": "product_cards", "intro": "Here you go:",
                "products": [{"sku": "KET-100", "title": "Kettle", "price": 39.9, "buttons": []}]}})
        if "human" in text:
            replies.append({"recipient_id": body["sender"], "custom": {"type": "handoff", "reason": "requested"}})
        return web.json_response(replies)

    async def hello(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: (stand-in)")  # what the health probes ask

    def server(self) -> TestServer:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/", self.hello)
        return TestServer(app)
