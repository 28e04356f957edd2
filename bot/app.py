"""The aiohttp web app (port 8000): demo store page with the chat widget, the widget's WebSocket
gateway, a JSON chat API for other channels, the Socket.IO channel rasa-webchat speaks and a
Rasa-compatible REST webhook (all through the same gateway), the staff consoles, and the health page."""
from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp_session import session_middleware
from sqlalchemy.exc import SQLAlchemyError

from aisle import observability as obs
from aisle.config import Settings
from aisle.db import database_reachable, engine_for, session_factory
from bot.api_keys import ApiKeys
from bot.appkeys import API_KEYS, GATEWAY, HANDOFFS, INTERNAL_SECRET, SESSION, SETTINGS, TOKENS
from bot.chat_http import ERROR_STATUS, authenticated_json, json_error
from bot.agent import canned_admin
from bot.agent import views as agent_views
from bot.agent.retention import purge
from bot.console import api_keys_admin, auth_views, faq_admin
from bot.console.security import DB, csrf_middleware
from bot.console.session_store import SqlSessionStorage
from bot.conversation_tokens import ConversationTokens
from bot.coordination import RedisHub, TurnLocks, limits_storage_uri
from bot.gateway import Gateway, GatewayError, RateLimits
from bot.handoff import Handoffs
from bot.health import check_all, probe, service_urls
from bot.hub import Hub
from bot import rest_webhook, shopify_webhook, socketio_channel, store_page
from bot.rasa_client import RasaClient
from bot.site_headers import site_headers
from bot.transcripts import Transcripts
from bot.proxy import trusted_proxies
from bot.websocket import allowed_origin, client_ip, websocket_handler

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SENDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
READY_POLL_SECONDS = 1.0


async def post_message(request: web.Request) -> web.Response:
    """JSON chat API for channels other than the widget: {"sender", "message"} → {"messages": [...]}.
    Needs ``Authorization: Bearer KEY`` (checked before the body is read); the sender names a
    conversation within the key's integration."""
    checked = await authenticated_json(request)
    if isinstance(checked, web.Response):
        return checked
    integration, body = checked
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not SENDER_ID.match(sender):
        return json_error(400, "'sender' must be 8-64 letters, digits or _.:-")
    gateway = request.app[GATEWAY]
    conversation_id = integration.conversation_id(sender)
    try:
        replies = await gateway.shopper_message(conversation_id, message, ip=client_ip(request), channel="api")
    except GatewayError as exc:
        return json_error(ERROR_STATUS.get(exc.code, 400), str(exc))
    if any(r.get("notice") == "unavailable" for r in replies):
        return json_error(503, "The assistant is not available right now. Please try again in a moment.")
    return web.json_response({"messages": replies, "mode": request.app[HANDOFFS].status(conversation_id)["mode"],
                              "conversation_id": conversation_id})


