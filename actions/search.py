"""search_product and refine_search: results as cards, constraints kept in slots across turns.

A new search remembers the kinds of product it showed, so "cheaper", "sort by price", "in black" or
"not from Sonora" refine those results rather than searching the whole catalog again.
"""
from __future__ import annotations

import dataclasses
import re
from statistics import median
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client
from actions.capabilities import declined
from actions.cart import ActionAddToCart, remove_if_asked
from actions.compound import (ABOUT_IT, answer_side_question, answered_by_article, product_clauses,
                              split_question)
from actions.presenters import results_message
from actions.product_info import COLOURS_ASKED, ActionProductDetails, answer_about
from actions.references import IT, entity_values, named_model, named_on_screen
from catalog.search import Constraints, minimum_age

PAGE = 5
EACH_KIND = 3  # cards per kind when one message asks for two kinds of product
SORT_WINDOW = 50
MAX_KEPT_CATEGORIES = 3  # a page spread over more kinds than this was not about one kind of product
CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower price|more affordable|budget|chepaer|cheeper|too expensive|"
                     r"too pricey|too much)\b", re.I)
# A question put to the shop itself ("do you guys assemble furniture?", "can you gift wrap it?").
TO_THE_STORE = re.compile(
    r"^\W*(?:(?:hi|hey|hello)\W+)?(?:do|does|can|could|will|would|are|is) (?:you|u|ya|your|there)\b", re.I)
# "what warranty do laptops come with?": a question about the store's terms for a kind of product
TERMS_QUESTION = re.compile(r"^\W*(?:(?:and|so|ok|also|hi|hey)\W+)*(?:what|how|do|does|is|are|can|will)\b.*\b"
                            r"(?:warrant(?:y|ies)|guarantee[ds]?|returns?|return policy|refunds?|shipping|"
                            r"delivery)\b", re.I)
COUNT_OF_SHOWN = re.compile(
    r"\b(?:\d{1,3}|one|two|three|four|five|a couple|a pair)\s+of\s+(?:the|those|these|them)\b", re.I)
GOES_ON = re.compile(r"^\s*(?:and|also|plus|oh and)\b", re.I)  # a message that adds to the one before
PRICIER = re.compile(r"\b(?:more expensive|pricier|premium|higher end|high-end|better quality|nicer)\b", re.I)
ONES = re.compile(r"\bones\b", re.I)
MORE = re.compile(r"\b(?:more|next|other|others|else|rest|keep going|load more|different ones)\b", re.I)
# "not that brand", "a different brand": the brand the results are kept to (or all on screen share)
THAT_BRAND = re.compile(r"\b(?:(?:not|no|without|except|other than)\b(?:\W+\w+)?\W+"
                        r"(?:that|this|those|these|the same)|another|a different|different|other)"
                        r"\s+brands?\b", re.I)
SORT_PRICE_DESC = re.compile(r"\b(?:most expensive|priciest|high(?:est)? to low(?:est)?|highest price|"
                             r"expensive (?:ones? )?first|price,? (?:high|descending))", re.I)
SORT_PRICE = re.compile(r"\b(?:che?a?pe?st|lowest price|low(?:est)? to high(?:est)?|lowest first|"
                        r"price,? (?:low|ascending)|(?:sort|order|arrange|rank)\w*(?: \w+){0,3} by price|by price)\b", re.I)
CHEAP_END = re.compile(r"\b(?:che?a?pe?st|lowest|least expensive|low(?:est)? to high)", re.I)
SORT_RATING = re.compile(r"\b(?:highest[- ]rated|best[- ]reviewed|top[- ]rated|best[- ]rated|most stars|"
                         r"(?:best|highest|top) (?:rev[ie]{2}ws|ratings?)|"  # "which have the best reveiws?"
                         r"(?:sort|order|rank)\w*(?: \w+){0,3} by (?:rating|ratings|reviews|stars)|by (?:rating|reviews))\b", re.I)
