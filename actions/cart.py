"""add_to_cart and view_cart: a cart per conversation, kept in the database."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client, recommend_client
from actions.presenters import money, results_message
from actions.references import entity_values, products_or_ask
from catalog.cart import CartError, CartSummary


TOGETHER = 2


def cart_text(cart: CartSummary) -> str:
    if not cart.lines:
        return "Your cart is empty."
    lines = [f"- {line.quantity} x {line.title}: {money(float(line.total), line.currency)}" for line in cart.lines]
    return "\n".join([f"Your cart ({cart.items} item{'s' if cart.items != 1 else ''}):", *lines,
                      f"Total: {money(float(cart.total), cart.currency)}"])


def cart_payload(cart: CartSummary) -> dict[str, Any]:
    return {"type": "cart", "items": [{"sku": l.sku, "title": l.title, "quantity": l.quantity,
                                       "unit_price": float(l.unit_price)} for l in cart.lines],
            "total": float(cart.total), "currency": cart.currency}


class ActionAddToCart(Action):
    def name(self) -> str:
        return "action_add_to_cart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        products = products_or_ask(tracker, dispatcher,
                                   "Which product should I add? Say \"the first one\" or tap Add to cart.",
                                   "Tell me what you're looking for and I'll find it first.")
        if not products:
            return []
        quantities = [q for q in entity_values(tracker, "quantity") if isinstance(q, (int, float))]
        quantity = int(quantities[0]) if quantities else 1
        added = []
        for product in products:
            try:
                cart = catalog_client.add_to_cart(tracker.sender_id, product.sku, quantity)
            except CartError as exc:
                dispatcher.utter_message(text=str(exc))
                continue
            added.append(product)
        if added:
            names = " and ".join(p.title for p in added)
            dispatcher.utter_message(text=f"Added {quantity} x {names} to your cart.\n{cart_text(cart)}",
                                     json_message=cart_payload(cart))
            together = recommend_client.recommender().bought_together(
                added[-1].sku, TOGETHER, exclude=[line.sku for line in cart.lines])
            if together:
                views = {v.sku: v for v in catalog_client.products([t.key for t in together])}
                dispatcher.utter_message(**results_message(
                    "Frequently bought together:", [views[t.key].as_result(t.score) for t in together if t.key in views],
                    reasons=[t.reason for t in together if t.key in views]))
            return [SlotSet("focus_sku", added[-1].sku)]
        return []


class ActionViewCart(Action):
    def name(self) -> str:
        return "action_view_cart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        cart = catalog_client.cart_summary(tracker.sender_id)
        dispatcher.utter_message(text=cart_text(cart), json_message=cart_payload(cart))
        return []
