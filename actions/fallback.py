"""What the bot does when the NLU is not confident: answer from the knowledge base if it is sure,
otherwise ask to rephrase once, then offer a human, then hand off."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client
from actions.cart import SET_QUANTITY, ActionAddToCart, remove_if_asked
from actions.faq import answer_from_knowledge_base
from actions.handoff import hand_off
from actions.needs import CAPABILITY_REQUEST, answer_need
from actions.orders import (CONFIRMS_CANCEL, ActionCancelOrder, order_of, public_status_text, status_text,
                            unlocked_order)
from actions.references import entity_values
from actions.search import ActionRefineSearch, qualifies_only
from text_tools.language import is_foreign

FALLBACK_INTENT = "nlu_fallback"
REPHRASES_BEFORE_OFFER = 1
# "ugh ok, where is it then?" about the order just looked up
WHERE_IS_IT = re.compile(r"\bwhere(?:'s| is)\s+(?:it|that|my (?:order|parcel|package|stuff))\b|"
                         r"\bwhen (?:will|does|is|do) (?:it|they) "
                         r"(?:arrive|get here|come|turn up|be delivered)\b",
                         re.I)
CANNOT = ("Sorry, that's not something I can do here. I can find products, answer questions about the "
          "store, check on an order, or bring in a person from our team.")


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the NLU did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if is_foreign(text):
            dispatcher.utter_message(response="utter_english_only")
            return []
        if tracker.get_slot("cancel_pending") and CONFIRMS_CANCEL.search(text):
            return await ActionCancelOrder().run(dispatcher, tracker, domain)  # "yes, cancel it please"
        if WHERE_IS_IT.search(text) and (order := order_of(tracker)):  # the postcode shows the details too
            unlocked = unlocked_order(tracker) is not None
            dispatcher.utter_message(text=status_text(order) if unlocked else public_status_text(order))
            return []
        removed = await remove_if_asked(dispatcher, tracker)
        if removed is not None:  # "get rid of the candle"
            return removed
        if entity_values(tracker, "quantity") and SET_QUANTITY.search(text) and tracker.get_slot("focus_sku"):
            return await ActionAddToCart().run(dispatcher, tracker, domain)  # "actually make it two"
        rescued = answer_from_knowledge_base(dispatcher, tracker, only_if_confident=True)
        if rescued is not None:  # not understood as an intent, but a confident help-article match
            return rescued
        if tracker.get_slot("search_query") or tracker.get_slot("shown_skus"):
            stated = catalog_client.engine().parse(text)[0]
            priced = stated.category is None and (stated.price_min, stated.price_max) != (None, None)
            if priced or qualifies_only(stated):
                # "nothing over 35 bucks" with products on screen: a limit on those
                return await ActionRefineSearch().run(dispatcher, tracker, domain)
        if CAPABILITY_REQUEST.search(text) and consecutive_fallbacks(tracker) <= REPHRASES_BEFORE_OFFER:
            dispatcher.utter_message(text=CANNOT)  # "can you engrave the knife?" asks for a service, not a knife
            return []
        need = answer_need(dispatcher, text)
        if need is not None:  # "my old dog sleeps on the cold kitchen floor": dog beds
            return need
        if consecutive_fallbacks(tracker) <= REPHRASES_BEFORE_OFFER:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        if tracker.get_slot("human_offered"):  # not understood even after the offer: hand off
            return hand_off(dispatcher, "repeated_fallback")
        dispatcher.utter_message(response="utter_offer_human")
        return [SlotSet("human_offered", True)]
