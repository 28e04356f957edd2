"""A Rasa-compatible REST webhook on the web app, behind the gateway: channels built for Rasa's REST
channel point at Aisle instead of Rasa and get transcripts, limits and handoff like every other channel.

``POST /webhooks/rest/webhook`` with ``Authorization: Bearer KEY`` (a chat API key: bot/api_keys.py) and
``{"sender", "message"}`` → 200 and a list of ``{"recipient_id", "text"?, "buttons"?, "custom"?,
"image"?}`` as Rasa's REST channel answers: a product list is its text, then ``{"custom": {"type":
"product_cards", ...}}``. The list holds what was said in the conversation since the previous call
(remembered per app instance; on a first call, what was said while the message was handled): the bot's
replies, a handoff notice, and what an agent wrote in between, since this protocol cannot push.
Refusals are 4xx ``{"error"}`` (401 key, 400 bad body, 413 too long, 429 too fast); 503 when the
assistant could not answer. A sender is the same conversation as through ``POST /api/messages`` with the
same key, within that key's integration: never another integration's conversation, nor a widget's.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from aiohttp import web

from bot.appkeys import GATEWAY
from bot.chat_http import ERROR_STATUS, authenticated_json, json_error
from bot.gateway import GatewayError
from bot.websocket import client_ip

CHANNEL = "rest"  # conversations.channel
MAX_SENDER_CHARS = 128
MAX_TRACKED_CONVERSATIONS = 10_000  # conversations whose last returned message is remembered (memory bound)
# conversation → the newest message this app instance returned for it, oldest entry first
DELIVERED: web.AppKey[OrderedDict[str, int]] = web.AppKey("rest_delivered", OrderedDict)


def rasa_replies(recipient_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored message in the shape of Rasa's REST channel: text (with buttons), then custom, then image."""
    text = str(message.get("text") or "")
    if message.get("author") == "agent":
        text = f"{message.get('agent') or 'Our team'} (our team): {text}"
    out: list[dict[str, Any]] = []
    if text:
        reply: dict[str, Any] = {"recipient_id": recipient_id, "text": text}
        if message.get("buttons"):
            reply["buttons"] = message["buttons"]
        out.append(reply)
    if message.get("cards"):
        out.append({"recipient_id": recipient_id, "custom": {
            "type": "product_cards", "intro": message.get("intro"), "products": message["cards"]}})
    elif isinstance(message.get("custom"), dict):
        out.append({"recipient_id": recipient_id, "custom": message["custom"]})
    if message.get("image"):
        out.append({"recipient_id": recipient_id, "image": message["image"]})
    return out


async def webhook(request: web.Request) -> web.Response:
    checked = await authenticated_json(request)
    if isinstance(checked, web.Response):
        return checked
    integration, body = checked
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS or not sender.isprintable():
        return json_error(400, f"'sender' must be 1-{MAX_SENDER_CHARS} printable characters")
    gateway, delivered = request.app[GATEWAY], request.app[DELIVERED]
    cid = integration.conversation_id(sender)
    seen = delivered.get(cid)
    if seen is None:
        before = gateway.transcripts.history(cid, limit=1)
        seen = before[0]["id"] if before else 0
    try:
        await gateway.shopper_message(cid, message, ip=client_ip(request), channel=CHANNEL)
    except GatewayError as exc:
        return json_error(ERROR_STATUS.get(exc.code, 400), str(exc))
    said = [m for m in gateway.transcripts.history(cid) if m["id"] > seen and m["author"] != "shopper"]
    delivered[cid] = max([seen, *(m["id"] for m in said)])
    delivered.move_to_end(cid)
    while len(delivered) > MAX_TRACKED_CONVERSATIONS:
        delivered.popitem(last=False)
    if any(m.get("notice") == "unavailable" for m in said):
        return json_error(503, "The assistant is not available right now. Please try again in a moment.")
    return web.json_response([reply for m in said for reply in rasa_replies(sender, m)])


def add_routes(app: web.Application) -> None:
    app[DELIVERED] = OrderedDict()
    app.router.add_post("/webhooks/rest/webhook", webhook)
