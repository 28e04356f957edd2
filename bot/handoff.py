"""Human handoff: the queue, an agent taking a conversation, agent messages, handing back.

All state lives in the ``conversations`` table, so it survives a restart of any service; every change
is published to the conversation's sockets and to ``QUEUE_TOPIC`` for agent consoles. The agent
console drives ``take``/``agent_message``/``hand_back``; the gateway drives ``request``/``cancel``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import case, func, select, update

from aisle import observability as obs
from aisle.models import Author, Conversation, ConversationMode, as_utc
from bot.console.accounts import display_names
from bot.hub import QUEUE_TOPIC
from bot.transcripts import Transcripts, iso

log = logging.getLogger(__name__)
WAIT_SAMPLE = 20  # recent handoffs the expected wait is averaged over
WAIT_WINDOW = timedelta(days=7)
MAX_AGENT_MESSAGE = 4000  # characters in one agent message (and so in one canned reply)

NOTICE_REQUESTED = "I've asked a person from our team to join. You can keep typing; they'll see everything."
# {agent} is the staff member's display name: shoppers never see logins (bot/console/accounts.py).
NOTICE_JOINED = "{agent} from our team joined the chat."
NOTICE_HANDED_BACK = "{agent} handed you back to the Aisle assistant. Ask me anything."
NOTICE_CLOSED = "{agent} closed the chat. The Aisle assistant is here if you need anything else."
NOTICE_CANCELLED = "OK, no person needed: you're back with the Aisle assistant."


class HandoffError(RuntimeError):
    """The conversation is not in a state that allows this step (or belongs to another agent)."""


@dataclass
class Handoffs:
    transcripts: Transcripts

    def status(self, conversation_id: str) -> dict[str, Any]:
        """The mode as the shopper sees it, with queue position and expected wait while waiting."""
        with self.transcripts.sessions() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                raise HandoffError(f"no conversation {conversation_id!r}")
            agent = display_names(s, {c.agent})[c.agent] if c.agent else None
            out: dict[str, Any] = {"type": "mode", "mode": c.mode.value, "agent": agent}
            if c.mode is ConversationMode.waiting:
                ahead = s.scalar(select(func.count()).select_from(Conversation).where(
                    Conversation.mode == ConversationMode.waiting,
                    Conversation.handoff_requested_at < c.handoff_requested_at))
                out["queue_position"] = int(ahead or 0) + 1
                out["expected_wait_s"] = self._expected_wait(s)
            return out

    def _expected_wait(self, s) -> int | None:  # type: ignore[no-untyped-def]
        since = datetime.now(timezone.utc) - WAIT_WINDOW
        rows = s.execute(select(Conversation.handoff_requested_at, Conversation.agent_joined_at).where(
            Conversation.agent_joined_at.is_not(None), Conversation.handoff_requested_at.is_not(None),
            Conversation.agent_joined_at >= since,
        ).order_by(Conversation.agent_joined_at.desc()).limit(WAIT_SAMPLE)).all()
        waits = [(as_utc(joined) - as_utc(asked)).total_seconds() for asked, joined in rows]
        return round(sum(waits) / len(waits)) if waits else None

    def queue_length(self) -> int:
        with self.transcripts.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Conversation).where(
                Conversation.mode == ConversationMode.waiting)) or 0)

    def queue(self) -> list[dict[str, Any]]:
        """Conversations waiting for a person, longest wait first."""
        now = datetime.now(timezone.utc)
        with self.transcripts.sessions() as s:
            rows = s.scalars(select(Conversation).where(Conversation.mode == ConversationMode.waiting)
                             .order_by(Conversation.handoff_requested_at)).all()
            return [{"conversation_id": c.id, "reason": c.handoff_reason,
                     "requested_at": iso(c.handoff_requested_at),
                     "wait_s": round((now - as_utc(c.handoff_requested_at)).total_seconds())}
                    for c in rows]

    def inbox(self) -> list[dict[str, Any]]:
        """Open conversations for the agent inbox: the waiting ones, longest wait first, then those an
        agent has, longest open first. ``wait_s`` counts from the request while waiting, from the agent
        joining after that."""
        now = datetime.now(timezone.utc)
        with self.transcripts.sessions() as s:
            rows = s.scalars(select(Conversation).where(
                Conversation.mode.in_((ConversationMode.waiting, ConversationMode.agent)))).all()
            since = {c.id: as_utc(c.handoff_requested_at if c.mode is ConversationMode.waiting else c.agent_joined_at)
                     or now for c in rows}
            rows = sorted(rows, key=lambda c: (c.mode is not ConversationMode.waiting, since[c.id]))
            return [{"conversation_id": c.id, "mode": c.mode.value, "agent": c.agent, "reason": c.handoff_reason,
                     "wait_s": round((now - since[c.id]).total_seconds())} for c in rows]

    def _transition(self, conversation_id: str, allowed: tuple[ConversationMode, ...], owner: str | None,
                    **values: Any) -> bool:
        """One conditional UPDATE: the row changes only from an allowed mode (and the agent's own),
        so two agents racing to take a conversation cannot both win."""
        where = [Conversation.id == conversation_id, Conversation.mode.in_(allowed)]
        if owner is not None:
            where.append(Conversation.agent == owner)
        with self.transcripts.sessions() as s:
            changed = s.execute(update(Conversation).where(*where).values(**values)).rowcount
            s.commit()
        return bool(changed)

    def shown_name(self, agent: str) -> str:
        """What the shopper sees for this staff login."""
        with self.transcripts.sessions() as s:
            return display_names(s, {agent})[agent]

    def _announce(self, conversation_id: str, notice: str, kind: str) -> None:
        self.transcripts.post(conversation_id, Author.system, notice, payload={"notice": kind})
        self.transcripts.hub.publish(conversation_id, self.status(conversation_id))
        self.transcripts.hub.publish(QUEUE_TOPIC, {"type": "queue", "queue": self.queue()})

    def request(self, conversation_id: str, reason: str) -> bool:
        """Put the conversation in the queue; False when it is already waiting or with an agent."""
        if not self._transition(conversation_id, (ConversationMode.bot,), None, mode=ConversationMode.waiting,
                                handoff_reason=reason[:64], handoff_requested_at=datetime.now(timezone.utc),
                                agent=None, agent_joined_at=None):
            return False
        log.info("conversation %s handed off (%s)", conversation_id, reason)
        obs.HANDOFFS.inc()
        self._announce(conversation_id, NOTICE_REQUESTED, "handoff_requested")
        return True

    def cancel(self, conversation_id: str) -> bool:
        """The shopper no longer wants a person (only while still waiting)."""
        if not self._transition(conversation_id, (ConversationMode.waiting,), None, mode=ConversationMode.bot):
            return False
        self._announce(conversation_id, NOTICE_CANCELLED, "handoff_cancelled")
        return True

    def take(self, conversation_id: str, agent: str) -> bool:
        """The agent joins a waiting conversation, or takes one over from the bot; False when another
        agent already has it."""
        now = datetime.now(timezone.utc)
        from_bot = Conversation.mode == ConversationMode.bot  # a takeover: it was never queued
        if not self._transition(conversation_id, (ConversationMode.waiting, ConversationMode.bot), None,
                                mode=ConversationMode.agent, agent=agent, agent_joined_at=now,
                                handoff_reason=case((from_bot, "agent takeover"), else_=Conversation.handoff_reason),
                                handoff_requested_at=case((from_bot, now), else_=Conversation.handoff_requested_at)):
            return False
        self._announce(conversation_id, NOTICE_JOINED.format(agent=self.shown_name(agent)), "agent_joined")
        return True

    def agent_message(self, conversation_id: str, agent: str, text: str) -> dict[str, Any]:
        c = self.transcripts.get(conversation_id)
        if c is None or c.mode is not ConversationMode.agent or c.agent != agent:
            raise HandoffError("only the agent who took this conversation can write in it")
        return self.transcripts.post(conversation_id, Author.agent, text, agent=agent,
                                     payload={"agent_name": self.shown_name(agent)})

    def hand_back(self, conversation_id: str, agent: str, *, close: bool = False) -> None:
        """Return the conversation to the bot; its Rasa tracker, and so its context, is untouched."""
        if not self._transition(conversation_id, (ConversationMode.agent,), agent, mode=ConversationMode.bot):
            raise HandoffError("only the agent who took this conversation can hand it back")
        notice = NOTICE_CLOSED if close else NOTICE_HANDED_BACK
        self._announce(conversation_id, notice.format(agent=self.shown_name(agent)),
                       "closed" if close else "handed_back")
