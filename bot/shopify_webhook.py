"""``POST /webhooks/shopify``: the store's orders and fulfillments, from Shopify's webhooks.

Only registered when AISLE_SHOPIFY_WEBHOOK_SECRET is set (otherwise 404: off by default). Every
delivery must carry ``X-Shopify-Hmac-Sha256``, the base64 HMAC-SHA256 of the raw body with that
secret (compared in constant time), ``X-Shopify-Topic`` and ``X-Shopify-Webhook-Id``. Refusals are
``{"error"}``, logged, with nothing written: 401 bad or missing signature, 400 malformed body or
unhandled topic, 409 a replay triggered longer ago than AISLE_WEBHOOK_MAX_AGE_MINUTES, 422 a
fulfillment for an order not received yet (Shopify retries it), 413 a body over 2 MiB. A delivery id
seen before is logged and answered 200 ``{"ok": true, "duplicate": true}`` with nothing applied again:
it is how Shopify retries a delivery whose answer it missed, and a non-2xx answer would make it retry
for hours and, in the end, drop the subscription.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta, timezone

from aiohttp import web

from aisle.config import Settings
from bot.appkeys import SETTINGS
from bot.chat_http import json_error, read_limited
from bot.console.security import DB
from bot.websocket import client_ip
from catalog.store_orders import DuplicateDelivery, PayloadError, ReplayError, StoreOrders, UnknownOrderError

log = logging.getLogger(__name__)
PATH = "/webhooks/shopify"
MAX_BODY_BYTES = 2 * 1024 * 1024
STORE_ORDERS: web.AppKey[StoreOrders] = web.AppKey("store_orders", StoreOrders)


def signature(secret: str, body: bytes) -> str:
    """What Shopify sends in X-Shopify-Hmac-Sha256 for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _triggered_at(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"X-Shopify-Triggered-At must be an ISO 8601 time, got {raw[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def receive(request: web.Request) -> web.Response:
    settings: Settings = request.app[SETTINGS]
    secret = settings.shopify_webhook_secret
    assert secret is not None  # the route exists only with a secret
    topic = request.headers.get("X-Shopify-Topic", "")[:64]
    who = f"from {client_ip(request)} topic {topic!r}"
    raw = await read_limited(request, MAX_BODY_BYTES)
    if raw is None:
        log.warning("shopify webhook refused %s: body over %d bytes", who, MAX_BODY_BYTES)
        return json_error(413, f"request body too large: at most {MAX_BODY_BYTES} bytes")
    sent = request.headers.get("X-Shopify-Hmac-Sha256", "")
    if not hmac.compare_digest(signature(secret, raw).encode(), sent.encode()):
        log.warning("shopify webhook refused %s: %s signature", who, "bad" if sent else "missing")
        return json_error(401, "the X-Shopify-Hmac-Sha256 signature does not match the body")
    delivery = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    if not delivery or len(delivery) > 128:
        log.warning("shopify webhook refused %s: no usable X-Shopify-Webhook-Id", who)
        return json_error(400, "X-Shopify-Webhook-Id is required (at most 128 characters)")
    try:
        payload = json.loads(raw)
        number = await asyncio.to_thread(request.app[STORE_ORDERS].apply, topic, payload, delivery,
                                         _triggered_at(request.headers.get("X-Shopify-Triggered-At")))
    except ValueError as exc:  # JSON errors and PayloadError / ReplayError (both ValueErrors)
        if isinstance(exc, DuplicateDelivery):
            log.warning("shopify webhook duplicate %s delivery %s: acknowledged, not applied again", who, delivery)
            return web.json_response({"ok": True, "duplicate": True})
        if isinstance(exc, ReplayError):
            log.warning("shopify webhook replay refused %s delivery %s: %s", who, delivery, exc)
            return json_error(409, f"replay refused: {exc}")
        message = str(exc) if isinstance(exc, PayloadError) else f"the body is not valid JSON ({exc})"
        log.warning("shopify webhook refused %s delivery %s: %s", who, delivery, message)
        return json_error(400, message)
    except UnknownOrderError as exc:
        log.info("shopify webhook %s delivery %s not applied yet: %s", who, delivery, exc)
        return json_error(422, str(exc))
    log.info("shopify webhook %s delivery %s applied to order %s", who, delivery, number)
    return web.json_response({"ok": True, "order": number})


def add_routes(app: web.Application, settings: Settings) -> None:
    """The route exists only when the shared secret is configured: without it, 404."""
    if settings.shopify_webhook_secret is None:
        return
    app[STORE_ORDERS] = StoreOrders(app[DB], timedelta(seconds=settings.webhook_max_age_s))
    app.router.add_post(PATH, receive)