# "sort by size" or "show them by newest" asks for an order; "show me those in brown, size 10" states a size.
SORT_KEYS = (r"newest|latest|new arrivals|most recent|release date|popular\w*|best[- ]?sell\w*|discount\w*|"
             r"alphabetical\w*|a to z|name|size|weight|delivery")
SORT_UNSUPPORTED = re.compile(rf"\b(?:(?:sort|order|arrange|rank)\w*\b.{{0,30}}\b|show\w*\b.{{0,30}}\bby\s+)(?P<key>{SORT_KEYS})\b",
                              re.I)
RELAXED_NAMES = {"attrs": "feature", "colors": "colour", "sizes": "size", "materials": "material", "brands": "brand",
                 "price": "price", "category": "product type", "categories": "product type", "in_stock": "in-stock"}


def relaxed_note(relaxed: list[str], newest: Sequence[str] = ()) -> str:
    if not relaxed:
        return ""
    names = ", ".join(dict.fromkeys(RELAXED_NAMES[r] for r in relaxed))
    if newest and not set(relaxed) & set(newest):  # the latest wish won over an earlier one
        wanted = ", ".join(dict.fromkeys(RELAXED_NAMES[n] for n in newest if n in RELAXED_NAMES))
        return f"Nothing matched both, so I kept the {wanted} you just asked for and dropped the earlier {names}. "
    return f"Nothing matched exactly, so I ignored the {names} you asked for. "


def sort_of(text: str) -> str | None:
    desc = SORT_PRICE_DESC.search(text)
    if desc:  # "from cheapest to most expensive" names both ends: the order starts at the first one named
        cheap_end = CHEAP_END.search(text)
        return "price" if cheap_end and cheap_end.start() < desc.start() else "price_desc"
    if SORT_PRICE.search(text):
        return "price"
    return "rating" if SORT_RATING.search(text) else None


def run_search(dispatcher: CollectingDispatcher, query: str, context: Constraints, offset: int = 0,
               sort: str | None = None, new: bool = False, heading: str | None = None,
               newest: Sequence[str] = (), page_size: int = PAGE, first_rank: int = 1
               ) -> list[dict[str, Any]]:
    """``new``: a fresh search, whose page decides the kinds of product that refinements keep to.
    ``newest``: the constraints this message stated, which win over older ones when not all can hold."""
    unsold = catalog_client.engine().unsold_kind(query) if new and not offset else None
    if unsold:  # "do you sell lawn mowers?" in a shop without any: say so, instead of the nearest things
        dispatcher.utter_message(
            text=f"Sorry, we don't sell {unsold}. Is there something else I can find for you?")
        return []
    window = SORT_WINDOW if sort else page_size
    response = catalog_client.search(query, limit=window, offset=0 if sort else offset, context=context,
                                     newest=newest)
    close = response.total
    further = bool(offset) and not sort and not response.items
    if further:  # "got any others?" past the close matches: the ones further off, said to be so, and not
        # only of the kinds that page showed ("shoes" showed running shoes; boots are further off). The
        # last page of close matches may have been short: carry on right after it.
        offset = close if offset - page_size < close else offset
        response = catalog_client.search(query, limit=window, offset=offset, newest=newest, close_only=False,
                                         context=dataclasses.replace(context, categories=()))
    items = response.items
    if sort == "price":
        items = sorted(items, key=lambda d: d["price"])
    elif sort == "price_desc":
        items = sorted(items, key=lambda d: -d["price"])
    elif sort == "rating":
        items = sorted(items, key=lambda d: -(d.get("rating") or 0))
    page = items[offset:offset + page_size] if sort else items
    constraints = response.constraints
    kinds = tuple(dict.fromkeys(d["category"] for d in page))
    if new and kinds and len(kinds) <= MAX_KEPT_CATEGORIES:
        constraints = dataclasses.replace(constraints, categories=kinds)
    events: list[dict[str, Any]] = [
        SlotSet("search_query", query),
        SlotSet("search_constraints", constraints.as_dict()),
        SlotSet("search_offset", float(offset)),
    ]
    if not page:
        if offset:
            dispatcher.utter_message(text="That's everything I have for this search. Want to try something else?")
        else:
            dispatcher.utter_message(text="I couldn't find anything matching that. Could you describe it differently?")
        return events
    note = relaxed_note(response.relaxed, newest)
    total = response.total
    heading = heading or ("Here's what I found" if not offset else
                          "Those were the closest matches; these are further off" if further and offset == close
                          else "Here are more")
    counter = f" ({offset + 1}-{offset + len(page)} of {total})" if total > len(page) else ""
    order = {"price": ", cheapest first", "price_desc": ", most expensive first", "rating": ", best rated first"}
    dispatcher.utter_message(**results_message(f"{note}{heading}{order.get(sort or '', '')}{counter}:", page,
                                               first_rank=first_rank))
    return events + [SlotSet("shown_skus", [d["sku"] for d in page]), SlotSet("focus_sku", None)]


