"""The shopper's own orders: status, cancellation with confirmation, returns.

Every path starts with ``order_form`` (order number + the email on the order, or an email already
verified in this conversation); ``action_order_next`` then answers the status, asks to confirm a
cancellation, or starts ``return_form`` (items, reason, refund or exchange) when the return window
allows. A wrong number/email pair gets the same answer as an order that does not exist, and
repeated failures are throttled (catalog/orders.py).
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import orders_client
from actions.presenters import money
from actions.references import entity_values
from catalog.orders import OrderView, normalize_email, normalize_number

ACTIONS_BY_INTENT = {"order_status": "status", "cancel_order": "cancel", "return_request": "return"}
# Messages with these intents (and no order details) are a change of topic, not an answer to the form.
TOPIC_CHANGES = {"faq", "search_product", "refine_search", "recommend", "greet", "bot_challenge", "human_handoff",
                 "deny", "goodbye", "out_of_scope", "product_details", "view_cart", "add_to_cart", "thank"}
NOT_FOUND = ("I couldn't find an order with that number and email. Please check both: the number is in your "
             "confirmation email, and the email must be the one you ordered with.")
THROTTLED = ("For your security I can't look up orders in this chat for the next 15 minutes after several "
             "unsuccessful tries. I can bring in a person from our team if you like.")
YES_NO = [{"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}]
RESOLUTIONS = {"refund": ("refund", "money back", "reimburse"), "exchange": ("exchange", "swap", "replace",
                                                                             "different size", "another")}
ALL_WORDS = ("all", "both", "everything", "whole order", "all of them", "every")


def latest_intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def answering_the_form(tracker: Tracker) -> bool:
    """False when the message changes the topic (the form then lets the rules handle it)."""
    return latest_intent(tracker) not in TOPIC_CHANGES


def day(moment: Any) -> str:
    return moment.strftime("%a %b %-d") if moment else "unknown"


def items_text(order: OrderView) -> str:
    return ", ".join(f"{line.quantity} x {line.title} ({money(float(line.unit_price), order.currency)})"
                     for line in order.lines)


def status_text(order: OrderView) -> str:
    head = f"Order {order.number} (placed {day(order.placed_at)})"
    state = {
        "placed": "is confirmed and will be packed soon",
        "packed": "is packed and waiting for the carrier",
        "shipped": f"has shipped with {order.carrier}, tracking number {order.tracking_number}, expected "
                   f"{day(order.expected_delivery)}",
        "delivered": f"was delivered on {day(order.delivered_at)}",
        "cancelled": "was cancelled; any payment was released to your card",
        "returned": "was returned",
    }[order.status.value]
    text = f"{head} {state}. Items: {items_text(order)}."
    for r in order.returns:
        text += f" Return {r.number} ({r.resolution}) is {r.status}."
    return text


def order_of(tracker: Tracker) -> OrderView | None:
    """The conversation's order, only through the verified email."""
    return orders_client.verified(tracker.get_slot("order_number") or "", tracker.get_slot("verified_email") or "")


class ActionOrderRequest(Action):
    """Start (or restart) an order request: remember what the shopper wants, pre-fill what is known."""

    def name(self) -> str:
        return "action_order_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        numbers = [n for n in (normalize_number(v) for v in entity_values(tracker, "order_id")) if n]
        emails = [e for e in (normalize_email(v) for v in entity_values(tracker, "email")) if e]
        return [SlotSet("order_action", ACTIONS_BY_INTENT.get(latest_intent(tracker), "status")),
                SlotSet("order_number", numbers[0] if numbers else None),
                SlotSet("order_email", emails[0] if emails else tracker.get_slot("verified_email")),
                SlotSet("cancel_pending", False)]


class ValidateOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        return [] if tracker.get_slot("order_action") == "blocked" else domain_slots

    async def extract_order_number(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        found = entity_values(tracker, "order_id")
        if found:
            return {"order_number": str(found[0])}
        if tracker.get_slot("requested_slot") == "order_number" and answering_the_form(tracker):
            return {"order_number": tracker.latest_message.get("text") or ""}
        return {}

    async def extract_order_email(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        found = entity_values(tracker, "email")
        if found:
            return {"order_email": str(found[0])}
        if tracker.get_slot("requested_slot") == "order_email" and answering_the_form(tracker):
            return {"order_email": tracker.latest_message.get("text") or ""}
        return {}

    def _check_pair(self, number: str, email: str, dispatcher: CollectingDispatcher,
                    tracker: Tracker) -> dict[str, Any]:
        if orders_client.throttled(tracker.sender_id, number):
            return {"order_number": None, "order_email": None, "order_action": "blocked"}
        if orders_client.verified(number, email) is None:
            orders_client.record_failure(tracker.sender_id, number)
            if orders_client.throttled(tracker.sender_id, number):
                return {"order_number": None, "order_email": None, "order_action": "blocked"}
            dispatcher.utter_message(text=NOT_FOUND)
            return {"order_number": None, "order_email": None}
        return {"order_number": number, "order_email": email, "verified_email": email}

    async def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        number = normalize_number(value)
        if number is None:
            dispatcher.utter_message(text="That doesn't look like an order number: it's the 5-digit number in "
                                          "your confirmation email, like 10482.")
            return {"order_number": None}
        email = normalize_email(tracker.get_slot("order_email"))
        return self._check_pair(number, email, dispatcher, tracker) if email else {"order_number": number}

    async def validate_order_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        email = normalize_email(value)
        if email is None:
            dispatcher.utter_message(text="That doesn't look like an email address. Which email did you use "
                                          "for the order?")
            return {"order_email": None}
        number = normalize_number(tracker.get_slot("order_number"))
        return self._check_pair(number, email, dispatcher, tracker) if number else {"order_email": email}


class ActionOrderNext(Action):
    """The order is identified: answer the status, ask to confirm a cancellation, or start a return."""

    def name(self) -> str:
        return "action_order_next"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        action = tracker.get_slot("order_action")
        if action == "blocked":
            dispatcher.utter_message(text=THROTTLED, buttons=[{"title": "Yes, a person please", "payload": "/affirm"},
                                                              {"title": "No thanks", "payload": "/deny"}])
            return [SlotSet("order_action", None), SlotSet("human_offered", True)]
        order = order_of(tracker)
        if order is None:  # cannot happen after the form, unless the order vanished meanwhile
            dispatcher.utter_message(text=NOT_FOUND)
            return [SlotSet("order_number", None)]
        if action == "cancel":
            if not order.cancellable:
                reason = ("it has already shipped" if order.status.value in ("shipped", "delivered")
                          else f"it is {order.status.value}")
                dispatcher.utter_message(text=f"Order {order.number} can't be cancelled because {reason}. "
                                              + ("Once it arrives you can return it within 30 days."
                                                 if order.status.value == "shipped" else ""))
                return []
            dispatcher.utter_message(text=f"Order {order.number}: {items_text(order)}, total "
                                          f"{money(float(order.total), order.currency)}. Shall I cancel it?",
                                     buttons=YES_NO)
            return [SlotSet("cancel_pending", True)]
        if action == "return":
            if order.returns:
                dispatcher.utter_message(text=status_text(order))
                return []
            problem = order.return_problem()
            if problem:
                dispatcher.utter_message(text=f"Order {order.number} can't be returned: {problem}.")
                return []
            return [SlotSet("return_items", None), SlotSet("return_reason", None),
                    SlotSet("return_resolution", None), SlotSet("return_eligible", True)]
        dispatcher.utter_message(text=status_text(order))
        return []


class ActionCancelOrder(Action):
    def name(self) -> str:
        return "action_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        try:
            order = orders_client.cancel(tracker.get_slot("order_number") or "", tracker.get_slot("verified_email") or "")
        except ValueError as exc:
            dispatcher.utter_message(text=f"I couldn't cancel it: {exc}.")
        else:
            dispatcher.utter_message(text=f"Done: order {order.number} is cancelled. The "
                                          f"{money(float(order.total), order.currency)} authorised on your card is "
                                          f"released within 3-5 business days.")
        return [SlotSet("cancel_pending", False)]


class ActionKeepOrder(Action):
    def name(self) -> str:
        return "action_keep_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=f"OK, order {tracker.get_slot('order_number')} stays as it is.")
        return [SlotSet("cancel_pending", False)]


class ActionAskReturnItems(Action):
    def name(self) -> str:
        return "action_ask_return_items"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        order = order_of(tracker)
        lines = order.lines if order else []
        buttons = [{"title": line.title, "payload": line.title} for line in lines]
        if len(lines) > 1:
            buttons.append({"title": "All of them", "payload": "all of them"})
        dispatcher.utter_message(text="Which items would you like to return?", buttons=buttons)
        return []


class ValidateReturnForm(FormValidationAction):
    def name(self) -> str:
        return "validate_return_form"

    async def extract_return_items(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_items":
            return {}
        order = order_of(tracker)
        if order is None:
            return {}
        text = (tracker.latest_message.get("text") or "").lower()
        skus = [line.sku for line in order.lines]
        if len(skus) == 1 or any(w in text for w in ALL_WORDS):
            return {"return_items": skus}
        chosen = [s for s in map(str, entity_values(tracker, "sku")) if s in skus]
        for ordinal in entity_values(tracker, "ordinal"):
            try:
                index = int(ordinal)
            except (TypeError, ValueError):
                continue
            if 0 < abs(index) <= len(skus):
                chosen.append(skus[index - 1 if index > 0 else index])
        for line in order.lines:
            words = [w for w in line.title.lower().split() if len(w) > 3]
            if line.title.lower() in text or sum(w in text for w in words) >= 2:
                chosen.append(line.sku)
        if chosen:  # an answer, whatever the NLU made of it ("all of them" reads like "show me more")
            return {"return_items": list(dict.fromkeys(chosen))}
        return {"return_items": []} if answering_the_form(tracker) else {}

    async def validate_return_items(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if not value:
            dispatcher.utter_message(text="I couldn't tell which item you mean. Tap one of the items, or say "
                                          "\"all of them\".")
            return {"return_items": None}
        return {"return_items": value}

    async def extract_return_reason(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_reason" or latest_intent(tracker) == "deny":
            return {}
        return {"return_reason": (tracker.latest_message.get("text") or "").strip()}

    async def validate_return_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if not value or len(str(value)) < 2:
            dispatcher.utter_message(text="Could you tell me briefly why you're returning it?")
            return {"return_reason": None}
        return {"return_reason": str(value)[:500]}

    async def extract_return_resolution(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_resolution":
            return {}
        text = (tracker.latest_message.get("text") or "").lower()
        for resolution, words in RESOLUTIONS.items():
            if any(w in text for w in words):
                return {"return_resolution": resolution}
        return {"return_resolution": ""} if answering_the_form(tracker) else {}

    async def validate_return_resolution(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                         domain: DomainDict) -> dict[str, Any]:
        if value not in RESOLUTIONS:
            dispatcher.utter_message(text="Please choose a refund or an exchange.")
            return {"return_resolution": None}
        return {"return_resolution": value}


class ActionCreateReturn(Action):
    def name(self) -> str:
        return "action_create_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        order = order_of(tracker)
        reset = [SlotSet("return_items", None), SlotSet("return_reason", None), SlotSet("return_resolution", None),
                 SlotSet("return_eligible", False)]
        if order is None:
            dispatcher.utter_message(text=NOT_FOUND)
            return reset
        try:
            created = orders_client.create_return(order.number, order.email, list(tracker.get_slot("return_items") or []),
                                                  tracker.get_slot("return_reason") or "",
                                                  tracker.get_slot("return_resolution") or "", tracker.sender_id)
        except ValueError as exc:
            dispatcher.utter_message(text=f"I couldn't set up the return: {exc}.")
            return reset
        titles = ", ".join(line.title for line in order.lines if line.sku in created.skus)
        next_step = ("The refund goes to your original payment method within 3 business days of the parcel "
                     "arriving." if created.resolution == "refund"
                     else "We'll ship the replacement as soon as the carrier scans your parcel.")
        dispatcher.utter_message(text=f"Return {created.number} is set up for {titles} ({created.resolution}). "
                                      f"A prepaid label is on its way to your email; please send the parcel within "
                                      f"14 days. {next_step} Ask me about it any time with order {order.number}.")
        return reset
