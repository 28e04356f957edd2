"""search_product and refine_search: results as cards, constraints kept in slots across turns."""
from __future__ import annotations

import dataclasses
import re
from statistics import median
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client
from actions.presenters import results_message
from actions.references import entity_values
from catalog.search import Constraints

PAGE = 5
SORT_WINDOW = 50
CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower price|more affordable|budget|chepaer|cheeper)\b", re.I)
PRICIER = re.compile(r"\b(?:more expensive|pricier|premium|higher end|high-end|better quality|nicer)\b", re.I)
MORE = re.compile(r"\b(?:more|next|other|others|else|rest|keep going|load more|different ones)\b", re.I)
SORT_PRICE = re.compile(r"\b(?:sort(?:ed)? by price|cheapest first|lowest price|low to high)\b", re.I)
SORT_PRICE_DESC = re.compile(r"\b(?:most expensive first|high to low|highest price)\b", re.I)
SORT_RATING = re.compile(r"\b(?:highest rated|best reviewed|top rated|best rated|sort(?:ed)? by rating|by reviews)\b", re.I)
RELAXED_NAMES = {"colors": "colour", "sizes": "size", "materials": "material", "brands": "brand",
                 "price": "price", "category": "product type", "in_stock": "in-stock"}


def relaxed_note(relaxed: list[str]) -> str:
    if not relaxed:
        return ""
    return f"Nothing matched exactly, so I ignored the {', '.join(RELAXED_NAMES[r] for r in relaxed)} you asked for. "


def run_search(dispatcher: CollectingDispatcher, query: str, context: Constraints, offset: int = 0,
               sort: str | None = None) -> list[dict[str, Any]]:
    window = SORT_WINDOW if sort else PAGE
    response = catalog_client.search(query, limit=window, offset=0 if sort else offset, context=context)
    items = response.items
    if sort == "price":
        items = sorted(items, key=lambda d: d["price"])
    elif sort == "price_desc":
        items = sorted(items, key=lambda d: -d["price"])
    elif sort == "rating":
        items = sorted(items, key=lambda d: -(d.get("rating") or 0))
    page = items[offset:offset + PAGE] if sort else items
    events: list[dict[str, Any]] = [
        SlotSet("search_query", query),
        SlotSet("search_constraints", response.constraints.as_dict()),
        SlotSet("search_offset", float(offset)),
    ]
    if not page:
        if offset:
            dispatcher.utter_message(text="That's everything I have for this search. Want to try something else?")
        else:
            dispatcher.utter_message(text="I couldn't find anything matching that. Could you describe it differently?")
        return events
    note = relaxed_note(response.relaxed)
    total = response.total
    heading = "Here's what I found" if not offset else "Here are more"
    counter = f" ({offset + 1}-{offset + len(page)} of {total})" if total > len(page) else ""
    dispatcher.utter_message(**results_message(f"{note}{heading}{counter}:", page, first_rank=1))
    return events + [SlotSet("shown_skus", [d["sku"] for d in page]), SlotSet("focus_sku", None)]


class ActionSearchProducts(Action):
    def name(self) -> str:
        return "action_search_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        query = tracker.latest_message.get("text") or ""
        return run_search(dispatcher, query, Constraints())


class ActionRefineSearch(Action):
    """"cheaper" / "pricier" move the price bound past the middle of what is on screen."""

    def name(self) -> str:
        return "action_refine_search"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        previous_query = tracker.get_slot("search_query")
        context = Constraints.from_dict(tracker.get_slot("search_constraints"))
        new_types = [t for t in entity_values(tracker, "product_type") if t != context.category]
        if not previous_query or new_types:
            return run_search(dispatcher, text, Constraints())  # a new product type starts a new search
        shown = catalog_client.products(list(tracker.get_slot("shown_skus") or []))
        explicit_price = entity_values(tracker, "price_min") or entity_values(tracker, "price_max")
        offset = 0
        if CHEAPER.search(text) and not explicit_price and shown:
            context = dataclasses.replace(context, price_max=round(median([p.price for p in shown]) - 0.01, 2))
        elif PRICIER.search(text) and not explicit_price and shown:
            context = dataclasses.replace(context, price_min=round(median([p.price for p in shown]) + 0.01, 2))
        sort = ("price_desc" if SORT_PRICE_DESC.search(text) else "price" if SORT_PRICE.search(text)
                else "rating" if SORT_RATING.search(text) else None)
        # The refinement's own words (colour, size, price, brand, stock) update the kept constraints.
        stated, _ = catalog_client.engine().parse(text)
        paging = not (CHEAPER.search(text) or PRICIER.search(text) or stated.active())  # "more than $100"
        if sort is None and MORE.search(text) and paging:
            offset = int(tracker.get_slot("search_offset") or 0) + PAGE
        return run_search(dispatcher, previous_query, context.merged(stated), offset=offset, sort=sort)
