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
MIN_WORDS = 3
# A side question about the product in question ("…, is it steel?") is that product's, not the store's.
ABOUT_IT = re.compile(r"\b(?:it|its|it's|they|them|this one|that one)\b", re.I)


def split_question(text: str) -> tuple[str, str | None]:
    """(the request, the trailing question) or (text, None) when there is no separate question."""
    m = QUESTION.search(text)
    if not m or len(m.group("q").split()) < MIN_WORDS or len(text[: m.start()].split()) < 2:
        return text, None
    return text[: m.start()].strip(), m.group("q").strip()


def answer_side_question(dispatcher: CollectingDispatcher, question: str) -> list[dict[str, Any]]:
    """The knowledge base's answer to a question asked alongside another request, when it is confident;
    nothing otherwise (the main request has been answered, so a "didn't understand" would mislead)."""
    result = knowledge_client.answer(question)
    if result.kind == "answer" and result.best:
        dispatcher.utter_message(text=result.best.answer)
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
