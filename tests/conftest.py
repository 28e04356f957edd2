"""Shared fixtures: tracker builders for action tests, and the running stack for end-to-end tests."""
from __future__ import annotations

import os
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


def user_event(text: str, intent: str, confidence: float = 0.9, entities: list[dict] | None = None) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "text": text,
        },
    }


def tracker_for(events: list[dict[str, Any]], slots: dict[str, Any] | None = None) -> Tracker:
    latest = next((e for e in reversed(events) if e["event"] == "user"), {})
    return Tracker(
        sender_id="test-conversation",
        slots=slots or {},
        latest_message=latest.get("parse_data", {}),
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """Every real service on free ports over a scratch data dir, shared by the end-to-end modules."""
    if os.environ.get("AISLE_SKIP_E2E") == "1":
        pytest.skip("AISLE_SKIP_E2E=1")
    from tests.e2e_stack import Stack

    stack = Stack.create(tmp_path_factory.mktemp("aisle-e2e"))
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()


TINY_KB = [
    ("Do you ship internationally?", ["Which countries do you ship to?"], "We ship to the US, Canada and the EU."),
    ("What is your return policy?", ["How long do I have to return something?"],
     "You can return most items within 30 days of delivery."),
    ("What payment methods do you accept?", ["Can I pay with PayPal?"], "Cards, PayPal and Apple Pay."),
    ("How do I reset my password?", ["I forgot my password"], "Use the Forgot password link."),
    ("What are your customer service hours?", ["When can I talk to someone?"], "Every day 8 am to 8 pm."),
]


@pytest.fixture
def tiny_kb(tmp_path, monkeypatch):
    """A five-entry published knowledge base in a scratch database, wired into the actions."""
    from aisle import migrate
    from aisle.db import session_factory
    from aisle.models import FaqStatus
    from actions import knowledge_client
    from knowledge.kb import KnowledgeBase
    from knowledge.records import EntryData
    from knowledge.retrieval import FaqRetriever

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    migrate.upgrade(url)
    kb = KnowledgeBase(session_factory(url))
    for question, alternatives, answer in TINY_KB:
        kb.create(EntryData(question, answer, "policies", alternatives, status=FaqStatus.published), "test")
    retriever = FaqRetriever(kb.sessions)
    monkeypatch.setattr(knowledge_client, "retriever", lambda: retriever)
    monkeypatch.setattr(knowledge_client, "knowledge_base", lambda: kb)
    return kb


@pytest.fixture
async def rasa():
    """A stand-in for Rasa's REST webhook, for the in-process web app tests (tests/web_fixtures.py)."""
    from tests.web_fixtures import EchoRasa

    echo = EchoRasa()
    async with echo.server() as server:
        echo.url = str(server.make_url("")).rstrip("/")
        yield echo
