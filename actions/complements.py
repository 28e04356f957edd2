"""What goes with a product: "what would go well with it?", "what do people usually buy with the Trekker 2
tent?" are answered with what shoppers bought together with it, whichever intent the NLU heard."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client, recommend_client
from actions.presenters import results_message
from actions.references import IT, named_model, referenced_products, shown
from catalog.documents import ProductView

COUNT = 5
GOES_WITH = re.compile(r"\b(?:go(?:es)?(?: well| nicely)? with|to go with|pairs? (?:well |nicely )?with|"
                       r"(?:buy|bought|get|use)\w* (?:\w+ )?with (?:it|that|this|them|the|my|a|an)\b|"
                       r"accessor(?:y|ies) for)", re.IGNORECASE)


def source_product(tracker: Tracker, text: str) -> ProductView | None:
    """The product the message asks about: named, pointed at, or the top one on screen for "it"."""
    named = named_model(text)
    if named is not None:
        return named
    referenced = referenced_products(tracker)
    if referenced:
        return referenced[0]
    listed = shown(tracker)
    return next(iter(catalog_client.products(listed[:1])), None) if listed and IT.search(text) else None


def answer_goes_with(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]] | None:
    """What is bought together with the product asked about; None when the message asks no such thing,
    or nothing is known to go with it (the caller answers as it would have)."""
    text = tracker.latest_message.get("text") or ""
    if not GOES_WITH.search(text):
        return None
    source = source_product(tracker, text)
    if source is None:
        return None
    engine = catalog_client.engine()
    exclude = [v.sku for v in engine.model_variants(source.sku)]
    exclude += [line.sku for line in catalog_client.cart_summary(tracker.sender_id).lines]
    picks = [p for p in recommend_client.recommender().bought_together(source.sku, COUNT, exclude=exclude)
             if p.key in engine.by_sku]
    if not picks:
        return None
    items = [engine.by_sku[p.key].as_result(p.score) for p in picks]
    dispatcher.utter_message(**results_message(f"Often bought with the {source.title.split(',')[0]}:", items,
                                               reasons=[p.reason for p in picks]))
    return [SlotSet("shown_skus", [p.key for p in picks]), SlotSet("focus_sku", None)]
