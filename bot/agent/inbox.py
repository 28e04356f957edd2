"""The agent inbox's list rows as people read them: "waiting 3 min", who has the conversation, why."""
from __future__ import annotations

from typing import Any

from bot.handoff import Handoffs

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


def rows(handoffs: Handoffs) -> list[dict[str, Any]]:
    """Open conversations, waiting ones first, with the text each list row shows."""
    return [{**row,
             "status": "waiting" if row["mode"] == "waiting" else "open",
             "assignee": row["agent"] or "unassigned",
             "wait_text": ("waiting " if row["mode"] == "waiting" else "open ") + readable(row["wait_s"]),
             "reason": REASONS.get(row["reason"] or "", (row["reason"] or "").replace("_", " "))}
            for row in handoffs.inbox()]
