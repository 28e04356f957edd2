"""What an operator watches on every Aisle service: Prometheus metrics, who may scrape them, and the
liveness / readiness probes.

Metric labels take only values from the fixed sets below (anything else counts as ``other``): never
shopper text, conversation ids or addresses, so the number of time series stays bounded.

Scraping: with ``AISLE_METRICS_TOKEN`` set, ``/metrics`` needs ``Authorization: Bearer <token>`` (401
otherwise). Without it, only a caller on the same host may scrape: the socket's peer is a loopback
address and the request carries no forwarding header (a reverse proxy on the same host adds one, so a
proxied request from the internet is refused); anyone else gets 403. The token is not the internal
secret: a Prometheus server that reads metrics must not be able to drive conversations.
"""
from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from aisle.internal_auth import is_authorized

OTHER = "other"
STAGES = ("gateway", "rasa", "nlu_parse", "action", "search")
CHANNELS = ("widget", "api", "socketio", "rest")
FALLBACK_REASONS = ("empty", "emoji", "no_words", "not_english", "noise", "low_confidence")
# Error kinds, per service: what an alert should page on.
ERRORS = {
    "web": ("rasa_unreachable", "rasa_timeout", "rasa_error", "nlu_unreachable", "bot_silent", "internal"),
    "nlu": ("parse_failed",),
    "actions": ("action_failed",),
}
# Seconds: a search is milliseconds, a turn that waits for a slow Rasa reaches AISLE_TURN_TIMEOUT_S (15).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)

TURNS = Counter("aisle_turns", "Shopper messages the gateway took (after validation and rate limits)",
                ["channel"])
STAGE_SECONDS = Histogram("aisle_stage_duration_seconds", "Time spent per stage of a shopper turn",
                          ["stage"], buckets=LATENCY_BUCKETS)
NLU_FALLBACKS = Counter("aisle_nlu_fallbacks", "Messages the NLU answered with nlu_fallback, by reason",
                        ["reason"])
HANDOFFS = Counter("aisle_handoffs", "Conversations the bot put in the queue for a person (asked for, or "
                   "after repeated misunderstandings)")
FAILURES = Counter("aisle_errors", "Failures a shopper or an agent could notice, by kind", ["kind"])
AGENT_QUEUE = Gauge("aisle_agent_queue_length", "Conversations waiting for a person (read from the database "
                    "at scrape time: every web app instance reports the same queue)")


def bounded(value: str | None, allowed: Iterable[str]) -> str:
    return value if value in tuple(allowed) else OTHER


def declare(service: str, stages: Iterable[str] = (), **labels: Iterable[str]) -> None:
    """Create a service's series at zero, so a dashboard shows 0 rather than no data before the first
    event. ``labels`` maps a metric of this module (turns, fallbacks) to its label values."""
    metrics = {"turns": TURNS, "fallbacks": NLU_FALLBACKS}
    for stage in stages:
        STAGE_SECONDS.labels(stage)
    for kind in ERRORS[service]:
        FAILURES.labels(kind)
    for name, values in labels.items():
        for value in values:
            metrics[name].labels(value)


def may_scrape(authorization: str | None, peer: str | None, headers: Mapping[str, str],
               token: str | None) -> int | None:
    """None when the caller may read /metrics, else the HTTP status to refuse with (see the docstring)."""
    if token is not None:
        return None if is_authorized(authorization, token) else 401
    if any(name in headers for name in ("Forwarded", "X-Forwarded-For", "X-Real-IP")):
        return 403
    try:
        return None if peer is not None and ipaddress.ip_address(peer).is_loopback else 403
    except ValueError:  # a Unix socket or something else with no IP address
        return 403


REFUSALS = {401: "send Authorization: Bearer <AISLE_METRICS_TOKEN>",
            403: "metrics are served to this host only; set AISLE_METRICS_TOKEN to scrape from elsewhere"}


def exposition() -> bytes:
    return generate_latest(REGISTRY)


Ready = Callable[[], Awaitable[list[str]]]  # the names of what is not ready yet; empty when ready


def readiness_body(failing: list[str]) -> tuple[int, dict[str, object]]:
    """Names only, never addresses or errors: an anonymous caller learns nothing else."""
    if failing:
        return 503, {"status": "not ready", "failing": failing}
    return 200, {"status": "ready"}


LIVE = {"status": "live"}
PROBE_PATHS = {"/metrics", "/livez", "/readyz"}


def add_aiohttp_routes(app: web.Application, token: str | None, ready: Ready) -> None:
    """``/metrics``, ``/livez`` (200 while the process serves) and ``/readyz`` on an aiohttp service."""

    async def metrics(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        refused = may_scrape(request.headers.get("Authorization"), peer[0] if peer else None, request.headers,
                             token)
        if refused is not None:
            return web.json_response({"error": REFUSALS[refused]}, status=refused)
        body = await asyncio.to_thread(exposition)  # gauges read the database at scrape time
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def livez(request: web.Request) -> web.Response:
        return web.json_response(LIVE)

    async def readyz(request: web.Request) -> web.Response:
        status, body = readiness_body(await ready())
        return web.json_response(body, status=status)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
