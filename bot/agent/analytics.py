"""The numbers on the analytics page, for a date range: volume, containment, fallbacks, handoffs and
waits, intents, low-confidence messages, searches that found nothing, FAQ feedback.

An answer to the order form's question (an email, an order number, a postcode) is no request the NLU
could name, so it often comes back as a fallback; the form took it, so it is counted as a form
answer, not as a fallback."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aisle.models import Author, Conversation, FaqEntry, FaqFeedback, Message
from bot.agent.masking import mask
from aisle.models import as_utc

SEARCH_ACTIONS = {"action_search_products", "action_refine_search"}
LOWEST_SHOWN = 15
FALLBACK = "nlu_fallback"
ORDER_FORM = "order_form"
ORDER_FORM_SLOTS = {"order_number", "order_email", "order_postcode"}
FORM_ANSWER = "order form answer"  # how a form answer is counted among the intents


def form_answer(turn: dict[str, Any] | None) -> bool:
    """The order form ran on this message and took one of its slots from it (valid or not)."""
    return bool(turn) and ORDER_FORM in turn.get("actions", []) and bool(ORDER_FORM_SLOTS & set(turn.get("slots", {})))


def counted_intent(nlu: dict[str, Any], turn: dict[str, Any] | None) -> str | None:
    intent = nlu.get("intent")
    return FORM_ANSWER if intent == FALLBACK and form_answer(turn) else intent


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time.min, timezone.utc),
            datetime.combine(end + timedelta(days=1), time.min, timezone.utc))


def report(session: Session, start: date, end: date) -> dict[str, Any]:
    since, until = day_range(start, end)
    conversations = session.execute(
        select(Conversation.id, Conversation.created_at, Conversation.handoff_requested_at,
               Conversation.agent_joined_at)
        .where(Conversation.created_at >= since, Conversation.created_at < until)).all()
    ids = [c.id for c in conversations]
    per_day = Counter(as_utc(c.created_at).date().isoformat() for c in conversations)
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    handed = [c for c in conversations if c.handoff_requested_at is not None]
    waits = [(as_utc(c.agent_joined_at) - as_utc(c.handoff_requested_at)).total_seconds()
             for c in handed if c.agent_joined_at is not None]

    shopper = session.execute(
        select(Message.id, Message.conversation_id, Message.text, Message.nlu, Message.turn, Message.created_at)
        .where(Message.conversation_id.in_(ids), Message.author == Author.shopper)).all() if ids else []
    understood = [m for m in shopper if m.nlu]
    intents = Counter(counted_intent(m.nlu, m.turn) for m in understood)
    fallback_conversations = {m.conversation_id for m in understood if counted_intent(m.nlu, m.turn) == FALLBACK}
    lowest = sorted((m for m in understood if m.nlu.get("confidence") is not None
                     and counted_intent(m.nlu, m.turn) != FORM_ANSWER),
                    key=lambda m: m.nlu["confidence"])[:LOWEST_SHOWN]
    no_results = [m for m in shopper if m.turn and SEARCH_ACTIONS & set(m.turn.get("actions", []))
                  and m.turn.get("slots", {}).get("shown_skus") == []]

    feedback = session.execute(
        select(FaqEntry.id, FaqEntry.question, FaqFeedback.helpful, func.count(FaqFeedback.id))
        .join(FaqEntry, FaqEntry.id == FaqFeedback.entry_id)
        .where(FaqFeedback.created_at >= since, FaqFeedback.created_at < until)
        .group_by(FaqEntry.id, FaqEntry.question, FaqFeedback.helpful)).all()
    helpful = sum(n for *_, ok, n in feedback if ok)
    unhelpful = sum(n for *_, ok, n in feedback if not ok)

    total = len(conversations)
    return {
        "start": start.isoformat(), "end": end.isoformat(),
        "conversations": total,
        "per_day": {"labels": days, "values": [per_day.get(d, 0) for d in days]},
        "containment_rate": (total - len(handed)) / total if total else None,
        "handoff_rate": len(handed) / total if total else None,
        "fallback_rate": len(fallback_conversations) / total if total else None,
        "fallback_message_rate": intents.get(FALLBACK, 0) / len(understood) if understood else None,
        "form_answers": intents.get(FORM_ANSWER, 0),
        "wait_s": {"answered": len(waits), "median": median(waits) if waits else None,
                   "max": max(waits) if waits else None},
        "top_intents": intents.most_common(12),
        "lowest_confidence": [{"conversation_id": m.conversation_id, "text": mask(m.text),
                               "intent": m.nlu.get("intent"), "confidence": round(m.nlu["confidence"], 3)}
                              for m in lowest],
        "no_result_searches": [{"conversation_id": m.conversation_id, "text": mask(m.text)} for m in no_results][:50],
        "faq_feedback": {"helpful": helpful, "unhelpful": unhelpful,
                         "worst": sorted(({"question": q, "unhelpful": n} for _, q, ok, n in feedback if not ok),
                                         key=lambda x: -x["unhelpful"])[:10]},
    }
