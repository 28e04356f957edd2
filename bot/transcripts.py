"""Conversations and their messages in the database, published live as they are written."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from aisle.models import Author, Conversation, Message, as_utc
from bot.agent.masking import search_text
from bot.console.accounts import DEFAULT_DISPLAY_NAME
from bot.hub import Hub
from bot.rasa_client import TurnTrace

HISTORY_LIMIT = 300


def new_conversation_id() -> str:
    return "c-" + secrets.token_urlsafe(18)  # 144 random bits: the id is the shopper's key to it


def iso(moment: datetime | None) -> str | None:
    moment = as_utc(moment)
    return moment.isoformat() if moment else None


def message_json(m: Message, details: bool = False) -> dict[str, Any]:
    """A message as clients see it: author, text, time and the payload (buttons, cards, notice);
    ``agent`` is the display name the shopper saw, never the login. With ``details`` (agent console)
    also what the NLU understood, what the bot did and which login wrote it."""
    payload = dict(m.payload or {})
    shown = payload.pop("agent_name", None) or (DEFAULT_DISPLAY_NAME if m.agent else None)
    out = {
        "id": m.id, "author": m.author.value, "text": m.text, "created_at": iso(m.created_at),
        "client_id": m.client_id, "agent": shown, **payload,
    }
    if details:
        out.update(nlu=m.nlu, turn=m.turn, agent_login=m.agent)
    return out


def new_message(conversation_id: str, author: Author, text: str, payload: dict[str, Any] | None,
                client_id: str | None = None, agent: str | None = None) -> Message:
    """A message row, with the masked copy of its text that transcript search reads."""
    return Message(conversation_id=conversation_id, author=author, text=text, search_text=search_text(text),
                   payload=payload, client_id=client_id, agent=agent)


@dataclass
class Transcripts:
    sessions: sessionmaker[Session]
    hub: Hub

    def get(self, conversation_id: str) -> Conversation | None:
        with self.sessions() as s:
            return s.get(Conversation, conversation_id)

    def open(self, conversation_id: str | None, channel: str = "web", idle_s: float | None = None) -> Conversation:
        """The conversation with this id, or a new one when the id is unknown or not given, when the
        conversation was ended, or when nothing was said in it for ``idle_s`` seconds."""
        with self.sessions() as s:
            found = s.get(Conversation, conversation_id) if conversation_id else None
            if found is not None and found.channel == channel and self.resumable(found, idle_s):
                return found
            conversation = Conversation(id=new_conversation_id(), channel=channel)
            s.add(conversation)
            s.commit()
            return conversation

    @staticmethod
    def resumable(conversation: Conversation, idle_s: float | None) -> bool:
        """Not ended, and (with ``idle_s``) something was said in it within that many seconds."""
        if conversation.ended_at is not None:
            return False
        if idle_s is None:
            return True
        last = as_utc(conversation.last_message_at or conversation.created_at)
        return last is None or (datetime.now(timezone.utc) - last).total_seconds() < idle_s

    def end(self, conversation_id: str) -> bool:
        """The shopper ended the chat: it is never resumed again (agents still see its transcript).
        False when it had already ended."""
        with self.sessions() as s:
            changed = s.execute(update(Conversation).where(Conversation.id == conversation_id,
                                                           Conversation.ended_at.is_(None))
                                .values(ended_at=datetime.now(timezone.utc))).rowcount
            s.commit()
        return bool(changed)

    def ensure(self, conversation_id: str, channel: str) -> Conversation:
        """Get or create a conversation under an id the channel chose (REST API senders)."""
        with self.sessions() as s:
            if found := s.get(Conversation, conversation_id):
                return found
            conversation = Conversation(id=conversation_id, channel=channel)
            s.add(conversation)
            try:
                s.commit()
            except IntegrityError:  # another app instance created it a moment ago
                s.rollback()
                return s.get_one(Conversation, conversation_id)
            return conversation

    def post(self, conversation_id: str, author: Author, text: str, *, payload: dict[str, Any] | None = None,
             client_id: str | None = None, agent: str | None = None) -> dict[str, Any]:
        """Store one message and publish it to everyone watching the conversation."""
        message = new_message(conversation_id, author, text, payload, client_id=client_id, agent=agent)
        return self._store(conversation_id, [message])[0]

    def post_shopper_message(self, conversation_id: str, text: str, *, payload: dict[str, Any] | None = None,
                             client_id: str | None = None) -> tuple[dict[str, Any], Conversation] | None:
        """Store a shopper's message unless the chat has ended (None then), in one transaction that also
        reads the conversation as it stands with the message in: who answers it (``mode``) and where
        Rasa's events for this turn start. The update comes first, so a takeover cannot land between
        the message and that reading."""
        with self.sessions() as s:
            open_one = (Conversation.id == conversation_id, Conversation.ended_at.is_(None))
            conversation = s.scalars(
                update(Conversation).where(*open_one).values(last_message_at=datetime.now(timezone.utc))
                .returning(Conversation).execution_options(synchronize_session=False)).first()
            if conversation is None:
                return None
            message = new_message(conversation_id, Author.shopper, text, payload, client_id=client_id)
            s.add(message)
            s.commit()
            posted = message_json(message)
        self.hub.publish(conversation_id, {"type": "message", "message": posted})
        return posted, conversation

    def record_turn(self, conversation_id: str, message_id: int, trace: TurnTrace, author: Author = Author.bot,
                    replies: Sequence[tuple[str, dict[str, Any] | None]] = ()) -> list[dict[str, Any]]:
        """Attach what the NLU understood and what the bot did to the shopper's message, and store the
        replies (text, payload), all in one transaction; the replies are published as they are posted."""
        messages = [new_message(conversation_id, author, text, payload) for text, payload in replies]
        return self._store(conversation_id, messages, turn=(message_id, trace))

    def _store(self, conversation_id: str, messages: list[Message],
               turn: tuple[int, TurnTrace] | None = None) -> list[dict[str, Any]]:
        with self.sessions() as s:
            s.add_all(messages)
            changes: dict[str, Any] = {"last_message_at": datetime.now(timezone.utc)} if messages else {}
            if turn:
                message_id, trace = turn
                details = {"nlu": trace.nlu, "turn": trace.turn}
                traced = update(Message).where(Message.id == message_id).values(**details)
                s.execute(traced.execution_options(synchronize_session=False))
                changes["rasa_event_id"] = trace.last_event_id
            s.execute(update(Conversation).where(Conversation.id == conversation_id).values(**changes)
                      .execution_options(synchronize_session=False))
            s.commit()
            posted = [message_json(m) for m in messages]
        for data in posted:
            self.hub.publish(conversation_id, {"type": "message", "message": data})
        return posted

    def by_client_id(self, conversation_id: str, client_id: str) -> dict[str, Any] | None:
        with self.sessions() as s:
            found = s.scalars(select(Message).where(
                Message.conversation_id == conversation_id, Message.client_id == client_id)).first()
            return message_json(found) if found else None

    def history(self, conversation_id: str, limit: int = HISTORY_LIMIT, details: bool = False) -> list[dict[str, Any]]:
        with self.sessions() as s:
            newest = s.scalars(select(Message).where(Message.conversation_id == conversation_id)
                               .order_by(Message.id.desc()).limit(limit)).all()
            return [message_json(m, details) for m in reversed(newest)]
