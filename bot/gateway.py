"""The conversation gateway: every shopper message passes here, whatever the channel.

It checks limits, stores the message, relays it to Rasa unless a person has the conversation,
stores the bot's replies with what the NLU understood and what the bot did, starts a handoff when
the bot asks for one, and publishes everything live. Messages of one conversation are handled one
at a time, in arrival order.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine

from aisle import observability as obs
from aisle.models import Author, ConversationMode
from bot.coordination import TurnBusy, TurnLocks
from bot.handoff import Handoffs
from bot.rasa_client import RasaClient, RasaUnavailable, read_turn
from bot.transcripts import Transcripts

log = logging.getLogger(__name__)
MAX_PAYLOAD_CHARS = 1000
MAX_CLIENT_ID_CHARS = 64
# One character of a message or payload takes at most 12 bytes of JSON (an escaped surrogate pair such as
# "\ud83d\ude00"); the rest of a frame or body (type, sender, client id, keys) fits in 1 KB.
JSON_BYTES_PER_CHAR = 12
ENVELOPE_BYTES = 1024
UNAVAILABLE_NOTICE = ("Sorry, one moment: part of the assistant is restarting and couldn't answer that. "
                      "Please send it again in a few seconds.")
SLOW_NOTICE = ("Sorry, one moment: that is taking much longer than it should. "
               "Please send it again in a little while.")
NOTICE_PAYLOAD = {"notice": "unavailable"}


class GatewayError(ValueError):
    """A message the gateway refuses; ``code`` is machine-readable, the text is for the shopper."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RateLimits:
    """Moving-window message limits per conversation and per client IP (limits' syntax: "30/minute")."""

    def __init__(self, per_conversation: str, per_ip: str, storage_uri: str = "memory://") -> None:
        try:
            self.per_conversation, self.per_ip = parse(per_conversation), parse(per_ip)
        except ValueError as exc:
            raise ValueError(f"AISLE_RATE_PER_CONVERSATION / AISLE_RATE_PER_IP: {exc}") from None
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def check(self, conversation_id: str, ip: str) -> None:
        if not self._limiter.hit(self.per_ip, "ip", ip):
            raise GatewayError("rate_limited", "Too many messages from your network. Please wait a minute.")
        if not self._limiter.hit(self.per_conversation, "conversation", conversation_id):
            raise GatewayError("rate_limited", "You're sending messages very fast. Please wait a moment.")


