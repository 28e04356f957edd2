"""The Socket.IO channel at ``/socket.io/``: the protocol rasa-webchat 1.0.x and Rasa's chat widget speak,
served by python-socketio on the web app. A store points the widget's ``socketUrl`` at Aisle's web address
and nothing else changes; every message goes through the gateway like the widget's own.

Client → server
  session_request {"session_id"?}                  answered by session_confirm
  user_uttered {"message", "session_id"?, "customData"?}   text, or a button's "/intent{...}" payload,
                                  in the session this socket was confirmed (session_id and customData are
                                  not trusted); a null message (no initPayload) is ignored
Server → client
  session_confirm "<id>"     a plain string, as Rasa sends it (clients take it, or {"session_id"})
  bot_uttered {...}          one per bubble, in the shapes rasa-webchat renders:
     {"text"}   |   {"text", "quick_replies": [{"content_type": "text", "title", "payload"}]}
     {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [card...]}}}
     {"attachment": {"type": "image", "payload": {"src"}}}   |   any other custom payload as Rasa sends it

Conversation ids are the server's: a new random one per chat; the client's previous id is taken back only
when it names a conversation of this channel (one that a message was sent in) that has not ended nor sat
idle for AISLE_WIDGET_IDLE_MINUTES, so a made-up id, a widget's or an API sender's id gets a fresh
conversation and reveals nothing. The conversation is stored with its
first message that passes the gateway's checks: page views that never chat leave nothing behind.
rasa-webchat keeps the messages it showed in the browser's storage and redraws them after a reload when
session_confirm returns the id it had; it never asks the server for history. What was said while no
socket of the conversation was open (an agent's reply during the reload) follows session_confirm.
Everything stored for the conversation (bot replies, handoff notices, a live agent's messages) reaches
each of its sockets as bot_uttered from the live hub; refusals (too long, too fast) come back as a
bot_uttered text and are not stored.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web

from actions.presenters import money
from aisle.config import Settings
from bot.appkeys import GATEWAY
from bot.gateway import Gateway, GatewayError, max_body_bytes
from bot.hub import SubscriberTooSlow
from bot.transcripts import Transcripts, new_conversation_id
from bot.websocket import allowed_origin, client_ip

log = logging.getLogger(__name__)
CHANNEL = "socketio"  # conversations.channel
MAX_SESSION_ID_CHARS = 64
MAX_CARDS = 10  # one carousel
MAX_REMEMBERED_BUTTONS = 200  # per socket: payload → the title the shopper clicked
RECENT_ON_RESUME = 50  # messages a resumed session looks at: buttons to remember, replies it missed
MAX_TRACKED_CONVERSATIONS = 10_000  # conversations whose last sent message is remembered (memory bound)
FAILED = "Something went wrong on our side. Please try again."


def origin_check(allowed: tuple[str, ...]) -> Callable[[str | None, dict[str, Any]], bool]:
    """python-socketio's ``cors_allowed_origins``: the same rule as the widget's socket (the web app's own
    origin and AISLE_WIDGET_ORIGINS)."""

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        return allowed_origin(environ["aiohttp.request"], allowed)

    return check


def absolute(link: Any, base: str) -> str | None:
    """A picture's address as a page on another site can load it: Aisle's own paths ("/demo-art/…")
    resolved against the address the socket came in on; web addresses kept; anything else dropped."""
    if not isinstance(link, str):
        return None
    if link.startswith(("https://", "http://")):
        return link
    return f"{base}{link}" if base and link.startswith("/") and not link.startswith("//") else None


def _card_element(card: dict[str, Any], base: str = "") -> dict[str, Any]:
    """One product card as an element of rasa-webchat's carousel (a Messenger "generic" template)."""
    buttons = [{"type": "postback", "title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
               for b in card.get("buttons") or []]
    price = card.get("price")
    facts = [money(float(price), str(card.get("currency") or "USD")) if price is not None else "",
             f"★ {float(card['rating']):.1f}" if card.get("rating") else "",
             "Out of stock" if card.get("in_stock") is False else "", str(card.get("reason") or "")]
    element: dict[str, Any] = {"title": str(card.get("title", "")),
                               "subtitle": " · ".join(f for f in facts if f), "buttons": buttons}
    image = absolute(card.get("image_url"), base)
    if image:
        element["image_url"] = image
    if buttons:  # the card itself opens its first button (Details)
        element["default_action"] = buttons[0]
    return element


def bot_uttered(message: dict[str, Any], base: str = "") -> list[dict[str, Any]]:
    """A stored bot, agent or system message as the bot_uttered events rasa-webchat renders. Its renderer
    picks the kind from the exact set of keys, so each event carries only its own. ``base``: Aisle's
    address as the socket reached it, for pictures served by Aisle itself."""
    text = str(message.get("text") or "")
    if message.get("author") == "agent":
        text = f"{message.get('agent') or 'Our team'} (our team): {text}"
    custom = message.get("custom") if isinstance(message.get("custom"), dict) else None
    cards = message.get("cards") or (custom or {}).get("products") or []
    if message.get("cards"):
        text = str(message.get("intro") or text.split("\n")[0])  # the numbered lines repeat the cards
    events: list[dict[str, Any]] = []
    buttons = message.get("buttons") or []
    if text and buttons:
        events.append({"text": text, "quick_replies": [
            {"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in buttons]})
    elif text:
        events.append({"text": text})
    if cards:
        events.append({"attachment": {"type": "template", "payload": {
            "template_type": "generic", "elements": [_card_element(c, base) for c in cards[:MAX_CARDS]]}}})
    elif custom:  # as Rasa's channel sends it: a React host renders it with customComponent, others skip it
        events.append(custom)
    image = absolute(message.get("image"), base)
    if image:
        events.append({"attachment": {"type": "image", "payload": {"src": image}}})
    return events


def button_titles(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(payload, what the shopper clicked) for each button of a message: rasa-webchat sends back only the
    payload, and the transcript should read like the widget's ("Details: Steel Kettle")."""
    titles = [(str(b["payload"]), str(b["title"])) for b in message.get("buttons") or []]
    custom = message.get("custom") if isinstance(message.get("custom"), dict) else {}
    for card in message.get("cards") or custom.get("products") or []:
        titles += [(str(b["payload"]), f"{b['title']}: {card.get('title', '')}")
                   for b in card.get("buttons") or []]
    return titles


@dataclass
class Socket:
    ip: str
    base: str = ""  # Aisle's address as this socket reached it
    conversation_id: str | None = None
    forwarder: asyncio.Task[None] | None = None
    clicked: dict[str, str] = field(default_factory=dict)  # payload → title, oldest first
    last_id: int = 0  # the newest message sent to this socket
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)  # one sender at a time, in id order

    def remember(self, payload: str, title: str) -> None:
        self.clicked.pop(payload, None)
        self.clicked[payload] = title
        while len(self.clicked) > MAX_REMEMBERED_BUTTONS:
            del self.clicked[next(iter(self.clicked))]


class SocketIOChannel:
    def __init__(self, app: web.Application, settings: Settings) -> None:
        self.app = app
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp", cors_allowed_origins=origin_check(settings.widget_origins),
            cors_credentials=False, max_http_buffer_size=max_body_bytes(settings.max_message_chars))
        self.sockets: dict[str, Socket] = {}
        self.idle_s = settings.widget_idle_s
        # conversation → the newest message any socket of this instance was sent, oldest entry first: a
        # session resumed after a reload gets what was said while no socket was open (an agent's reply)
        self.delivered: OrderedDict[str, int] = OrderedDict()
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("session_request", self.session_request)
        self.sio.on("user_uttered", self.user_uttered)

    @property
    def gateway(self) -> Gateway:
        return self.app[GATEWAY]  # made when the app starts (it needs the HTTP session)

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        request = environ["aiohttp.request"]  # scheme and host as the browser used them (proxy-aware)
        self.sockets[sid] = Socket(ip=client_ip(request), base=f"{request.scheme}://{request.host}")

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        socket = self.sockets.pop(sid, None)
        if socket is not None and socket.forwarder is not None:
            socket.forwarder.cancel()

    async def session_request(self, sid: str, data: Any = None) -> None:
        socket = self.sockets.get(sid)
        if socket is not None:
            await self._confirm(sid, socket, data.get("session_id") if isinstance(data, dict) else None)

    async def _confirm(self, sid: str, socket: Socket, wanted: Any) -> str:
        found = (self.gateway.transcripts.get(wanted)
                 if isinstance(wanted, str) and 0 < len(wanted) <= MAX_SESSION_ID_CHARS else None)
        resumed = (found if found is not None and found.channel == CHANNEL
                   and Transcripts.resumable(found, self.idle_s) else None)
        cid = resumed.id if resumed is not None else new_conversation_id()
        if socket.forwarder is not None:
            socket.forwarder.cancel()
        socket.conversation_id, socket.last_id = cid, 0
        async with socket.sending:  # the forwarder waits: nothing new goes out before what was missed
            socket.forwarder = asyncio.create_task(self._forward(sid, socket, cid))
            await asyncio.sleep(0)  # subscribed before anything can be said in it
            recent = self.gateway.transcripts.history(cid, limit=RECENT_ON_RESUME) if resumed else []
            for message in recent:  # the buttons rasa-webchat redraws after a reload can still be clicked
                for payload, title in button_titles(message):
                    socket.remember(payload, title)
            await self.sio.emit("session_confirm", cid, to=sid)
            since = self.delivered.get(cid)
            for message in recent:
                if since is not None and message["id"] > since and message["author"] != "shopper":
                    await self._send(sid, socket, message)
            socket.last_id = max([socket.last_id, *(m["id"] for m in recent)])
        return cid

    async def _send(self, sid: str, socket: Socket, message: dict[str, Any]) -> None:
        for uttered in bot_uttered(message, socket.base):
            await self.sio.emit("bot_uttered", uttered, to=sid)
        socket.last_id = message["id"]
        cid = socket.conversation_id or ""
        self.delivered[cid] = max(self.delivered.get(cid, 0), message["id"])
        self.delivered.move_to_end(cid)
        while len(self.delivered) > MAX_TRACKED_CONVERSATIONS:
            self.delivered.popitem(last=False)

    async def _forward(self, sid: str, socket: Socket, cid: str) -> None:
        try:
            async with self.gateway.transcripts.hub.subscribe(cid) as subscription:
                while True:
                    event = await subscription.next()
                    message = event.get("message") if event.get("type") == "message" else None
                    if not message or message.get("author") == "shopper":
                        continue
                    for payload, title in button_titles(message):
                        socket.remember(payload, title)
                    async with socket.sending:
                        if message["id"] > socket.last_id:  # not already sent as missed
                            await self._send(sid, socket, message)
        except SubscriberTooSlow:  # the client reconnects; rasa-webchat keeps what it already showed
            await self.sio.disconnect(sid)

    async def user_uttered(self, sid: str, data: Any = None) -> None:
        socket = self.sockets.get(sid)
        if socket is None:
            return
        message = data.get("message") if isinstance(data, dict) else None
        if message is None:  # rasa-webchat sends its initPayload even when a store set none
            return
        # A plain socket.io client may skip session_request: it gets a conversation all the same.
        cid = socket.conversation_id or await self._confirm(sid, socket, None)
        payload = message if isinstance(message, str) and message.startswith("/") else None
        text = socket.clicked.get(message, message) if payload else message
        try:
            await self.gateway.shopper_message(cid, text, ip=socket.ip, payload=payload, channel=CHANNEL)
        except GatewayError as exc:
            await self.sio.emit("bot_uttered", {"text": str(exc)}, to=sid)
        except Exception:  # never a stack trace to the shopper; the log has it
            log.exception("conversation %s: Socket.IO message failed", cid)
            await self.sio.emit("bot_uttered", {"text": FAILED}, to=sid)


def attach(app: web.Application, settings: Settings) -> SocketIOChannel:
    """Serve the channel at /socket.io/ (rasa-webchat's default socketPath)."""
    channel = SocketIOChannel(app, settings)
    channel.sio.attach(app, socketio_path="socket.io")

    async def close_sockets(_: web.Application) -> None:
        # Before aiohttp waits for open requests: a polling client's pending GET ends now, not after
        # its ping interval.
        for sid in list(channel.sockets):
            await channel.sio.disconnect(sid)
        await channel.sio.shutdown()

    app.on_shutdown.append(close_sockets)
    return channel
