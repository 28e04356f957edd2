"""The agent inbox's list rows as people read them: "waiting 3 min", who has the conversation, why."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from aisle.models import Author, Message
from bot.agent.masking import mask
from bot.handoff import Handoffs

PREVIEW_CHARS = 80

# The reasons the bot (actions/handoff.py, actions/fallback.py) and bot/handoff.py give, in words.
REASONS = {"requested": "asked for a person", "repeated_fallback": "the bot did not understand, three times",
           "agent takeover": "an agent took over from the bot"}


def readable(seconds: float) -> str:
    """45 s, 3 min, 2 h 5 min, 3 days."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def last_words(handoffs: Handoffs, conversation_ids: list[str]) -> dict[str, str]:
    """Each conversation's latest shopper message, masked and cut short: what tells the rows apart."""
    with handoffs.transcripts.sessions() as s:
        latest = (select(func.max(Message.id)).where(Message.conversation_id.in_(conversation_ids),
                                                     Message.author == Author.shopper)
                  .group_by(Message.conversation_id))
        found = s.execute(select(Message.conversation_id, Message.text).where(Message.id.in_(latest))).all()
    return {cid: mask(text)[:PREVIEW_CHARS] for cid, text in found}


def rows(handoffs: Handoffs) -> list[dict[str, Any]]:
    """Open conversations, waiting ones first, with the text each list row shows."""
    found = handoffs.inbox()
    said = last_words(handoffs, [row["conversation_id"] for row in found]) if found else {}
    return [{**row,
             "status": "waiting" if row["mode"] == "waiting" else "open",
             "assignee": row["agent"] or "unassigned",
             "wait_text": ("waiting " if row["mode"] == "waiting" else "open ") + readable(row["wait_s"]),
             "reason": REASONS.get(row["reason"] or "", (row["reason"] or "").replace("_", " ")),
             "last_words": said.get(row["conversation_id"], "")}
            for row in found]
