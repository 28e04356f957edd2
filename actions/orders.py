"""The shopper's own orders: status, details, cancellation with confirmation, returns.

Every path starts with ``order_form``. The order number and the email on it give the order's status;
details (items, tracking), cancelling and returning also need the postcode the order ships to, which
the form then asks for (or takes glued to the request: "cancel 10003, alex@example.com, 94107").
``action_order_next`` answers the status, asks to confirm a cancellation, or starts ``return_form``.
A wrong factor gets the same answer as an order that does not exist; failures slow the caller down
(catalog/orders.py). What a shopper proved (``verified_*`` slots) ends with the Rasa session and
after ``AISLE_ORDER_VERIFICATION_IDLE_MINUTES`` unused, so the next person at the browser starts over.
"""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import catalog_client, orders_client
from actions.compound import answer_side_question, answered_by_article, search_clause, split_question
from actions.presenters import money
from actions.references import entity_values
from actions.search import run_search
from actions.verification import VERIFICATION_SLOTS, forgotten, verification, verified_now
from catalog.orders import Caller, OrderView, Outcome, normalize_email, normalize_number, normalize_postcode
from catalog.search import Constraints

ACTIONS_BY_INTENT = {"order_status": "status", "cancel_order": "cancel", "return_request": "return"}
FULL_ACTIONS = {"details", "cancel", "return"}  # these need the postcode as well as the email
# Messages with these intents (and no order details) are a change of topic, not an answer to the form.
TOPIC_CHANGES = {"faq", "search_product", "refine_search", "recommend", "greet", "bot_challenge", "human_handoff",
                 "deny", "goodbye", "out_of_scope", "product_details", "view_cart", "add_to_cart", "thank",
                 "similar_products", "compare_products"}
ORDER_SLOTS = ("order_number", "order_email", "order_postcode")
# A new Rasa session starts clean of these; the shopping context (searches, cart focus) carries over.
NOT_CARRIED_OVER = {*VERIFICATION_SLOTS, *ORDER_SLOTS, "order_action", "cancel_pending", "requested_slot",
                    "return_eligible", "return_items", "return_reason", "return_resolution"}
NOT_FOUND = ("I couldn't find an order with that number and email. Please check both: the number is in your "
             "confirmation email, and the email must be the one you ordered with.")
WRONG_POSTCODE = "That postcode doesn't match the address this order ships to."
THROTTLED = ("For your security I can't look up orders from here for the next {wait} after several unsuccessful "
             "tries. I can bring in a person from our team if you like.")
DETAILS_HINT = ("For the items, the tracking number or changes, ask me for the order's details: I'll also need the "
                "postcode it ships to.")
STORE_CHANGE = ("I can't {change} order {number} from here: our store handles that. A person from our team can "
                "do it for you. Shall I bring someone in?")
DAMAGED_OPTIONS = ("You can return it for a refund or a replacement (say \"return it\"), or a person from our team "
                   "can sort it out with you: shall I bring someone in?")