@dataclass
class BotTurn:
    """Rasa's REST replies folded into transcript messages: product cards join the text they follow."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    handoff_reason: str | None = None

    @classmethod
    def from_replies(cls, replies: list[dict[str, Any]]) -> "BotTurn":
        turn = cls()
        for reply in replies:
            custom = reply.get("custom") if isinstance(reply.get("custom"), dict) else None
            if custom and custom.get("type") == "handoff":
                turn.handoff_reason = str(custom.get("reason") or "requested")
                continue
            # Rasa sends utter_message(text=..., json_message=...) as two replies; the payload belongs
            # with its text (a message of its own would be an empty bubble in text-first clients).
            if custom and turn.messages and not reply.get("text"):
                last = turn.messages[-1][1]
                if "cards" not in last and "custom" not in last:
                    if custom.get("type") == "product_cards":
                        last.update(cards=custom.get("products") or [], intro=custom.get("intro"))
                    else:
                        last["custom"] = custom
                    continue
            payload: dict[str, Any] = {}
            if reply.get("buttons"):
                payload["buttons"] = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                                      for b in reply["buttons"]]
            if custom and custom.get("type") == "product_cards":
                payload.update(cards=custom.get("products") or [], intro=custom.get("intro"))
            elif custom:
                payload["custom"] = custom
            if reply.get("image"):
                payload["image"] = str(reply["image"])
            turn.messages.append((str(reply.get("text") or ""), payload))
        return turn


def max_body_bytes(max_message_chars: int) -> int:
    """The largest chat API body or widget frame a valid message can need; anything bigger is refused
    unread (a 2 MB body is not parsed to find out that its message is too long)."""
    return (max_message_chars + MAX_PAYLOAD_CHARS) * JSON_BYTES_PER_CHAR + ENVELOPE_BYTES


def validate(text: Any, payload: Any, client_id: Any, max_chars: int) -> tuple[str, str | None, str | None]:
    if not isinstance(text, str) or not text.strip():
        raise GatewayError("empty", "Type a message first.")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):  # a lone surrogate cannot be stored as UTF-8
        raise GatewayError("bad_text", "That message has characters I can't read. Could you type it again?")
    if len(text) > max_chars:
        raise GatewayError("too_long", f"That message is too long: please keep it under {max_chars} characters.")
    if payload is not None and (not isinstance(payload, str) or not payload.startswith("/")
                                or len(payload) > MAX_PAYLOAD_CHARS):
        raise GatewayError("bad_payload", "That button payload is not valid.")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_CHARS):
        raise GatewayError("bad_frame", f"'client_id' must be a string of 1-{MAX_CLIENT_ID_CHARS} characters.")
    return text.strip(), payload, client_id


@dataclass
class Gateway:
    transcripts: Transcripts
    handoffs: Handoffs
    rasa: RasaClient
    engine: Engine
    limits: RateLimits
    max_message_chars: int
    turns: TurnLocks

    async def shopper_message(self, conversation_id: str, text: Any, *, ip: str, payload: Any = None,
                              client_id: Any = None, channel: str | None = None) -> list[dict[str, Any]]:
        """Handle one shopper message; returns the bot's stored replies (empty while a person has it).
        With ``channel``, a conversation under an id the channel chose is created, but only for a message
        that passed every check: a refused one leaves nothing behind."""
        text, payload, client_id = validate(text, payload, client_id, self.max_message_chars)
        if client_id and self.transcripts.by_client_id(conversation_id, client_id):
            return []  # a resend after a reconnect: already handled
        self.limits.check(conversation_id, ip)
        if channel:
            self.transcripts.ensure(conversation_id, channel)
        obs.TURNS.labels(obs.bounded(channel or "widget", obs.CHANNELS)).inc()
        try:
            with obs.STAGE_SECONDS.labels("gateway").time():
                async with self.turns.hold(conversation_id):
                    return await self._take_turn(conversation_id, text, payload, client_id, ip)
        except TurnBusy as exc:
            log.warning("%s", exc)
            raise GatewayError("busy", "Still working on your previous message. Please send this one again "
                                       "in a moment.") from None
        except GatewayError:
            raise
        except Exception:  # the channel logs it and tells the shopper; counted here once for all channels
            obs.FAILURES.labels("internal").inc()
            raise

    async def _take_turn(self, conversation_id: str, text: str, payload: str | None,
                         client_id: str | None, ip: str) -> list[dict[str, Any]]:
        posted = self.transcripts.post_shopper_message(conversation_id, text, client_id=client_id,
                                                       payload={"postback": payload} if payload else None)
        if posted is None:  # e.g. from a second tab after "end chat"
            raise GatewayError("ended", "This chat has ended. Reload the page to start a new one.")
        stored, conversation = posted
        if conversation.mode is not ConversationMode.bot:
            return []
        hub = self.transcripts.hub
        hub.publish(conversation_id, {"type": "typing", "on": True})
        try:
            return await self._ask_bot(conversation_id, payload or text, stored["id"], conversation.rasa_event_id, ip)
        finally:
            hub.publish(conversation_id, {"type": "typing", "on": False})

    async def _ask_bot(self, conversation_id: str, text: str, message_id: int,
                       after_event_id: int, ip: str) -> list[dict[str, Any]]:
        try:
            # The client address goes along so the order actions can slow a guessing client down
            # however many conversations it opens (actions/orders.py).
            with obs.STAGE_SECONDS.labels("rasa").time():
                answer = await self.rasa.send(conversation_id, text, metadata={"client": ip})
        except RasaUnavailable as exc:
            log.warning("conversation %s: %s", conversation_id, exc)
            obs.FAILURES.labels(exc.kind).inc()
            return [self.transcripts.post(conversation_id, Author.system,
                                          SLOW_NOTICE if exc.timed_out else UNAVAILABLE_NOTICE, payload=NOTICE_PAYLOAD)]
        trace = await asyncio.to_thread(read_turn, self.engine, conversation_id, after_event_id)
        trace.server = answer.server
        problem = kind = None
        if trace.nlu is not None and not trace.nlu.get("intent"):
            # Rasa parses to an empty intent when it cannot reach the NLU server; its fallback reply
            # ("could you tell me again?") would blame the shopper for our outage.
            problem, kind = "Rasa could not reach the NLU server", "nlu_unreachable"
        elif not answer.replies:
            # Every rule answers something; Rasa drops a custom action's replies when the action server
            # is down, which would leave the shopper in silence.
            problem, kind = "the bot said nothing (is the action server down?)", "bot_silent"
        if problem:
            log.warning("conversation %s: %s", conversation_id, problem)
            obs.FAILURES.labels(kind).inc()
            return self.transcripts.record_turn(conversation_id, message_id, trace, Author.system,
                                                [(UNAVAILABLE_NOTICE, NOTICE_PAYLOAD)])
        turn = BotTurn.from_replies(answer.replies)
        posted = self.transcripts.record_turn(conversation_id, message_id, trace, Author.bot,
                                              [(body, extra or None) for body, extra in turn.messages])
        if turn.handoff_reason:
            self.handoffs.request(conversation_id, turn.handoff_reason)
        return posted
