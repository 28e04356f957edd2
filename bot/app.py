"""The aiohttp web app (port 8000): chat page, chat API proxy to Rasa, health page."""
from __future__ import annotations

import asyncio
import html
import logging
import re
from pathlib import Path

import aiohttp
from aiohttp import web

from aisle.config import Settings
from bot.health import check_all
from bot.rasa_client import RasaClient, RasaUnavailable

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
MAX_MESSAGE_CHARS = 2000
SENDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.html")


async def post_message(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return json_error(400, "request body must be JSON: {\"sender\": \"...\", \"message\": \"...\"}")
    if not isinstance(body, dict):
        return json_error(400, "request JSON must be an object")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not SENDER_ID.match(sender):
        return json_error(400, "'sender' must be 8-128 letters, digits or _.:-")
    if not isinstance(message, str) or not message.strip():
        return json_error(400, "'message' must be a non-empty string")
    if len(message) > MAX_MESSAGE_CHARS:
        return json_error(413, f"'message' is longer than {MAX_MESSAGE_CHARS} characters")
    client = RasaClient(request.app[SETTINGS].rasa_url, request.app[SESSION])
    try:
        replies = await client.send(sender, message)
    except RasaUnavailable as exc:
        log.warning("chat message not delivered: %s", exc)
        return json_error(503, "The assistant is not available right now. Please try again in a moment.")
    return web.json_response({"messages": replies})


async def health(request: web.Request) -> web.Response:
    services = await check_all(request.app[SESSION], request.app[SETTINGS])
    ok = all(s["ok"] for s in services)
    status = 200 if ok else 503
    if "text/html" not in request.headers.get("Accept", ""):
        return web.json_response({"ok": ok, "services": services}, status=status)
    rows = "".join(
        f"<tr><td>{html.escape(str(s['name']))}</td><td>{'up' if s['ok'] else 'DOWN'}</td>"
        f"<td>{html.escape(str(s['detail']))}</td></tr>"
        for s in services
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Aisle health</title>"
        "<link rel='stylesheet' href='/static/chat.css'></head><body><main class='health'>"
        f"<h1>Aisle is {'healthy' if ok else 'degraded'}</h1>"
        f"<table><tr><th>service</th><th>state</th><th>detail</th></tr>{rows}</table>"
        "</main></body></html>"
    )
    return web.Response(text=page, content_type="text/html", status=status)


READY_POLL_SECONDS = 1.0


async def announce_when_ready(app: web.Application) -> None:
    """Log the URL to open once every service answers (make run prints it)."""
    settings = app[SETTINGS]
    while True:
        services = await check_all(app[SESSION], settings)
        if all(s["ok"] for s in services):
            log.info("Aisle is ready: open http://%s:%d/", settings.host, settings.web_port)
            return
        await asyncio.sleep(READY_POLL_SECONDS)


async def readiness_watch(app: web.Application):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(announce_when_ready(app))
    yield
    task.cancel()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS] = settings

    async def client_session(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession()
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(client_session)
    app.cleanup_ctx.append(readiness_watch)
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/messages", post_message)
    app.router.add_get("/health", health)
    app.router.add_static("/static", STATIC)
    return app
