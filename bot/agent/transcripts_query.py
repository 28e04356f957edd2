"""Finding conversations: the agent console's filters, kept in the URL so a view can be shared."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from aisle.models import Author, Conversation, ConversationTag, FaqFeedback, Message
from bot.transcripts import iso

PAGE_SIZE = 25
FALLBACK_INTENT = "nlu_fallback"


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _float(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


@dataclass
class Filters:
    date_from: str = ""
    date_to: str = ""
    channel: str = ""
    intent: str = ""
    max_confidence: str = ""  # some shopper message understood with at most this confidence
    fallback: str = ""  # "yes" / "no"
    handoff: str = ""  # "yes" / "no"
    feedback: str = ""  # "helpful" / "unhelpful"
    tag: str = ""
    reviewed: str = ""  # "yes" / "no"
    q: str = ""  # words in any message
    page: int = 1

    @classmethod
    def from_query(cls, query: Any) -> "Filters":
        values = {f.name: str(query.get(f.name, "")).strip()[:200] for f in fields(cls) if f.name != "page"}
        try:
            page = max(1, min(int(query.get("page", "1")), 100_000))
        except ValueError:
            page = 1
        return cls(**values, page=page)

    def query_string(self, **changes: Any) -> str:
        values = {**asdict(self), **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)})

    def statement(self) -> Select[tuple[Conversation]]:
        query = select(Conversation)
        message_of = Message.conversation_id == Conversation.id
        shopper = Message.author == Author.shopper
        if start := _date(self.date_from):
            query = query.where(Conversation.created_at >= datetime.combine(start, time.min, timezone.utc))
        if end := _date(self.date_to):
            query = query.where(Conversation.created_at < datetime.combine(end + timedelta(days=1), time.min,
                                                                           timezone.utc))
        if self.channel:
            query = query.where(Conversation.channel == self.channel)
        if self.intent:
            query = query.where(exists().where(message_of, shopper,
                                               Message.nlu["intent"].as_string() == self.intent))
        if (limit := _float(self.max_confidence)) is not None:
            query = query.where(exists().where(message_of, shopper,
                                               Message.nlu["confidence"].as_float() <= limit))
        if self.fallback in ("yes", "no"):
            happened = exists().where(message_of, shopper, Message.nlu["intent"].as_string() == FALLBACK_INTENT)
            query = query.where(happened if self.fallback == "yes" else ~happened)
        if self.handoff == "yes":
            query = query.where(Conversation.handoff_requested_at.is_not(None))
        elif self.handoff == "no":
            query = query.where(Conversation.handoff_requested_at.is_(None))
        if self.feedback in ("helpful", "unhelpful"):
            query = query.where(exists().where(FaqFeedback.conversation_id == Conversation.id,
                                               FaqFeedback.helpful.is_(self.feedback == "helpful")))
        if self.tag:
            query = query.where(exists().where(ConversationTag.conversation_id == Conversation.id,
                                               ConversationTag.tag == self.tag.lower()))
        if self.reviewed == "yes":
            query = query.where(Conversation.reviewed_at.is_not(None))
        elif self.reviewed == "no":
            query = query.where(Conversation.reviewed_at.is_(None))
        if self.q:
            # The masked text, with % and _ taken literally: a search cannot confirm that an email
            # or phone number occurs anywhere (agents see those masked, so they cannot find them).
            query = query.where(exists().where(message_of, Message.search_text.contains(self.q.lower(),
                                                                                         autoescape=True)))
        return query


@dataclass
class ConversationRow:
    id: str
    channel: str
    created_at: str | None
    last_message_at: str | None
    mode: str
    messages: int
    lowest_confidence: float | None
    handoff: bool
    reviewed: bool
    tags: list[str]
    first_message: str


def rows(session: Session, filters: Filters, limit: int | None = PAGE_SIZE) -> tuple[list[ConversationRow], int]:
    """One page of matching conversations, newest first, and the total count."""
    statement = filters.statement()
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    statement = statement.order_by(Conversation.last_message_at.desc(), Conversation.id)
    if limit is not None:
        statement = statement.offset((filters.page - 1) * limit).limit(limit)
    conversations = session.scalars(statement).all()
    ids = [c.id for c in conversations]
    stats = {r.conversation_id: r for r in session.execute(
        select(Message.conversation_id, func.count(Message.id).label("n"),
               func.min(Message.nlu["confidence"].as_float()).label("lowest"))
        .where(Message.conversation_id.in_(ids)).group_by(Message.conversation_id))}
    firsts = dict(session.execute(
        select(Message.conversation_id, Message.text).where(
            Message.id.in_(select(func.min(Message.id)).where(Message.conversation_id.in_(ids),
                                                              Message.author == Author.shopper)
                           .group_by(Message.conversation_id)))).all())
    tags: dict[str, list[str]] = {}
    for cid, tag in session.execute(select(ConversationTag.conversation_id, ConversationTag.tag)
                                    .where(ConversationTag.conversation_id.in_(ids)).order_by(ConversationTag.tag)):
        tags.setdefault(cid, []).append(tag)
    out = []
    for c in conversations:
        stat = stats.get(c.id)
        out.append(ConversationRow(
            id=c.id, channel=c.channel, created_at=iso(c.created_at), last_message_at=iso(c.last_message_at),
            mode=c.mode.value, messages=stat.n if stat else 0,
            lowest_confidence=round(stat.lowest, 3) if stat and stat.lowest is not None else None,
            handoff=c.handoff_requested_at is not None, reviewed=c.reviewed_at is not None,
            tags=tags.get(c.id, []), first_message=firsts.get(c.id, ""),
        ))
    return out, total


def spreadsheet_safe(text: str) -> str:
    """No formula injection when the CSV is opened in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(conversation_rows: list[ConversationRow], mask: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["conversation", "channel", "started", "last_message", "mode", "messages", "lowest_confidence",
                     "handoff", "reviewed", "tags", "first_message"])
    for r in conversation_rows:
        writer.writerow([r.id, r.channel, r.created_at, r.last_message_at, r.mode, r.messages, r.lowest_confidence,
                         "yes" if r.handoff else "no", "yes" if r.reviewed else "no", "|".join(r.tags),
                         spreadsheet_safe(mask(r.first_message))])
    return out.getvalue()
