"""add_to_cart and view_cart: a cart per conversation, kept in the database, handed to the store's
own cart by a link when AISLE_CART_LINK_TEMPLATE is set (aisle/cart_link.py)."""
from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client, recommend_client
from actions.capabilities import declined
from actions.compound import ABOUT_IT, answer_side_question, split_question
from actions.presenters import money, results_message
from actions.product_info import named_in_parts
from actions.references import IT, entity_values, named_model, named_on_screen, products_or_ask, shown
from actions.verification import verification
from aisle.cart_link import CartItem, CartLinkTemplate
from aisle.config import settings
from aisle.models import InteractionKind
from catalog.cart import CartError, CartLine, CartSummary
from catalog.interactions import Seen

logger = logging.getLogger(__name__)
TOGETHER = 2


def _item(line: CartLine) -> CartItem:
    return CartItem(line.sku, line.variant_id, line.quantity)


def store_links(cart: CartSummary, link: CartLinkTemplate | None) -> tuple[str | None, list[str | None]]:
    """The link that hands the whole cart to the store, and, for stores whose link takes one item
    (each visit adds it to the store's cart), a link per line. None where an item lacks the store's
    variant id. A Shopify permalink starts a new cart, so it never comes per item."""
    if link is None or not cart.lines:
        return None, [None] * len(cart.lines)
    each = [link.render_each(_item(line)) for line in cart.lines]
    missing = [line.sku for line, url in zip(cart.lines, each) if url is None]
    if missing:
        logger.warning("no store variant id for %s: the cart stays in Aisle (import the catalog with the "
                       "store's variant ids)", ", ".join(missing))
    whole = link.render(_item(line) for line in cart.lines)
    return whole, ([None] * len(each) if link.join is not None else each)


def present(cart: CartSummary, link: CartLinkTemplate | None) -> tuple[str, dict[str, Any]]:
    """The cart as text for every channel and as the widget's cart card. With the store's cart link
    configured, ``checkout_url`` hands the whole cart to the store when one link can carry it; stores
    whose link takes one item get a link per item instead. Without it the cart is Aisle's own."""
    if not cart.lines:
        return "Your cart is empty.", {"type": "cart", "items": [], "total": 0.0, "currency": cart.currency}
    whole, each = store_links(cart, link)
    text = [f"Your cart ({cart.items} item{'s' if cart.items != 1 else ''}):",
            *(f"- {line.quantity} x {line.title}: {money(float(line.total), line.currency)}" for line in cart.lines),
            f"Total: {money(float(cart.total), cart.currency)}"]
    if whole:
        text.append(f"Go to checkout: {whole}")
    elif any(each):
        text.append("Add them to the store's cart one by one:")
        text += [f"- {line.title}: {url}" for line, url in zip(cart.lines, each) if url]
    views = {v.sku: v for v in catalog_client.products([line.sku for line in cart.lines])}  # pictures, pages
    payload: dict[str, Any] = {
        "type": "cart",
        "items": [{"sku": l.sku, "title": l.title, "quantity": l.quantity, "unit_price": float(l.unit_price),
                   "line_total": float(l.total), "image_url": views[l.sku].image_url if l.sku in views else None,
                   "url": views[l.sku].url if l.sku in views else None,
                   **({"checkout_url": url} if url else {})} for l, url in zip(cart.lines, each)],
        "total": float(cart.total), "currency": cart.currency, "count": cart.items}
    if whole:
        payload["checkout_url"] = whole
    return "\n".join(text), payload


# "actually make that 3": the quantity of what is in the cart becomes 3, it does not grow by 3.
SET_QUANTITY = re.compile(r"\b(?:make (?:it|that|them|those|this)|change (?:it|that|the quantity) to|i meant|meant|"
                          r"actually|instead|in total|total of|only want|just want)\b", re.IGNORECASE)
# "put the cheapest first" orders the list; "add the cheapest", "put the cheapest in my basket" buy it.
ORDERING = re.compile(r"\b(?:first|last|sort\w*|order(?:ed)?|arrange\w*|rank\w*)\b", re.IGNORECASE)
BUYING = re.compile(r"\b(?:add|buy|take|get|cart|basket|bag|trolley|checkout)\b", re.IGNORECASE)
# "actually add one more of the same": more of it, whatever else the message says.
ONE_MORE = re.compile(r"\b(?:\d+|one|two|three|four|five|a couple|a few)\s+more\b|\banother\b", re.IGNORECASE)


# "take the chef's knife out", "remove the candles", "I don't want the red one anymore": out of the cart
REMOVES = re.compile(r"\b(?:remove|delete|get rid of|take\b.{0,40}?\bout\b|"
                     r"(?:don'?t|do not|no longer) (?:want|need)\b.{0,40}?\b(?:any ?more|after all)\b)",
                     re.IGNORECASE)
