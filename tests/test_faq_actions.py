"""Tracker-fixture tests of the FAQ actions over a tiny real knowledge base (real MiniLM encoder)."""
from __future__ import annotations

import json

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.fallback import ActionFallback
from actions import knowledge_client
from actions.faq import CANNOT_PROMISE, DID_YOU_MEAN, WHICH_ONE, ActionFaq, ActionFaqFeedback, NO_ANSWER
from aisle.models import FaqEntry, FaqFeedback, FaqMiss, FaqStatus
from knowledge.records import EntryData
from knowledge.retrieval import ANSWER_AT, FaqAnswer, Match
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


async def test_a_follow_up_of_the_article_just_given_is_asked_with_that_articles_question(dispatcher, tiny_kb):
    wanted = str(entry_id(tiny_kb, "How do I reset my password?"))
    follow_up = user_event("I did that already and the email never came", "nlu_fallback")
    events = [user_event("cant log in", "faq"), {"event": "slot", "name": "faq_entry_id", "value": wanted},
              follow_up]
    await ActionFallback().run(dispatcher, tracker_for(events), DOMAIN)
    assert dispatcher.messages[0]["text"] == "Use the Forgot password link."
    alone = CollectingDispatcher()  # the same words with no article just before them
    await ActionFallback().run(alone, tracker_for([follow_up]), DOMAIN)
    assert alone.messages[0]["text"] != "Use the Forgot password link."


GIFT_WRAP = ("Can I send a gift with a message or gift wrap?", ["Do you offer gift wrapping?"],
             "Yes. Gift wrapping is $4.99 per item.")
GIFT_WRAP_AGAIN = ("Do you gift wrap orders?", ["Can you wrap my present?"], "Yes, gift wrapping is $5 per item.")


@pytest.mark.parametrize("question", ["is gift wrapping extra", "gift wrapping"])
async def test_two_entries_answering_one_question_differently_get_a_choice_not_an_answer(dispatcher, tiny_kb,
                                                                                       question):
    """Finding: a second gift-wrapping entry ($5 next to $4.99) and the bot answered either price with
    high confidence. Both entries fit these questions about equally, so the shopper chooses."""
    for q, alternatives, answer in (GIFT_WRAP, GIFT_WRAP_AGAIN):
        tiny_kb.create(EntryData(q, answer, "gifts", alternatives, status=FaqStatus.published), "test")
    result = knowledge_client.answer(question)
    assert result.confidence >= ANSWER_AT and result.ambiguous
    events = await ActionFaq().run(dispatcher, tracker_for([user_event(question, "faq")]), DOMAIN)
    [message] = dispatcher.messages
    assert message["text"] == WHICH_ONE and events == []
    offered = [json.loads(b["payload"].removeprefix("/faq"))["faq_id"] for b in message["buttons"]]
    assert sorted(offered) == sorted(entry_id(tiny_kb, q) for q, _, _ in (GIFT_WRAP, GIFT_WRAP_AGAIN))


async def test_one_gift_wrapping_entry_is_simply_answered(dispatcher, tiny_kb):
    q, alternatives, answer = GIFT_WRAP
    tiny_kb.create(EntryData(q, answer, "gifts", alternatives, status=FaqStatus.published), "test")
    await ActionFaq().run(dispatcher, tracker_for([user_event("is gift wrapping extra", "faq")]), DOMAIN)
    assert dispatcher.messages[0]["text"] == answer


@pytest.mark.parametrize("question,lead", [("can you deliver it by drone tomorrow?", CANNOT_PROMISE),
                                           ("drone delivery tomorrow?", DID_YOU_MEAN)])
async def test_a_request_for_a_service_no_article_confirms_gets_a_plain_no_before_the_near_articles(
        dispatcher, monkeypatch, question, lead):
    near = FaqAnswer("suggest", 0.6, [Match(1, "How long does delivery take?", "3-5 days.", 0.6)])
    monkeypatch.setattr(knowledge_client, "answer", lambda text: near)
    await ActionFaq().run(dispatcher, tracker_for([user_event(question, "faq")]), DOMAIN)
    assert dispatcher.messages[0]["text"] == lead
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["How long does delivery take?"]


async def test_a_policy_question_about_the_products_in_view_is_asked_with_their_kind(dispatcher, tiny_kb,
                                                                                    monkeypatch):
    """"can I still send them back if I open them?" with earbuds on screen: the knowledge base is asked
    about earbuds too, and the better-matching answer is given."""
    from types import SimpleNamespace

    from actions import faq
    from catalog.search import Constraints

    asked = []
    returns = entry_id(tiny_kb, "What is your return policy?")

    def answer(question):
        asked.append(question)
        about_earbuds = question.startswith("earbuds: ")
        score, kind = (ANSWER_AT + 0.05, "answer") if about_earbuds else (ANSWER_AT - 0.3, "none")
        return FaqAnswer(kind, score,
                         [Match(returns, "Which items can't be returned?", "Not opened earbuds.", score)])

    monkeypatch.setattr(faq.knowledge_client, "answer", answer)
    monkeypatch.setattr(faq.catalog_client, "products",
                        lambda skus: [SimpleNamespace(category_leaf="Earbuds")] if skus else [])
    monkeypatch.setattr(faq.catalog_client, "engine",
                        lambda: SimpleNamespace(parse=lambda text: (Constraints(), []),
                                                need=lambda text: None))
    question = "if i open them can i still send them back?"
    tracker = tracker_for([user_event(question, "faq")], {"shown_skus": ["ELEAR-SO101"]})
    await ActionFaq().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["text"] == "Not opened earbuds."
    assert asked == [question, f"earbuds: {question}"]
    asked.clear()  # nothing on screen, or no word pointing at it: asked as written only
    await ActionFaq().run(dispatcher, tracker_for([user_event(question, "faq")]), DOMAIN)
    await ActionFaq().run(dispatcher, tracker_for([user_event("do you ship to canada?", "faq")],
                                                  {"shown_skus": ["ELEAR-SO101"]}), DOMAIN)
    assert asked == [question, "do you ship to canada?"]


async def test_a_search_whose_request_names_nothing_answers_its_policy_question(dispatcher, tiny_kb):
    """"it's a present - can you gift wrap it?" read as a search: the question is what was asked."""
    from actions.search import ActionSearchProducts

    tracker = tracker_for([user_event("it's a present - which countries do you deliver to?", "search_product")])
    assert await ActionSearchProducts().run(dispatcher, tracker, DOMAIN) == []
    assert [m["text"] for m in dispatcher.messages] == ["We ship to the US, Canada and the EU."]


async def test_a_question_to_the_store_heard_as_a_search_is_answered_by_its_article(dispatcher, tiny_kb):
    from actions.search import ActionSearchProducts

    tracker = tracker_for([user_event("do you guys accept paypal?", "search_product")])
    assert await ActionSearchProducts().run(dispatcher, tracker, DOMAIN) == []
    assert [m["text"] for m in dispatcher.messages] == ["Cards, PayPal and Apple Pay."]
