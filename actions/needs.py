"""A need without product words ("my cat keeps scratching up the sofa") answered with products.

The NLU calls such messages out_of_scope, nlu_fallback or an unanswerable faq; before refusing, the
actions ask the catalog whether the message is clearly about one kind of product it sells.
"""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client
from actions.capabilities import declined
from actions.search import run_search
from catalog.documents import category_leaf
from catalog.search import Constraints

# "can you deliver it by drone?": a request for something none of the intents covers is something the
# shop assistant cannot do; say so plainly rather than "I didn't understand" — or show knives for
# "can you engrave my name on the knife?".
CAPABILITY_REQUEST = re.compile(r"^\W*(?:(?:ok|and|so|also|hey|hi)\W+)*(?:can|could|would|will) (?:you|u|ya)\b|"
                                r"\b(?:is it possible|are you able) to\b", re.I)


def answer_need(dispatcher: CollectingDispatcher, text: str) -> list[dict[str, Any]] | None:
    """Products of the category the message is about, or None when it is not clearly about one."""
    if CAPABILITY_REQUEST.search(text):
        return None
    need = catalog_client.engine().need(text)
    if need is None or not need.confident:
        return None
    kind = category_leaf(need.category).lower()
    return run_search(dispatcher, text, Constraints(categories=(need.category,)), new=True,
                      heading=f"Some {kind} that might help")


class ActionOutOfScope(Action):
    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if declined(dispatcher, text):  # "if i send you a photo of my room can you tell me if it fits?"
            return []
        answered = answer_need(dispatcher, text)
        if answered is None:  # "what happens if nobody's home when it turns up?" has its article
            from actions.faq import answer_from_knowledge_base  # late: faq imports this module
            answered = answer_from_knowledge_base(dispatcher, tracker, only_if_confident=True)
        if answered is None:
            dispatcher.utter_message(response="utter_out_of_scope")
        return answered or []