def names_a_purchase(tracker: Tracker, text: str) -> bool:
    """"can i get 2 of the Kaffeo Hand Mill grinders", or "and the Brightmind microscope kit too" just
    after an addition: a product named to be bought, not looked for."""
    # the cheap signals first: naming a model takes a catalog search
    buying = bool(entity_values(tracker, "quantity")) or (
        GOES_ON.match(text) is not None and previous_action(tracker) == "action_add_to_cart")
    if buying and COUNT_OF_SHOWN.search(text) and tracker.get_slot("shown_skus"):
        return True  # "3 of the grey heavyweight crew please": some of what is on screen
    return buying and named_model(text) is not None


def asks_for_products(request: str) -> bool:
    """Whether a request states anything of the catalog or, failing that, a need it can meet."""
    engine = catalog_client.engine()
    if engine.parse(request)[0].active():
        return True
    need = engine.need(request)
    return need is not None and need.confident


def previous_action(tracker: Tracker) -> str | None:
    """The last action the bot ran before this message (not listening)."""
    return next((e.get("name") for e in reversed(tracker.events) if e.get("event") == "action"
                 and e.get("name") not in ("action_listen", None)), None)


def only_qualifies(text: str) -> bool:
    """The message states a colour, size, material or brand but names no kind of product (read as a
    search or a recommendation, it is about the results on screen)."""
    return qualifies_only(catalog_client.engine().parse(text)[0])


def qualifies_only(stated: Constraints) -> bool:
    """only_qualifies of constraints already read from a message."""
    return stated.category is None and bool(stated.colors or stated.sizes or stated.materials or stated.brands)


def for_a_child_of_those(tracker: Tracker, text: str) -> bool:
    """"anything for a 4 year old?" under board games: a child's age, no kind, and age-labelled results."""
    stated = catalog_client.engine().parse(text)[0]
    shown = catalog_client.products(list(tracker.get_slot("shown_skus") or []))
    return (stated.child_age is not None and stated.category is None
            and any(minimum_age(p) is not None for p in shown))


def about_the_ones_shown(text: str) -> bool:
    """"only wireless ones, i hate cables", "any waterproof ones?": "ones" and no kind of product named."""
    return ONES.search(text) is not None and catalog_client.engine().parse(text)[0].category is None


