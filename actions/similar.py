"""similar_products: "anything like the second one but cheaper", the Similar button on a card.

The recommendation scorer ranks alternatives of the same kind; search (with relaxation) covers the
case where nothing of that kind fits the stated limits."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client, recommend_client
from actions.presenters import results_message
from actions.product_info import named_product
from actions.faq import answer_from_knowledge_base
from actions.references import ask_which_or_what, referenced_products, shown
from actions.search import (CHEAPER, MORE, PAGE, PRICIER, THAT_BRAND, ActionRefineSearch,
                            ActionSearchProducts, only_qualifies, relaxed_note)
from catalog.search import model_name

# Words that do ask for something alike ("anything like the second one", "alternatives to it").
ALIKE = re.compile(r"\b(?:similar|alike|like (?:the|this|that|it|those|these|them|yours|mine)|alternatives?|"
                   r"instead|comparable|same (?:kind|type|style)|other options)\b", re.IGNORECASE)


class ActionSimilarProducts(Action):
    def name(self) -> str:
        return "action_similar_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if not text.startswith("/"):
            # "can i pay in installments for something like that?" is a policy question
            answered = answer_from_knowledge_base(dispatcher, tracker, only_if_confident=True)
            if answered is not None:
                return answered
            if not ALIKE.search(text):  # the model heard "similar", the message asks for something else
                if catalog_client.engine().parse(text)[0].category:  # "any of the blenders in red?"
                    return await ActionSearchProducts().run(dispatcher, tracker, domain)
                if shown(tracker) and only_qualifies(text):  # "something in brass?" about those on screen
                    return await ActionRefineSearch().run(dispatcher, tracker, domain)
        picked = referenced_products(tracker)
        if shown(tracker) and not picked and (
                THAT_BRAND.search(text) or (MORE.search(text) and not ALIKE.search(text))):
            # "anything similar from a different brand?", "got any others?" with no product picked: the list
            return await ActionRefineSearch().run(dispatcher, tracker, domain)
        # "any alternatives to the Volta Sleep Buds?" with nothing on screen names its product
        on_screen = shown(tracker) or tracker.get_slot("focus_sku")
        named = None if on_screen or text.startswith("/") else named_product(text)
        products = [named] if named else picked
        if not products:
            ask_which_or_what(
                tracker, dispatcher, "Similar to which one? Say \"like the first one\" or tap Similar on a product.",
                "Tell me which product you have in mind and I'll find similar ones.")
            return []
        source = products[0]
        stated, _ = catalog_client.engine().parse("" if text.startswith("/") else text)
        if THAT_BRAND.search(text) and not stated.brands:  # "anything like it from a different brand?"
            stated = dataclasses.replace(stated, exclude_brands=stated.exclude_brands + (source.brand or "",))
        if CHEAPER.search(text):
            stated = dataclasses.replace(stated, price_max=round(source.price - 0.01, 2))
        elif PRICIER.search(text):
            stated = dataclasses.replace(stated, price_min=round(source.price + 0.01, 2))
        views = catalog_client.engine().by_sku
        model = model_name(source)

        def allowed(sku: str) -> bool:  # not a colour variant of the same model, and within the limits
            view = views.get(sku)
            return view is not None and model_name(view) != model and stated.allows(view)

        picks = recommend_client.recommender().similar(source.sku, PAGE, allowed)
        if picks:  # the scorer: same kind of product, most alike first, with why
            dispatcher.utter_message(**results_message(
                f"Similar to the {source.title}:", [views[p.key].as_result(p.score) for p in picks],
                reasons=[p.reason for p in picks]))
            return [SlotSet("shown_skus", [p.key for p in picks]), SlotSet("focus_sku", None)]
        # Nothing alike in the same subcategory within the limits: search, relaxing them if need be.
        response = catalog_client.similar(source.sku, PAGE, stated)
        if not response.items:
            dispatcher.utter_message(text=f"I couldn't find anything similar to the {source.title}.")
            return [SlotSet("focus_sku", source.sku)]
        note = relaxed_note(response.relaxed)
        other_kinds = f"I found no other {source.category_leaf.lower()} that fit; related products instead. "
        dispatcher.utter_message(**results_message(f"{note}{other_kinds}Similar to the {source.title}:",
                                                   response.items))
        return [SlotSet("shown_skus", [d["sku"] for d in response.items]), SlotSet("focus_sku", None)]
