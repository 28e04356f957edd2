"""Transcript retention: conversations older than N days are deleted with their messages, tags, notes,
corrections (database cascades), their Rasa tracker events, and unanswered-question records."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from aisle.models import Conversation, FaqMiss
from bot.rasa_client import RASA_EVENTS

log = logging.getLogger(__name__)
BATCH = 500


def purge(sessions: sessionmaker[Session], days: int, now: datetime | None = None) -> int:
    """Delete what is older than ``days`` (0 keeps everything); returns conversations deleted."""
    if days <= 0:
        return 0
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    deleted = 0
    with sessions() as s:
        while ids := list(s.scalars(select(Conversation.id).where(Conversation.last_message_at < cutoff)
                                    .limit(BATCH))):
            try:
                s.execute(delete(RASA_EVENTS).where(RASA_EVENTS.c.sender_id.in_(ids)))
            except (OperationalError, ProgrammingError):  # no tracker table in this database
                s.rollback()
            s.execute(delete(Conversation).where(Conversation.id.in_(ids)))
            s.commit()
            deleted += len(ids)
        s.execute(delete(FaqMiss).where(FaqMiss.created_at < cutoff))
        s.commit()
    if deleted:
        log.info("retention: deleted %d conversations older than %d days", deleted, days)
    return deleted