class ActionSearchProducts(Action):
    def name(self) -> str:
        return "action_search_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if declined(dispatcher, text):  # "can u hold one for me until payday"
            return []
        removed = await remove_if_asked(dispatcher, tracker)
        if removed is not None:  # "actually take the chef's knife out" sounds like a search for knives
            return removed
        if names_a_purchase(tracker, text):
            return await ActionAddToCart().run(dispatcher, tracker, domain)
        on_screen = tracker.get_slot("search_query") or tracker.get_slot("shown_skus")
        if on_screen and (CHEAPER.search(text) or PRICIER.search(text) or (
                not entity_values(tracker, "product_type")
                and (sort_of(text) or only_qualifies(text) or about_the_ones_shown(text)
                     or for_a_child_of_those(tracker, text)))):
            # "show the most expensive first", "cream would suit my kitchen better" or "got a cheaper kettle?"
            # right after a search is about those results (a kind of product not on screen starts a new one)
            return await ActionRefineSearch().run(dispatcher, tracker, domain)
        query, question = split_question(text)  # "a black backpack, also do you ship to Canada?"
        store_question = not question and (TERMS_QUESTION.match(text) is not None or (
            TO_THE_STORE.match(text) is not None and not catalog_client.engine().parse(text)[0].category))
        # "do you guys assemble furniture?", "it's a present - can you gift wrap it?": questions, when an
        # article answers them
        if (store_question and answered_by_article(dispatcher, text)) or (
                question and not asks_for_products(query) and answered_by_article(dispatcher, question)):
            return []
        clauses = product_clauses(query or text)
        if len(clauses) > 1:  # "a kettle and a coffee grinder": a few of each, numbered on as one list
            events, listed = [], []
            for clause in clauses:
                kind = catalog_client.engine().parse(clause)[0].category or clause
                found = run_search(dispatcher, clause, Constraints(), new=True, page_size=EACH_KIND,
                                   heading=(kind if kind.endswith("s") else f"{kind}s").capitalize(),
                                   first_rank=len(listed) + 1)
                listed += next((e["value"] for e in found if e.get("name") == "shown_skus"), [])
                events += found
            events.append(SlotSet("shown_skus", listed))
        else:
            request = query or text
            events = run_search(dispatcher, request, Constraints(), sort=sort_of(request), new=True)
        shown = next((e["value"] for e in events if e.get("name") == "shown_skus"), None)
        if question and shown and ABOUT_IT.search(question):  # "the Kaffeo gooseneck kettle, is it steel?"
            dispatcher.utter_message(text=answer_about(catalog_client.products(shown[:1])[0], question))
        elif question:
            events += answer_side_question(dispatcher, question)
        return events