PERSON_BUTTONS = [{"title": "Yes, a person please", "payload": "/affirm"}, {"title": "No thanks", "payload": "/deny"}]
YES_NO = [{"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}]
RESOLUTIONS = {"refund": ("refund", "money back", "reimburse"), "exchange": ("exchange", "swap", "replace",
                                                                             "different size", "another")}
# Whole words: "actually can I talk to a person" says "all" only inside "actually".
ALL_ITEMS = re.compile(r"\b(?:all|both|everything|whole order|every(?:thing)?)\b", re.IGNORECASE)
DETAIL_WORDS = re.compile(r"\b(?:tracking|items?|contents?|details?|address|what did i (?:order|buy)|"
                          r"what(?:'s| is| was)? in (?:it|my order|the order|order))\b", re.IGNORECASE)
# An order that arrived in a bad state: an apology and the ways to put it right, whatever the status says.
DAMAGED = re.compile(r"\b(?:damaged|broken|broke|cracked|smashed|shattered|dented|torn|ripped|defective|faulty|"
                     r"(?:does ?n[o']?t|doesnt|stopped|not) work(?:ing)?|missing (?:a )?(?:parts?|pieces?)|"
                     r"wrong (?:item|size|colou?r|product))\b", re.IGNORECASE)
# A question about the store's rules ("can I send earbuds back once opened?", "do you price match?") rather
# than a request about one's own order ("can I return my order?"): the help article answers it.
POLICY_QUESTION = re.compile(r"^\s*(?:(?:and|so|ok(?:ay)?|hi|hey|also|quick question)[,!.\s]+)*"
                             r"(?:can|could|do|does|will|would|is|are|if|how (?:long|many|much|does|do)|"
                             r"when (?:would|will|do|does|can|should) (?:i|you|we)|"
                             r"what(?:'s| is| are)? (?:your|the))\b", re.IGNORECASE)
# "my order" makes it one's own order, unless the question is where to collect it.
OWN_ORDER_REQUEST = re.compile(r"^(?!.*\b(?:collect|pick(?:ed)? ?up)\b).*\b(?:my|our)\s+"
                               r"(?:order|package|parcel|purchase|delivery)\b|"
                               r"\b(?:cancel|return|send (?:it )?back|refund|track|exchange)\w*\s+(?:my|our)\b",
                               re.IGNORECASE)
# "yes, cancel it please" answering "Shall I cancel it?": the NLU may hear cancel_order, or even deny
CONFIRMS_CANCEL = re.compile(r"^(?!.*\b(?:don'?t|do not|not|never|keep)\b)\W*"
                             r"(?:yes|yeah|yep|yup|sure|ok(?:ay)?|please|go ahead|do it|confirm\w*)\b.*\bcancel",
                             re.IGNORECASE)
SAME_ORDER = re.compile(r"\b(?:it|that one|this one|(?:that|this|the|same) order)\b", re.IGNORECASE)
EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
POSTCODE_CUE = re.compile(r"\b(?:post\s*code|postal\s*code|zip(?:\s*code)?)\b", re.IGNORECASE)
POSTCODE_IN_TEXT = re.compile(r"\b(?:\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)\b",
                              re.IGNORECASE | re.ASCII)


def latest_intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def latest_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def is_policy_question(text: str) -> bool:
    return bool(POLICY_QUESTION.search(text)) and not OWN_ORDER_REQUEST.search(text)


def answering_the_form(tracker: Tracker) -> bool:
    """False when the message changes the topic (the form then lets the rules handle it)."""
    return latest_intent(tracker) not in TOPIC_CHANGES


def postcode_in(text: str) -> str | None:
    """A postcode glued to a request: after the email or after "postcode"/"zip", so the order number
    that comes first is never taken for one."""
    starts = [m.end() for m in EMAIL_IN_TEXT.finditer(text)] + [m.end() for m in POSTCODE_CUE.finditer(text)]
    found = POSTCODE_IN_TEXT.search(text, min(starts)) if starts else None
    return normalize_postcode(found.group(0)) if found else None


def order_numbers(tracker: Tracker) -> list[str]:
    """The message's order numbers in the order they were written."""
    entities = sorted((e for e in tracker.latest_message.get("entities", []) if e.get("entity") == "order_id"),
                      key=lambda e: e.get("start") or 0)
    return [str(e.get("value")) for e in entities]


def email_given_before(tracker: Tracker) -> str | None:
    """The last email address this conversation gave the order form (cleared after a failed lookup)."""
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "order_email" and event.get("value"):
            return str(event["value"])
    return None


def caller_of(tracker: Tracker) -> Caller:
    """The conversation, and the client address the web app passes as message metadata."""
    metadata = tracker.latest_message.get("metadata")
    client = metadata.get("client") if isinstance(metadata, dict) else None
    return Caller(tracker.sender_id, str(client)[:64] if client else None)


def wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{max(seconds, 1)} seconds"
    return f"{-(-seconds // 60)} minutes"


def day(moment: Any) -> str:
    return moment.strftime("%a %b %-d") if moment else "unknown"


def items_text(order: OrderView) -> str:
    return ", ".join(f"{line.quantity} x {line.title} ({money(float(line.unit_price), order.currency)})"
                     for line in order.lines)


def expected(order: OrderView) -> str:
    return f", expected {day(order.expected_delivery)}" if order.expected_delivery else ""


def carrier(order: OrderView) -> str:
    return f" with {order.carrier}" if order.carrier else ""


def public_status_text(order: OrderView) -> str:
    """What the number and email alone show: state, carrier and dates, no items or tracking number."""
    state = {
        "placed": "is confirmed and will be packed soon",
        "packed": "is packed and waiting for the carrier",
        "shipped": f"has shipped{carrier(order)} and is in transit{expected(order)}",
        "delivered": f"was delivered on {day(order.delivered_at)}",
        "cancelled": "was cancelled; any payment was released to your card",
        "returned": "was returned",
    }[order.status.value]
    return f"Order {order.number} (placed {day(order.placed_at)}) {state}. {DETAILS_HINT}"


def status_text(order: OrderView) -> str:
    """Everything, once the postcode matched too."""
    head = f"Order {order.number} (placed {day(order.placed_at)})"
    state = {
        "placed": "is confirmed and will be packed soon",
        "packed": "is packed and waiting for the carrier",
        "shipped": f"has shipped{carrier(order)}"
                   + (f", tracking number {order.tracking_number}" if order.tracking_number else "") + expected(order),
        "delivered": f"was delivered on {day(order.delivered_at)}",
        "cancelled": "was cancelled; any payment was released to your card",
        "returned": "was returned",
    }[order.status.value]
    text = f"{head} {state}. Items: {items_text(order)}."
    for r in order.returns:
        text += f" Return {r.number} ({r.resolution}) is {r.status}."
    return text


def order_of(tracker: Tracker) -> OrderView | None:
    """The conversation's order, only through a live verified email."""
    email, _ = verification(tracker)
    return orders_client.verified(tracker.get_slot("order_number") or "", email or "")


def unlocked_order(tracker: Tracker) -> OrderView | None:
    """The conversation's order, only when its postcode was given too (details and changes)."""
    order = order_of(tracker)
    return order if order is not None and order.number in verification(tracker)[1] else None


class ActionSessionStart(Action):
    """A new Rasa session (after Rasa's expiry, or ``/session_start``) keeps the shopping context but
    not what the shopper proved about orders."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        carried = [SlotSet(name, value) for name, value in tracker.slots.items()
                   if name not in NOT_CARRIED_OVER and value is not None]
        return [SessionStarted(), *carried, ActionExecuted("action_listen")]


class ActionOrderRequest(Action):
    """Start (or restart) an order request: remember what the shopper wants, pre-fill what is known."""

    def name(self) -> str:
        return "action_order_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        text = latest_text(tracker)
        if tracker.get_slot("cancel_pending") and CONFIRMS_CANCEL.search(text) and not order_numbers(tracker):
            cancelled = await ActionCancelOrder().run(dispatcher, tracker, domain)
            return [*cancelled, SlotSet("order_action", "answered")]
        action = ACTIONS_BY_INTENT.get(latest_intent(tracker), "status")
        if action == "status" and DETAIL_WORDS.search(text):
            action = "details"
        if action in ("status", "details") and DAMAGED.search(text):
            action = "damaged"
        numbers = [n for n in (normalize_number(v) for v in order_numbers(tracker)) if n]
        emails = [e for e in (normalize_email(v) for v in entity_values(tracker, "email")) if e]
        email, _ = verification(tracker)
        number = numbers[0] if numbers else None
        if number is None and email and (action == "details" or SAME_ORDER.search(text)):
            # "what's the tracking number?" / "can I still return it?" after a status: the order just shown
            number = tracker.get_slot("order_number")
        if (number is None and not emails and is_policy_question(text)
                and answered_by_article(dispatcher, text)):
            return [SlotSet("order_action", "answered")]
        events = [SlotSet("order_action", action), SlotSet("order_number", number),
                  SlotSet("order_email", emails[0] if emails else email),
                  SlotSet("order_postcode", postcode_in(text)), SlotSet("cancel_pending", False)]
        if email is None and tracker.get_slot("verified_email"):  # unused for too long
            events += forgotten()
        wanted = search_clause(text)  # "where is order 10001? and also show me cast iron pans"
        if wanted:
            return events + run_search(dispatcher, wanted, Constraints(), new=True)
        _, question = split_question(text)  # "return order 10002 - how long does a refund take?"
        if question and not SAME_ORDER.search(question):  # "…, when will it arrive?" is the order's own status
            events += answer_side_question(dispatcher, question)
        return events


class ActionAskOrderPostcode(Action):
    """The form's question for the second factor, saying what it is for."""

    def name(self) -> str:
        return "action_ask_order_postcode"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        number = tracker.get_slot("order_number")
        purpose = {"cancel": f"To cancel order {number}", "return": f"To return something from order {number}"}.get(
            tracker.get_slot("order_action") or "", f"To show the items and tracking of order {number}")
        dispatcher.utter_message(text=f"{purpose} I also need the postcode it ships to, which only you know. "
                                      "What is it?")
        return []


class ValidateOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        action = tracker.get_slot("order_action")
        if action in ("blocked", "answered"):
            return []
        if action in FULL_ACTIONS and normalize_number(tracker.get_slot("order_number")) not in verification(tracker)[1]:
            return [*domain_slots, "order_postcode"]
        return domain_slots

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> EventType | None:
        """Always say which slot comes next (None: done): the postcode is not in the domain's form, so
        Rasa alone would not know when it was answered."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, next((name for name in required if tracker.slots.get(name) is None), None))

    async def extract_order_number(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if requested == "order_postcode":  # a 5-digit postcode reads like an order number
            return {}
        found = order_numbers(tracker)
        if tracker.get_slot("order_number"):  # "alex@example.com, 94107": that number is the postcode
            postcode = postcode_in(latest_text(tracker))
            found = [n for n in found if normalize_postcode(n) != postcode]
        if found:
            return {"order_number": found[0]}
        if requested == "order_number" and answering_the_form(tracker):
            return {"order_number": latest_text(tracker)}
        return {}

    async def extract_order_email(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        found = entity_values(tracker, "email")
        if found:
            return {"order_email": str(found[0])}
        if tracker.get_slot("requested_slot") == "order_email" and answering_the_form(tracker):
            if order_numbers(tracker):  # "oops, I meant order 10002": the email given before goes with it
                earlier = email_given_before(tracker)
                return {"order_email": earlier} if earlier else {}
            return {"order_email": latest_text(tracker)}
        return {}

    async def extract_order_postcode(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        text = latest_text(tracker)
        if tracker.get_slot("requested_slot") == "order_postcode" and answering_the_form(tracker):
            found = POSTCODE_IN_TEXT.search(EMAIL_IN_TEXT.sub(" ", text))
            return {"order_postcode": found.group(0) if found else text}
        glued = postcode_in(text)
        return {"order_postcode": glued} if glued else {}

    async def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        number = normalize_number(value)
        if number is None:
            dispatcher.utter_message(text="That doesn't look like an order number: it's the number in your order "
                                          "confirmation email, like 10482 or #1001.")
        return {"order_number": number}

    async def validate_order_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        email = normalize_email(value)
        if email is None:
            dispatcher.utter_message(text="That doesn't look like an email address. Which email did you use "
                                          "for the order?")
        return {"order_email": email}

    async def validate_order_postcode(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> dict[str, Any]:
        postcode = normalize_postcode(value)
        if postcode is None:
            dispatcher.utter_message(text="That doesn't look like a postcode: it's the ZIP or postal code of the "
                                          "address the order ships to, like 94107.")
        return {"order_postcode": postcode}

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        """Each slot's format first, then one check of every factor given (one failure counted per try)."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        given = {e["name"] for e in events} & set(ORDER_SLOTS)
        number, email = tracker.get_slot("order_number"), tracker.get_slot("order_email")
        if not given or not number or not email or tracker.get_slot("order_action") == "blocked":
            return events
        return events + [SlotSet(k, v) for k, v in self._check(number, email, dispatcher, tracker).items()]

    def _check(self, number: str, email: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        action = tracker.get_slot("order_action")
        verified_email, unlocked = verification(tracker)
        kept = unlocked if verified_email == email else []  # orders this email already unlocked
        access = orders_client.lookup(number, email, tracker.get_slot("order_postcode"), caller_of(tracker),
                                      want_full=action in FULL_ACTIONS and number not in kept)
        cleared = {name: None for name in ORDER_SLOTS}
        if access.outcome is Outcome.wait:
            return {**cleared, "order_action": "blocked"}
        if access.outcome is Outcome.not_found:
            # The number stays and the email is asked again: a mistyped email is the usual slip, and any
            # number the shopper writes next replaces it. The answer is the same whichever factor was wrong.
            dispatcher.utter_message(text=NOT_FOUND)
            return {**cleared, "order_number": number}
        if access.outcome is Outcome.need_postcode and access.order is None:  # under attack: every factor at once
            return {"order_action": "details" if action == "status" else action}
        if access.outcome is Outcome.full:
            kept = [*kept, number] if number not in kept else kept
        catalog_client.attribute_interactions(tracker.sender_id, email)
        proved = {e["name"]: e["value"] for e in verified_now(email, kept)}
        if access.outcome is Outcome.wrong_postcode:
            dispatcher.utter_message(text=WRONG_POSTCODE)
            return {**proved, "order_postcode": None}
        if (access.outcome is Outcome.need_postcode and action == "cancel" and not access.order.cancellable
                and not access.order.from_store):
            # A cancellation that cannot happen needs no postcode: why not is the status, already public.
            return {**proved, "order_action": "cancel_refused"}
        return {**proved, "order_postcode": None} if access.outcome is Outcome.full else proved


class ActionOrderNext(Action):
    """The order is identified: answer the status, ask to confirm a cancellation, or start a return."""

    def name(self) -> str:
        return "action_order_next"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        action = tracker.get_slot("order_action")
        if action == "blocked":
            wait = orders_client.caller_wait(caller_of(tracker)) or 1
            dispatcher.utter_message(text=THROTTLED.format(wait=wait_text(wait)), buttons=PERSON_BUTTONS)
            return [SlotSet("order_action", None), SlotSet("human_offered", True)]
        if action == "answered":  # a store question or a confirmation, answered already: no order to look up
            return [SlotSet("order_action", None)]
        order = order_of(tracker)
        if order is None:  # cannot happen after the form, unless the order vanished meanwhile
            dispatcher.utter_message(text=NOT_FOUND)
            return [SlotSet("order_number", None)]
        _, unlocked = verification(tracker)
        still = verified_now(order.email, unlocked)  # in use: the idle time starts again
        if action == "damaged":
            dispatcher.utter_message(text=f"I'm sorry order {order.number} didn't arrive as it should. "
                                          f"{public_status_text(order)} {DAMAGED_OPTIONS}", buttons=PERSON_BUTTONS)
            return [*still, SlotSet("human_offered", True)]
        if action in ("cancel", "cancel_refused") and not order.cancellable and not order.from_store:
            reason = ("it has already shipped" if order.status.value in ("shipped", "delivered")
                      else f"it is {order.status.value}")
            dispatcher.utter_message(text=f"Order {order.number} can't be cancelled because {reason}. "
                                          + ("Once it arrives you can return it within 30 days."
                                             if order.status.value == "shipped" else ""))
            return still
        if order.number not in unlocked:  # the number and email only: the status tier
            dispatcher.utter_message(text=public_status_text(order))
            return still
        if action in ("cancel", "return") and order.from_store:
            # The store holds the order: a change made only in Aisle's copy would not happen there.
            dispatcher.utter_message(text=STORE_CHANGE.format(change="cancel" if action == "cancel" else "return items "
                                                              "from", number=order.number), buttons=PERSON_BUTTONS)
            return [*still, SlotSet("human_offered", True)]
        if action == "cancel":
            dispatcher.utter_message(text=f"Order {order.number}: {items_text(order)}, total "
                                          f"{money(float(order.total), order.currency)}. Shall I cancel it?",
                                     buttons=YES_NO)
            return [*still, SlotSet("cancel_pending", True)]
        if action == "return":
            if order.returns:
                dispatcher.utter_message(text=status_text(order))
                return still
            problem = order.return_problem()
            if problem:
                dispatcher.utter_message(text=f"Order {order.number} can't be returned: {problem}.")
                return still
            return [*still, SlotSet("return_items", None), SlotSet("return_reason", None),
                    SlotSet("return_resolution", None), SlotSet("return_eligible", True)]
        dispatcher.utter_message(text=status_text(order))
        return still


class ActionCancelOrder(Action):
    def name(self) -> str:
        return "action_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        order = unlocked_order(tracker)
        if order is None:  # the verification ended between the question and the answer
            dispatcher.utter_message(text="I need to check it's you again before I change that order: ask me to "
                                          "cancel it once more, with the email and postcode.")
            return [SlotSet("cancel_pending", False)]
        try:
            order = orders_client.cancel(order.number, order.email)
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
        if CONFIRMS_CANCEL.search(latest_text(tracker)):  # "yes cancel it" heard as a no
            return await ActionCancelOrder().run(dispatcher, tracker, domain)
        dispatcher.utter_message(text=f"OK, order {tracker.get_slot('order_number')} stays as it is.")
        return [SlotSet("cancel_pending", False)]


class ActionAskReturnItems(Action):
    def name(self) -> str:
        return "action_ask_return_items"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        order = unlocked_order(tracker)
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
        order = unlocked_order(tracker)
        if order is None:
            return {}
        text = (tracker.latest_message.get("text") or "").lower()
        skus = [line.sku for line in order.lines]
        if len(skus) == 1 or ALL_ITEMS.search(text):
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
        order = unlocked_order(tracker)
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
