"""The widget's WebSocket channel (``GET /ws``): one socket per open chat, JSON text frames.

Client → server
  {"type": "hello", "token": "..."?}   first frame; a token from an earlier welcome resumes that
                                      conversation, anything else (none, forged, ended, idle for
                                      AISLE_WIDGET_IDLE_MINUTES) starts a new one and says nothing more
  {"type": "message", "text": "...", "payload": "/intent{...}"?, "client_id": "..."?}
  {"type": "typing", "on": bool}                   the shopper is typing (shown to the agent)
  {"type": "cancel_handoff"}                        while waiting for a person: back to the bot
  {"type": "end"}                                   the shopper ends the chat: it is never resumed
  {"type": "ping"}
Server → client
  {"type": "welcome", "conversation_id", "token", "idle_expiry_s", "history": [message...], "mode": {...},
   "max_message_chars"}
  {"type": "message", "message": {id, author, text, created_at, client_id, buttons?, cards?, notice?}}
  {"type": "typing", "on": bool, "author"?: "agent", "agent"?: display name}   the bot or the agent
  {"type": "mode", "mode": "bot"|"waiting"|"agent", "queue_position"?, "expected_wait_s"?, "agent"?}
  {"type": "error", "code", "message", "client_id"?}
  {"type": "ended"}                                 the chat was ended (from this or another tab)
  {"type": "pong"}
A reload or reconnect sends hello with the stored token and gets the whole history back; the widget
resends messages that never came back, and ``client_id`` makes that resend harmless. Only pages of
the web app's own origin or of AISLE_WIDGET_ORIGINS may open the socket.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web
from yarl import URL

from aisle.models import Author, ConversationMode
from bot.conversation_tokens import ConversationTokens
from bot.gateway import Gateway, GatewayError, max_body_bytes
from bot.handoff import Handoffs
from bot.hub import Hub, SubscriberTooSlow

log = logging.getLogger(__name__)
MAX_FRAME_BYTES = 16 * 1024  # the agent console's socket; the widget's is sized from the message limit
HELLO_TIMEOUT_S = 10
HEARTBEAT_S = 25
MAX_BAD_FRAMES = 20  # a client that keeps sending garbage is disconnected
TYPING_GAP_S = 1.0  # the widget repeats "typing" every 3 s; faster frames are dropped
NOTICE_ENDED = "The shopper ended the chat."


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


def allowed_origin(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Only the store's own pages may run the assistant in their visitors' browsers. Browsers always
    send Origin on a WebSocket handshake; a client without one is not a browser (and could send any
    Origin it liked), so it is not what this check is about."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return own_origin(request, origin) or origin.strip().rstrip("/").lower() in allowed


def own_origin(request: web.Request, origin: str) -> bool:
    """Scheme, host and port all match this request's URL (behind a trusted TLS proxy: https and the
    public host, so https://shop.example is not mistaken for a cross-site http://shop.example:80)."""
    try:
        url = URL(origin)
        return (url.host is not None and url.scheme == request.scheme and url.host == request.url.host
                and url.port == request.url.port)
    except (ValueError, TypeError):  # a malformed Origin is not ours
        return False


