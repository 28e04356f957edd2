"""Tracker-fixture tests for the dialogue-core actions."""
from __future__ import annotations

import subprocess
import sys

import pytest

from rasa_sdk.events import SlotSet

from actions.fallback import ActionFallback, consecutive_fallbacks
from actions.handoff import ActionDeclineHuman, ActionHumanHandoff
from actions.complaint import ActionAcknowledgeComplaint
from knowledge.retrieval import FaqAnswer, Match
from tests.conftest import tracker_for, user_event

DOMAIN: dict = {}


def bot(text: str) -> dict:
    return {"event": "bot", "text": text}

pytestmark = pytest.mark.usefixtures("tiny_kb")  # the fallback consults the knowledge base


def test_consecutive_fallbacks_counts_only_the_latest_run():
    events = [
        user_event("asdf", "nlu_fallback"), bot("rephrase"),
        user_event("hi", "greet"), bot("hello"),
        user_event("qwer", "nlu_fallback"), bot("rephrase"),
        user_event("zxcv", "nlu_fallback"),
    ]
    assert consecutive_fallbacks(tracker_for(events)) == 2
    assert consecutive_fallbacks(tracker_for(events[:4])) == 0


async def test_first_fallback_asks_to_rephrase(dispatcher):
    tracker = tracker_for([user_event("blorp", "nlu_fallback")])
    events = await ActionFallback().run(dispatcher, tracker, DOMAIN)
    assert events == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase"]


async def test_a_request_nothing_covers_gets_a_plain_cannot(dispatcher, monkeypatch):
    from actions import fallback

    monkeypatch.setattr(fallback, "answer_from_knowledge_base", lambda *a, **k: None)
    tracker = tracker_for([user_event("can you deliver it by drone tomorrow?", "nlu_fallback")])
    assert await ActionFallback().run(dispatcher, tracker, DOMAIN) == []
    assert "not something I can do" in dispatcher.messages[0]["text"]


async def test_fallback_on_another_language_says_english_only(dispatcher):
    tracker = tracker_for([user_event("où est ma commande", "nlu_fallback")])
    await ActionFallback().run(dispatcher, tracker, DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_english_only"]


async def test_second_fallback_in_a_row_offers_a_human(dispatcher):
    tracker = tracker_for([
        user_event("blorp", "nlu_fallback"), bot("rephrase"), user_event("wibble", "nlu_fallback"),
    ])
    events = await ActionFallback().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("human_offered", True)]
    assert [m["response"] for m in dispatcher.messages] == ["utter_offer_human"]


async def test_fallback_after_an_understood_message_starts_over(dispatcher):
    tracker = tracker_for([
        user_event("blorp", "nlu_fallback"), bot("rephrase"), user_event("hi", "greet"),
        bot("hello"), user_event("wibble", "nlu_fallback"),
    ])
    await ActionFallback().run(dispatcher, tracker, DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase"]


async def test_handoff_asks_the_gateway_for_a_person_and_clears_the_offer(dispatcher):
    tracker = tracker_for([user_event("a person please", "human_handoff")], {"human_offered": True})
    events = await ActionHumanHandoff().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("human_offered", False)]
    assert "bring in a person" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["custom"] == {"type": "handoff", "reason": "requested"}


async def test_not_understood_even_after_the_offer_hands_off(dispatcher):
    tracker = tracker_for([
        user_event("blorp", "nlu_fallback"), bot("rephrase"), user_event("wibble", "nlu_fallback"),
        bot("offer"), user_event("zzxq", "nlu_fallback"),
    ], {"human_offered": True})
    events = await ActionFallback().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("human_offered", False)]
    assert dispatcher.messages[0]["custom"] == {"type": "handoff", "reason": "repeated_fallback"}


async def test_declining_the_offer_clears_it(dispatcher):
    tracker = tracker_for([user_event("no", "deny")], {"human_offered": True})
    events = await ActionDeclineHuman().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("human_offered", False)]
    assert dispatcher.messages[0]["response"] == "utter_human_declined"


async def test_a_complaint_gets_an_apology_and_the_offer_of_a_person(dispatcher, monkeypatch):
    monkeypatch.setattr("actions.complaint.knowledge_client.answer", lambda text: FaqAnswer("none", 0.1))
    tracker = tracker_for([user_event("the box arrived crushed", "complain")])
    events = await ActionAcknowledgeComplaint().run(dispatcher, tracker, DOMAIN)
    assert "sorry" in dispatcher.messages[0]["text"].lower()
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert events == [SlotSet("human_offered", True)]


async def test_a_complaint_with_a_help_article_gets_it_before_the_offer_of_a_person(dispatcher, monkeypatch):
    article = Match(7, "My item arrived damaged", "Send us a photo within 14 days for a replacement.", 0.9)
    monkeypatch.setattr("actions.complaint.knowledge_client.answer", lambda text: FaqAnswer("answer", 0.9, [article]))
    tracker = tracker_for([user_event("my parcel came totally smashed, what do i do", "complain")])
    events = await ActionAcknowledgeComplaint().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["text"] == "I'm sorry about that. " + article.answer
    assert [b["payload"] for b in dispatcher.messages[1]["buttons"]] == ["/affirm", "/deny"]
    assert events == [SlotSet("human_offered", True)]


async def test_a_complaint_that_asks_for_a_person_hands_over_without_asking_again(dispatcher):
    text = "that link never arrives. this is useless, get me a human please"
    tracker = tracker_for([user_event(text, "complain")])
    events = await ActionAcknowledgeComplaint().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["custom"] == {"type": "handoff", "reason": "requested"}
    assert events == [SlotSet("human_offered", False)]


THREADS_CHECK = """
import faiss, numpy, scipy.linalg
from threadpoolctl import threadpool_info
from actions.__main__ import limit_native_threads
limit_native_threads(1)
print(sorted({(pool["internal_api"], pool["num_threads"]) for pool in threadpool_info()}))
"""


def test_the_action_server_runs_faiss_and_blas_on_one_thread():
    # Thread pools per core wait on each other and spin on a busy 2-core box (actions/__main__.py).
    result = subprocess.run([sys.executable, "-c", THREADS_CHECK], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[('openblas', 1), ('openmp', 1)]", result.stdout
