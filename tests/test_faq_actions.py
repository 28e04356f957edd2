"""Tracker-fixture tests of the FAQ actions over a tiny real knowledge base (real MiniLM encoder)."""
from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.fallback import ActionFallback
from actions.faq import ActionFaq, ActionFaqFeedback, NO_ANSWER
from aisle.models import FaqEntry, FaqFeedback, FaqMiss
from tests.conftest import tracker_for, user_event

DOMAIN: dict = {}


def entry_id(kb, question: str) -> int:
    with kb.sessions() as s:
        return s.scalars(select(FaqEntry.id).where(FaqEntry.question == question)).one()


async def test_a_clear_question_gets_the_answer_and_a_feedback_question(dispatcher, tiny_kb):
    tracker = tracker_for([user_event("which countries do you deliver to?", "faq")])
    events = await ActionFaq().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["text"] == "We ship to the US, Canada and the EU."
    assert [b["payload"] for b in dispatcher.messages[1]["buttons"]] == ["/affirm", "/deny"]
    wanted = str(entry_id(tiny_kb, "Do you ship internationally?"))
    assert events == [SlotSet("faq_entry_id", wanted), SlotSet("faq_feedback_asked", True),
                      SlotSet("human_offered", False)]


async def test_a_did_you_mean_button_answers_that_entry(dispatcher, tiny_kb):
    wanted = entry_id(tiny_kb, "How do I reset my password?")
    tracker = tracker_for([user_event("/faq", "faq", entities=[{"entity": "faq_id", "value": str(wanted)}])])
    await ActionFaq().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["text"] == "Use the Forgot password link."


async def test_an_unanswerable_question_is_declined_recorded_and_a_person_offered(dispatcher, tiny_kb):
    tracker = tracker_for([user_event("do you sell used cars", "faq")])
    events = await ActionFaq().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["text"] == NO_ANSWER
    assert events == [SlotSet("human_offered", True)]
    with tiny_kb.sessions() as s:
        assert [m.question for m in s.scalars(select(FaqMiss))] == ["do you sell used cars"]


@pytest.mark.parametrize("intent, helpful", [("affirm", True), ("deny", False)])
async def test_feedback_is_stored_per_entry(dispatcher, tiny_kb, intent, helpful):
    wanted = entry_id(tiny_kb, "What is your return policy?")
    tracker = tracker_for([user_event("yes" if helpful else "no", intent)],
                          {"faq_entry_id": str(wanted), "faq_feedback_asked": True})
    events = await ActionFaqFeedback().run(dispatcher, tracker, DOMAIN)
    with tiny_kb.sessions() as s:
        stored = s.scalars(select(FaqFeedback)).one()
    assert (stored.entry_id, stored.helpful, stored.conversation_id) == (wanted, helpful, "test-conversation")
    assert (SlotSet("human_offered", True) in events) is not helpful


async def test_the_fallback_answers_a_confident_help_question(dispatcher, tiny_kb):
    tracker = tracker_for([user_event("I forgot my password", "nlu_fallback")])
    await ActionFallback().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["text"] == "Use the Forgot password link."