# "take the chef's knife out, just the bread knife": what follows is what stays
KEEPS = re.compile(r"[,;.]\s*(?:just|only|keep|leave)\b|\bbut keep\b", re.IGNORECASE)


async def remove_if_asked(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]] | None:
    """Take what the message names out of the cart; None when it asks no such thing (whatever the NLU
    heard: "take the chef's knife out" may sound like a search for knives)."""
    text = tracker.latest_message.get("text") or ""
    if not REMOVES.search(text):
        return None
    lines = catalog_client.cart_summary(tracker.sender_id).lines
    if not lines:
        return None
    target = KEEPS.split(text, maxsplit=1)[0]
    named = named_on_screen(target, catalog_client.products([line.sku for line in lines]), several=True)
    if not named and IT.search(target) and (len(lines) == 1 or tracker.get_slot("focus_sku")):
        in_cart = {line.sku for line in lines}
        focus = tracker.get_slot("focus_sku")
        named = catalog_client.products([focus if focus in in_cart else lines[-1].sku])
    if not named:
        return None
    for product in named:
        cart = catalog_client.remove_from_cart(tracker.sender_id, product.sku)
    summary, payload = present(cart, settings().cart_link)
    names = " and ".join(p.title for p in named)
    dispatcher.utter_message(text=f"Removed {names} from your cart.\n{summary}", json_message=payload)
    return [SlotSet("focus_sku", None)]


class ActionAddToCart(Action):
    def name(self) -> str:
        return "action_add_to_cart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if declined(dispatcher, text):  # "knock 50% off and I'll take it"
            return []
        removed = await remove_if_asked(dispatcher, tracker)
        if removed is not None:  # "take the blue one out"
            return removed
        from actions.search import ActionRefineSearch, sort_of  # late: search imports this module
        if shown(tracker) and sort_of(text) and ORDERING.search(text) and not BUYING.search(text):
            return await ActionRefineSearch().run(dispatcher, tracker, domain)
        # "add a Tressa Curl Hydrate shampoo to my basket", whatever is on screen (a button names its sku)
        by_sku = bool(entity_values(tracker, "sku"))
        # "add the brown Edgecraft chef knife and a black Slicewise bread knife": each, by brand and model
        several = [] if by_sku else named_in_parts(text, by_kind=False)
        named = None if by_sku or several else named_model(text)
        if several:
            products = several
        elif named:
            products = [named]
        else:
            products = products_or_ask(
                tracker, dispatcher, "Which product should I add? Say \"the first one\" or tap Add to cart.",
                "Tell me what you're looking for and I'll find it first.")
        if not products:
            return []
        quantities = [q for q in entity_values(tracker, "quantity") if isinstance(q, (int, float))]
        quantity = int(quantities[0]) if quantities else 1
        replace = bool(quantities) and SET_QUANTITY.search(text) is not None and not ONE_MORE.search(text)
        # Only a correction of the quantity needs to know what the cart holds already.
        in_cart = {line.sku for line in catalog_client.cart_summary(tracker.sender_id).lines} if replace else set()
        added = []
        for product in products:
            try:
                cart = catalog_client.add_to_cart(tracker.sender_id, product.sku, quantity,
                                                  replace=replace and product.sku in in_cart)
            except CartError as exc:
                dispatcher.utter_message(text=str(exc))
                continue
            added.append(product)
        if added:
            catalog_client.record(InteractionKind.cart, [Seen(p.sku, quantity) for p in added], tracker.sender_id,
                                  verification(tracker)[0])
            names = " and ".join(p.title for p in added)
            summary, payload = present(cart, settings().cart_link)
            done = (f"Your cart now has {quantity} x {names}." if replace and all(p.sku in in_cart for p in added)
                    else f"Added {quantity} x {names} to your cart.")
            dispatcher.utter_message(text=f"{done}\n{summary}", json_message=payload)
            together = recommend_client.recommender().bought_together(
                added[-1].sku, TOGETHER, exclude=[line.sku for line in cart.lines])
            if together:
                views = {v.sku: v for v in catalog_client.products([t.key for t in together])}
                dispatcher.utter_message(**results_message(
                    "Frequently bought together:", [views[t.key].as_result(t.score) for t in together if t.key in views],
                    reasons=[t.reason for t in together if t.key in views]))
            _, question = split_question(text)  # "add that to my cart, and how long does delivery take?"
            if question and not ABOUT_IT.search(question):
                answer_side_question(dispatcher, question)
            return [SlotSet("focus_sku", added[-1].sku)]
        return []


class ActionViewCart(Action):
    def name(self) -> str:
        return "action_view_cart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        removed = await remove_if_asked(dispatcher, tracker)
        if removed is not None:  # "remove the candle, what's left in my basket?"
            return removed
        cart = catalog_client.cart_summary(tracker.sender_id)
        text, payload = present(cart, settings().cart_link)
        dispatcher.utter_message(text=text, json_message=payload)
        return []
