"""recommend: suggestions from the recommendation scorer (catalog/recommend.py), each with its reason.

The context is this conversation's own products (shown, the one in focus, the cart, the views and likes
recorded for it), the verified customer's purchase history, and what the shopper asked for ("a gift
for a 10-year-old who likes science"), with any price or colour they stated applied as a filter.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client, recommend_client
from actions.capabilities import declined
from actions.complements import answer_goes_with
from actions.presenters import results_message
from actions.search import (ActionRefineSearch, ActionSearchProducts, for_a_child_of_those, only_qualifies,
                            sort_of)
from actions.verification import verification
from catalog.recommend import Context, Scored
from catalog.search import Constraints

MIN_OF_ONE_KIND = 2  # fewer suggestions of the need's own kind than this are topped up with others
COUNT = 5
# With a stated need, the need leads; the priors and the cart still break ties.
NEED_WEIGHTS = dataclasses.replace(recommend_client.SERVED_WEIGHTS, need=2.0)
# Words that carry no need of their own: "what do you recommend?" has no stated need.
GENERIC = set("""a an and any anything are best can could do for get give good i idea ideas is it me my
 of on please popular recommend recommendation recommendations some something suggest suggestion suggestions
 that the these this to top what which would you your buy should one ones sellers seller""".split())


def stated_need(text: str) -> str | None:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return text if len([w for w in words if w not in GENERIC]) >= 2 else None


class ActionRecommend(Action):
    def name(self) -> str:
        return "action_recommend"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if declined(dispatcher, text):  # "can someone ring me to help me choose a rug"
            return []
        goes_with = answer_goes_with(dispatcher, tracker)
        if goes_with is not None:  # "what do people usually buy with the Trekker 2 tent?"
            return goes_with
        if (tracker.get_slot("search_query") or tracker.get_slot("shown_skus")) and (
                only_qualifies(text) or for_a_child_of_those(tracker, text)):
            # "actually cream would suit my kitchen better" after kettles: those kettles in cream
            return await ActionRefineSearch().run(dispatcher, tracker, domain)
        engine = catalog_client.engine()
        if sort_of(text) and engine.parse(text)[0].category:
            # "which tablets have the best reviews? sort them by rating" is a sorted search, not a hunch
            return await ActionSearchProducts().run(dispatcher, tracker, domain)
        need = stated_need(text) if not text.startswith("/") else None
        stated = engine.understand(need or "")  # typos corrected: "a good expresso machine"
        constraints = stated.constraints
        need_vector = engine.encode([stated.dense_text])[0] if need else None
        about = (engine.need_of_vector(need_vector) if need_vector is not None and not constraints.category
                 else None)
        focus = tracker.get_slot("focus_sku")
        # A stated need replaces what happened to be looked at: "for a coffee lover" after headphones.
        on_screen = [] if need else list(tracker.get_slot("shown_skus") or []) + ([focus] if focus else [])
        session = {} if need else recommend_client.conversation_items(tracker.sender_id)
        context = Context(
            viewed=on_screen + session.get("view", []),
            liked=session.get("like", []),
            carted=[line.sku for line in catalog_client.cart_summary(tracker.sender_id).lines],
            history=recommend_client.purchased(verification(tracker)[0]),  # only while the verification lasts
            need=need_vector,
        )
        weights, recommender = NEED_WEIGHTS if need else None, recommend_client.recommender()

        def within(c: Constraints) -> Context:
            return dataclasses.replace(context, allowed=(
                lambda sku: sku in engine.by_sku and c.allows(engine.by_sku[sku])) if c.active() else None)

        picks: list[Scored] = []
        if about is not None:  # "my cat is wrecking the couch, what can I get her": cat trees, not a mix
            one_kind = dataclasses.replace(constraints, categories=(about.category,))
            picks = recommender.recommend(within(one_kind), COUNT, weights)
        if len(picks) < MIN_OF_ONE_KIND:  # a kind with one product, or none that fits: other kinds after it
            chosen = {p.key for p in picks}
            picks += [p for p in recommender.recommend(within(constraints), COUNT, weights)
                      if p.key not in chosen][:COUNT - len(picks)]
        if not picks:
            dispatcher.utter_message(text="I couldn't find anything to suggest with those limits. Could you "
                                          "tell me a bit more about what you need?")
            return []
        items = [engine.by_sku[p.key].as_result(p.score) for p in picks]
        intro = "Here are my suggestions:" if not need else "Here's what I'd suggest for that:"
        dispatcher.utter_message(**results_message(intro, items, reasons=[p.reason for p in picks]))
        return [SlotSet("shown_skus", [p.key for p in picks]), SlotSet("focus_sku", None)]