async def websocket(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[SETTINGS]
    if not allowed_origin(request, settings.widget_origins):
        log.warning("shopper socket refused for Origin %r", request.headers.get("Origin", "")[:200])
        raise web.HTTPForbidden(text="This page may not open the Aisle chat (Origin not allowed).")
    return await websocket_handler(request, request.app[GATEWAY], request.app[HANDOFFS], request.app[TOKENS],
                                   settings.widget_idle_s)


async def health(request: web.Request) -> web.StreamResponse:
    services = await check_all(request.app[SESSION], request.app[SETTINGS])
    ok = all(s["ok"] for s in services)
    status = 200 if ok else 503
    if "text/html" not in request.headers.get("Accept", ""):
        return web.json_response({"ok": ok, "services": services}, status=status)
    return aiohttp_jinja2.render_template("health.html", request, {"services": services, "ok": ok},
                                          status=status)


def queue_length(handoffs: Handoffs) -> Callable[[], float]:
    """The agent queue gauge's reading: NaN (unknown) while the database does not answer, so /metrics
    keeps working through a database outage, when it is needed most."""

    def read() -> float:
        try:
            return handoffs.queue_length()
        except SQLAlchemyError:
            return math.nan

    return read


def readiness(app: web.Application) -> obs.Ready:
    """Ready to take chats: the database answers, and so does at least one Rasa server (the NLU and
    action servers have their own probes; /health reports all of them)."""

    async def failing() -> list[str]:
        settings = app[SETTINGS]
        rasa = [url for name, url in service_urls(settings).items() if name.startswith("rasa")]
        database, *servers = await asyncio.gather(asyncio.to_thread(database_reachable, settings.database_url),
                                                  *(probe(app[SESSION], "rasa", url) for url in rasa))
        return ([] if database else ["database"]) + ([] if any(s.ok for s in servers) else ["rasa"])

    return failing


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


RETENTION_EVERY_S = 3600


async def retention_watch(app: web.Application):  # type: ignore[no-untyped-def]
    """Delete transcripts older than AISLE_TRANSCRIPT_RETENTION_DAYS, at start and then hourly."""

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(purge, app[DB], app[SETTINGS].retention_days)
            except Exception:  # a failed purge must not stop the web app; it is retried next hour
                log.exception("transcript retention purge failed")
            await asyncio.sleep(RETENTION_EVERY_S)

    task = asyncio.create_task(loop())
    yield
    task.cancel()


def create_app(settings: Settings) -> web.Application:
    db = session_factory(settings.database_url)
    app = web.Application(
        client_max_size=faq_admin.MAX_IMPORT_BYTES + 64 * 1024,  # knowledge-base uploads
        middlewares=[trusted_proxies(settings.trusted_proxies, settings.proxy_headers),
                     session_middleware(SqlSessionStorage(db, secure=settings.cookie_secure)),
                     csrf_middleware, site_headers],
    )
    app[SETTINGS] = settings
    app[DB] = db
    app[INTERNAL_SECRET] = settings.internal_secret()
    app[API_KEYS] = ApiKeys(db, settings.api_keys)
    app[TOKENS] = ConversationTokens(settings.widget_signing_key())
    limits = RateLimits(settings.rate_per_conversation, settings.rate_per_ip, limits_storage_uri(settings.redis_url))
    redis = aioredis.from_url(settings.redis_url) if settings.redis_url else None
    hub = RedisHub(redis) if redis else Hub()
    transcripts = Transcripts(db, hub)
    app[HANDOFFS] = Handoffs(transcripts)

    async def services(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession()
        await hub.start()
        rasa = RasaClient(settings.rasa_urls, app[SESSION], settings.turn_timeout_s, app[INTERNAL_SECRET])
        # A turn lock outlives the bounded wait for Rasa plus the database writes around it.
        turns = TurnLocks(redis, hold_s=settings.turn_timeout_s + 15)
        app[GATEWAY] = Gateway(transcripts, app[HANDOFFS], rasa, engine_for(settings.database_url), limits,
                               settings.max_message_chars, turns)
        yield
        await hub.close()
        if redis is not None:
            await redis.aclose()
        await app[SESSION].close()

    app.cleanup_ctx.append(services)
    app.cleanup_ctx.append(readiness_watch)
    app.cleanup_ctx.append(retention_watch)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                         autoescape=jinja2.select_autoescape(default=True))
    store_page.add_routes(app)
    app.router.add_get("/ws", websocket)
    app.router.add_post("/api/messages", post_message)
    rest_webhook.add_routes(app)
    shopify_webhook.add_routes(app, settings)
    socketio_channel.attach(app, settings)
    app.router.add_get("/health", health)
    obs.declare("web", stages=("gateway", "rasa"), turns=obs.CHANNELS)
    obs.AGENT_QUEUE.set_function(queue_length(app[HANDOFFS]))
    obs.add_aiohttp_routes(app, settings.metrics_token, readiness(app))
    auth_views.add_routes(app)
    faq_admin.add_routes(app)
    api_keys_admin.add_routes(app)
    agent_views.add_routes(app, settings.data_dir)
    canned_admin.add_routes(app)
    app.router.add_static("/static", HERE / "static")
    return app
