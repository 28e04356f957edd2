"""The knowledge base as the actions see it: answers to questions, feedback and unanswered questions.

One retriever per action-server process, created on first use; it follows the database, so a
published edit is served on the next question without a restart.
"""
from __future__ import annotations

from functools import lru_cache

from aisle.db import session_factory
from knowledge.kb import KnowledgeBase
from knowledge.retrieval import FaqAnswer, FaqRetriever


@lru_cache(maxsize=1)
def retriever() -> FaqRetriever:
    return FaqRetriever(session_factory())


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    return KnowledgeBase(session_factory())


def warm_up() -> None:
    retriever().index()


def answer(question: str) -> FaqAnswer:
    return retriever().answer(question)


def confident_answer(question: str) -> str | None:
    """The answer of the one article the knowledge base is confident of, or None."""
    result = answer(question)
    return result.best.answer if result.kind == "answer" and result.best else None


def entry_answer(entry_id: int) -> tuple[str, str] | None:
    """(question, answer) of a published entry, for a "did you mean" button."""
    index = retriever().index()
    found = next((e for e in index.entries if e["id"] == entry_id), None)
    return (found["question"], found["answer"]) if found else None


def record_feedback(entry_id: int, helpful: bool, conversation_id: str) -> None:
    knowledge_base().record_feedback(entry_id, helpful, conversation_id)


def record_miss(question: str, result: FaqAnswer, conversation_id: str) -> None:
    best = result.best
    knowledge_base().record_miss(question, best.entry_id if best else None, result.confidence, conversation_id)