class ActionRefineSearch(Action):
    """"cheaper" / "pricier" move the price bound past the middle of what is on screen."""

    def name(self) -> str:
        return "action_refine_search"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if declined(dispatcher, text):
            return []
        removed = await remove_if_asked(dispatcher, tracker)
        if removed is not None:  # "actually take the chef's knife out" sounds like a search for knives
            return removed
        if names_a_purchase(tracker, text):
            return await ActionAddToCart().run(dispatcher, tracker, domain)
        if COLOURS_ASKED.search(text) and IT.search(text) and (
                tracker.get_slot("focus_sku") or len(tracker.get_slot("shown_skus") or []) == 1):
            # "what colours can I get it in then?" about the one product just discussed: its colours
            return await ActionProductDetails().run(dispatcher, tracker, domain)
        previous_query = tracker.get_slot("search_query")
        context = Constraints.from_dict(tracker.get_slot("search_constraints"))
        shown = catalog_client.products(list(tracker.get_slot("shown_skus") or []))
        if not previous_query and shown:  # products shown by a recommendation or a details answer
            previous_query, context = "", Constraints(categories=tuple(dict.fromkeys(p.category for p in shown)))
        named = [str(t) for t in entity_values(tracker, "product_type")]
        if previous_query is None or any(not context.covers_type(t) for t in named):  # a new kind: new search
            return run_search(dispatcher, text, Constraints(), sort=sort_of(text), new=True)
        narrowed = tuple(c for c in context.categories if any(Constraints(categories=(c,)).covers_type(t)
                                                              for t in named))
        if 0 < len(narrowed) < len(context.categories):  # "just the pans now" after pans and knives
            context, previous_query = dataclasses.replace(context, categories=narrowed), " ".join(named)
        unsupported = SORT_UNSUPPORTED.search(text)
        sort = sort_of(text)
        if unsupported and not sort:
            dispatcher.utter_message(text=f"Sorry, I can't sort by {unsupported.group('key').lower()}. I can sort "
                                          "these by price (lowest or highest first) or by rating.")
            return []
        explicit_price = entity_values(tracker, "price_min") or entity_values(tracker, "price_max")
        offset = 0
        cheaper, pricier = CHEAPER.search(text) is not None, PRICIER.search(text) is not None
        if (cheaper or pricier) and not explicit_price and shown:
            # The new bound replaces every earlier one: "under 50" then "something pricier" lifts the
            # shopper's own ceiling, and the prices written in the stored query go with it.
            previous_query = catalog_client.engine().without_prices(previous_query)
            prices = [p.price for p in shown]
            middle = median(prices) if len(set(prices)) > 1 else None
            if cheaper:
                bound = min(prices) if middle is None else middle
                context = dataclasses.replace(context, price_max=round(bound - 0.01, 2), price_min=None)
            else:
                bound = max(prices) if middle is None else middle
                context = dataclasses.replace(context, price_min=round(bound + 0.01, 2), price_max=None)
        # The refinement's own words (colour, size, price, brand, stock, exclusions) update the kept ones.
        stated, _ = catalog_client.engine().parse(text)
        if stated.price_min is not None or stated.price_max is not None:  # the query's own prices give way
            previous_query = catalog_client.engine().without_prices(previous_query)
        if THAT_BRAND.search(text) and not stated.brands:
            brands_shown = {p.brand for p in shown if p.brand}
            that = context.brands or (tuple(brands_shown) if len(brands_shown) == 1 else ())
            context = dataclasses.replace(context, brands=())
            stated = dataclasses.replace(stated, exclude_brands=stated.exclude_brands + that)
        paging = not (cheaper or pricier or stated.active() or _excludes(stated))
        if paging and sort is None and not MORE.search(text):
            subset = named_on_screen(text, shown, several=True)  # "just the mini ones": a word of some titles
            if 0 < len(subset) < len(shown):
                dispatcher.utter_message(**results_message("Here they are:", [p.as_result(0.0)
                                                                              for p in subset]))
                return [SlotSet("shown_skus", [p.sku for p in subset]), SlotSet("focus_sku", None)]
        if sort is None and MORE.search(text) and paging:
            offset = int(tracker.get_slot("search_offset") or 0) + PAGE
        newest = stated.active() + (["price"] if cheaper or pricier else [])
        return run_search(dispatcher, previous_query, context.merged(stated), offset=offset, sort=sort,
                          newest=newest)


class ActionNoOrRefine(Action):
    """A "no" with nothing asked: "how can I help?", unless products are on screen and the "no" says
    what instead ("meh, not that brand", "nah, most expensive first", "and not a kids' one")."""

    def name(self) -> str:
        return "action_no_or_refine"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if (tracker.get_slot("search_query") or tracker.get_slot("shown_skus")) and about_the_results(text):
            return await ActionRefineSearch().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_how_can_i_help")
        return []


def about_the_results(text: str) -> bool:
    """The message sorts, prices, qualifies or excludes something (not a bare "no thanks")."""
    if sort_of(text) or THAT_BRAND.search(text) or CHEAPER.search(text) or PRICIER.search(text):
        return True
    stated = catalog_client.engine().parse(text)[0]
    return bool(stated.active() or _excludes(stated))


def narrows_the_results(text: str) -> bool:
    """"not lavender, hate that smell": a colour, size, material, brand or exclusion and no kind of product."""
    stated = catalog_client.engine().parse(text)[0]
    return qualifies_only(stated) or (stated.category is None and _excludes(stated))


def _excludes(c: Constraints) -> bool:
    return bool(c.exclude_brands or c.exclude_colors or c.exclude_materials or c.exclude_terms
                or c.child_age is not None)
