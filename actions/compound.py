"""Two requests in one message: "a black backpack, also do you ship to Canada?".

The NLU gives one intent per message; the action that runs answers its part and hands the other
clause to the one other capability that can answer it without a dialogue of its own (a store-policy
answer after a search or an order request, a search after a policy answer or an order request).
"""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client, knowledge_client
from catalog.index import tokens
from catalog.search import sought_types
from text_tools.entities import extract
from text_tools.lookups import singular

# A question clause after a separator: "…, also do you ship to Canada?", "… and how long does delivery take"
QUESTION = re.compile(
    r"(?:[,;.!?]\s*|\s+-\s+|\s+(?:and|also|plus|btw|oh and)\s+)+(?:(?:and|also|plus|btw|oh|but)\s+)*"
    r"(?P<q>(?:do|does|can|could|how|what|whats|what's|when|where|is|are|will|would|which|who)\b[^?]*\??)\s*$",
    re.IGNORECASE,
)
# A search clause after another request: "where is order 10001? and also show me cast iron pans"
SEARCH = re.compile(
    r"(?:[,;.!?)]\s*|\s+-\s+|\s+(?:and|also|plus|btw|oh and)\s+)+(?:(?:and|also|plus|btw|oh|but)\s+)*"
    r"(?P<s>(?:show me|find me|i'?m looking for|looking for|i need|i want|get me|got any|do you (?:have|sell)|"
    r"any)\b[^?]*)\??\s*$",
    re.IGNORECASE,
)
# What joins two kinds of product asked for at once: "a kettle and a coffee grinder", "tents, sleeping bags".
CONJUNCTION = re.compile(r"\s*(?:,\s*)?(?:\band\b|&|\bplus\b|\bas well as\b)\s*|\s*,\s*", re.IGNORECASE)
MIN_WORDS = 3
# A side question about the product in question ("…, is it steel?") is that product's, not the store's.
ABOUT_IT = re.compile(r"\b(?:it|its|it's|they|them|this one|that one)\b", re.I)


def split_question(text: str) -> tuple[str, str | None]:
    """(the request, the trailing question) or (text, None) when there is no separate question."""
    m = QUESTION.search(text)
    if not m or len(m.group("q").split()) < MIN_WORDS or len(text[: m.start()].split()) < 2:
        return text, None
    return text[: m.start()].strip(), m.group("q").strip()


def answered_by_article(dispatcher: CollectingDispatcher, question: str) -> bool:
    """The help article's answer, said, when the knowledge base is confident of it."""
    answer = knowledge_client.confident_answer(question)
    if answer:
        dispatcher.utter_message(text=answer)
    return answer is not None


def answer_side_question(dispatcher: CollectingDispatcher, question: str) -> list[dict[str, Any]]:
    """The knowledge base's answer to a question asked alongside another request, when it is confident;
    nothing otherwise (the main request has been answered, so a "didn't understand" would mislead)."""
    answered_by_article(dispatcher, question)
    return []


def search_clause(text: str) -> str | None:
    """The trailing clause that asks for products ("…, and also show me cast iron pans"), or None."""
    m = SEARCH.search(text)
    if not m or len(text[: m.start()].split()) < 2:
        return None
    clause = m.group("s").strip()
    engine = catalog_client.engine()
    names_products = engine.parse(clause)[0].category is not None or any(
        singular(w) in engine.type_heads for w in tokens(clause))
    return clause if names_products else None


def product_clauses(text: str) -> list[str]:
    """One clause per kind of product a message asks for when a conjunction separates two kinds ("I need
    a kettle and a coffee grinder" → "I need a kettle", "a coffee grinder"); [text] otherwise."""
    engine = catalog_client.engine()
    found = extract(text, engine.tables)
    heads = sought_types(text, found)
    named = [e for e in found if e["entity"] == "product_type" and str(e["value"]) in heads]
    clauses, start = [], 0
    for before, after in zip(named, named[1:]):
        joint = list(CONJUNCTION.finditer(text, before["end"], after["start"]))
        if before["value"] == after["value"] or not joint:
            continue
        clauses.append(text[start:joint[-1].start()].strip())
        start = joint[-1].end()
    clauses.append(text[start:].strip())
    if len(clauses) < 2 or any(engine.parse(c)[0].category is None for c in clauses):
        return [text]
    return clauses