async def send_json(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    if not ws.closed:
        await ws.send_str(json.dumps(frame))


async def read_frame(ws: web.WebSocketResponse, timeout: float | None = None) -> dict[str, Any] | None:
    """The next JSON object frame; None when the socket closed. Raises GatewayError for bad frames."""
    msg = await ws.receive(timeout=timeout)
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return None
    if msg.type is not WSMsgType.TEXT:
        raise GatewayError("bad_frame", "Frames must be JSON text.")
    try:
        frame = json.loads(msg.data)
    except ValueError:
        raise GatewayError("bad_json", "Frames must be JSON text.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise GatewayError("bad_frame", "A frame is a JSON object with a 'type'.")
    return frame


def typing_event(author: str, on: Any, **extra: Any) -> dict[str, Any]:
    """Someone in a live chat started or stopped typing (the others' sockets show it)."""
    return {"type": "typing", "on": bool(on), "author": author, **extra}


def not_from(author: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A ``forward`` view that drops this author's own typing events (nobody sees themselves type)."""
    def view(event: dict[str, Any]) -> dict[str, Any] | None:
        return None if event.get("type") == "typing" and event.get("author") == author else event
    return view


async def forward(ws: web.WebSocketResponse, hub: Hub, topic: str,
                  view: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None) -> None:
    """Everything published on the topic goes to this socket, in order (``view`` may reshape it, or
    drop it by returning None)."""
    try:
        async with hub.subscribe(topic) as subscription:
            while not ws.closed:
                event = await subscription.next()
                shown = view(event) if view else event
                if shown is not None:
                    await send_json(ws, shown)
    except SubscriberTooSlow:
        await ws.close(code=1013, message=b"too far behind; reconnect")


async def websocket_handler(request: web.Request, gateway: Gateway, handoffs: Handoffs, tokens: ConversationTokens,
                            idle_s: float) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=max_body_bytes(gateway.max_message_chars))
    await ws.prepare(request)
    ip = client_ip(request)
    try:
        hello = await read_frame(ws, timeout=HELLO_TIMEOUT_S)
    except (GatewayError, asyncio.TimeoutError):
        hello = {}
    if hello is None:
        return ws
    if hello.get("type") != "hello":
        await send_json(ws, {"type": "error", "code": "hello_first", "message": "Send a hello frame first."})
        await ws.close()
        return ws
    conversation = gateway.transcripts.open(tokens.verify(hello.get("token")), idle_s=idle_s)
    cid = conversation.id
    forwarder = asyncio.create_task(forward(ws, gateway.transcripts.hub, cid, not_from("shopper")))
    await asyncio.sleep(0)  # subscribed before the history is read: nothing falls in between
    await send_json(ws, {"type": "welcome", "conversation_id": cid, "token": tokens.issue(cid),
                         "idle_expiry_s": idle_s, "history": gateway.transcripts.history(cid),
                         "mode": handoffs.status(cid), "max_message_chars": gateway.max_message_chars})
    pending: set[asyncio.Task[Any]] = set()
    bad_frames = 0
    typing_at, typing_on = 0.0, False  # when this socket last said "typing", and whether it still is
    try:
        while not ws.closed:
            try:
                frame = await read_frame(ws)
                if frame is None:
                    break
                kind = frame["type"]
                if kind == "message":
                    # Started in arrival order; the gateway's per-conversation lock keeps that order.
                    task = asyncio.create_task(deliver(ws, gateway, cid, ip, frame))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                elif kind == "typing":
                    # At most one "typing" a second, and one "stopped" after each: a flood goes nowhere.
                    on = bool(frame.get("on"))
                    if (on and time.monotonic() - typing_at >= TYPING_GAP_S) or (not on and typing_on):
                        typing_at, typing_on = (time.monotonic() if on else typing_at), on
                        gateway.transcripts.hub.publish(cid, typing_event("shopper", on))
                elif kind == "cancel_handoff":
                    handoffs.cancel(cid)
                elif kind == "end":
                    end_chat(gateway, handoffs, cid)
                elif kind == "ping":
                    await send_json(ws, {"type": "pong"})
                else:
                    raise GatewayError("unknown_type", f"Unknown frame type {kind[:40]!r}.")
            except GatewayError as exc:
                bad_frames += 1
                await send_json(ws, {"type": "error", "code": exc.code, "message": str(exc)})
                if bad_frames >= MAX_BAD_FRAMES:
                    await ws.close(code=1008, message=b"too many bad frames")
    finally:
        forwarder.cancel()
        if pending:  # replies still get stored, and reach the shopper on reconnect
            await asyncio.gather(*pending, return_exceptions=True)
    return ws


def end_chat(gateway: Gateway, handoffs: Handoffs, cid: str) -> None:
    """The shopper ended the chat: out of the queue, a notice for the agent's transcript, and every
    tab with this conversation open is told to forget it."""
    transcripts = gateway.transcripts
    if not transcripts.end(cid):
        return
    conversation = transcripts.get(cid)
    if conversation is not None and conversation.mode is ConversationMode.waiting:
        handoffs.cancel(cid)
    transcripts.post(cid, Author.system, NOTICE_ENDED, payload={"notice": "ended"})
    transcripts.hub.publish(cid, {"type": "ended"})


async def deliver(ws: web.WebSocketResponse, gateway: Gateway, cid: str, ip: str, frame: dict[str, Any]) -> None:
    try:
        await gateway.shopper_message(cid, frame.get("text"), ip=ip, payload=frame.get("payload"),
                                      client_id=frame.get("client_id"))
    except GatewayError as exc:
        await send_json(ws, {"type": "error", "code": exc.code, "message": str(exc),
                             "client_id": frame.get("client_id")})
    except Exception:  # never a stack trace to the shopper; the log has it
        log.exception("conversation %s: message failed", cid)
        await send_json(ws, {"type": "error", "code": "internal",
                             "message": "Something went wrong on our side. Please try again."})
