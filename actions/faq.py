"""Store-policy questions answered from the knowledge base, and the shopper's "did that help?".

Confident → the entry's answer and a yes/no feedback question; medium, or two entries with different
answers fitting about equally → "did you mean" buttons with the closest questions; low → say so,
remember the question for the admins, and offer a person.
"""
from __future__ import annotations

import json
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client, knowledge_client
from actions.compound import answer_side_question, search_clause, split_question
from actions.needs import CAPABILITY_REQUEST, answer_need
from actions.references import entity_values, shown
from actions.search import run_search
from catalog.search import Constraints
from knowledge.retrieval import FaqAnswer

ASK_FEEDBACK = "Did that answer your question?"
FEEDBACK_BUTTONS = [{"title": "Yes, thanks", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
NO_ANSWER = ("I don't have a good answer to that in our help articles. "
             "Would you like me to bring in a person from our team?")
DID_YOU_MEAN = "I'm not sure I understood. Did you mean one of these?"
CANNOT_PROMISE = "Sorry, I can't promise that here. These help articles may answer it:"
WHICH_ONE = "I have more than one answer that could fit. Which one do you mean?"
OFFER_BUTTONS = [{"title": "Yes, a person please", "payload": "/affirm"}, {"title": "No thanks", "payload": "/deny"}]
# "is there a minimum spend for that?", "I did that already and the email never came", "how long would it
# take to get there?": words that lean on what was just said
FOLLOW_UP = re.compile(r"\b(?:that|it|there|this|those|them|they|already)\b", re.IGNORECASE)
# "if i open them can i still send them back?" with earbuds on screen: a policy question about the
# products in view, which the knowledge base can only match once their kind is named.
ABOUT_PRODUCTS = re.compile(r"\b(?:it|its|them|they|these|those|this one|that one|the ones?)\b",
                            re.IGNORECASE)


def give_answer(dispatcher: CollectingDispatcher, entry_id: int, answer: str) -> list[dict[str, Any]]:
    dispatcher.utter_message(text=answer)
    dispatcher.utter_message(text=ASK_FEEDBACK, buttons=FEEDBACK_BUTTONS)
    return [SlotSet("faq_entry_id", str(entry_id)), SlotSet("faq_feedback_asked", True),
            SlotSet("human_offered", False)]


def follow_up_question(tracker: Tracker, question: str) -> str | None:
    """"is there a minimum spend for that?" just after the instalments article: the question together
    with that article's, which the knowledge base can match; None when it follows no answer."""
    if not FOLLOW_UP.search(question):
        return None
    users = 0
    for event in reversed(tracker.events):  # the article must be the answer to the message before this one
        users += event.get("event") == "user"
        if users > 1:
            return None
        if users == 1 and event.get("event") == "slot" and event.get("name") == "faq_entry_id":
            value = str(event.get("value"))
            entry = knowledge_client.entry_answer(int(value)) if value.isdigit() else None
            return f"{entry[0]} {question}" if entry else None
    return None


def answer_in_context(tracker: Tracker, question: str) -> FaqAnswer:
    """The knowledge base's answer, asked also with the article just given when the question follows it
    up and finds none alone, and with the kind of product in view when the question points at it;
    whichever matches an article better."""
    result = knowledge_client.answer(question)
    if result.kind != "answer" and (follow_up := follow_up_question(tracker, question)):
        # only when the question alone finds no answer: "can I stack it with another code?" has its own
        again = knowledge_client.answer(follow_up)
        result = again if best_score(again) > best_score(result) else result
    in_view = [tracker.get_slot("focus_sku")] if tracker.get_slot("focus_sku") else shown(tracker)[:1]
    if not in_view or not ABOUT_PRODUCTS.search(question):
        return result
    products = catalog_client.products(in_view)
    if not products or catalog_client.engine().parse(question)[0].category is not None:  # names its own kind
        return result
    kind = products[0].category_leaf.lower()
    about = knowledge_client.answer(f"{kind}: {question}")
    return about if best_score(about) > best_score(result) else result


def best_score(result: FaqAnswer) -> float:
    return result.best.score if result.best else 0.0


def answer_from_knowledge_base(dispatcher: CollectingDispatcher, tracker: Tracker,
                               only_if_confident: bool = False) -> list[dict[str, Any]] | None:
    """Answer the latest message from the KB; None when ``only_if_confident`` and it is not."""
    question = tracker.latest_message.get("text") or ""
    result = answer_in_context(tracker, tracker.latest_message.get("normalised_text") or question)
    if result.kind == "answer" and result.best:
        return give_answer(dispatcher, result.best.entry_id, result.best.answer)
    if only_if_confident:
        return None
    if result.kind == "suggest":
        # "can you deliver it by drone?" with no article that says so: a plain no first, then the near ones
        lead = (WHICH_ONE if result.ambiguous
                else CANNOT_PROMISE if CAPABILITY_REQUEST.search(question) else DID_YOU_MEAN)
        dispatcher.utter_message(text=lead, buttons=[
            {"title": m.question, "payload": f"/faq{json.dumps({'faq_id': m.entry_id})}"} for m in result.matches])
        return []
    need = answer_need(dispatcher, question)  # "my back is killing me after a day at my desk"
    if need is not None:
        return need
    knowledge_client.record_miss(question, result, tracker.sender_id)
    dispatcher.utter_message(text=NO_ANSWER, buttons=OFFER_BUTTONS)
    return [SlotSet("human_offered", True)]


class ActionFaq(Action):
    def name(self) -> str:
        return "action_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        for value in entity_values(tracker, "faq_id"):  # a "did you mean" button
            try:
                found = knowledge_client.entry_answer(int(value))
            except (TypeError, ValueError):
                found = None
            if found:
                return give_answer(dispatcher, int(value), found[1])
        text = tracker.latest_message.get("text") or ""
        wanted = search_clause(text)  # "what's your return window? also show me some wallets"
        if wanted:
            return answer_side_question(dispatcher, text[:text.rfind(wanted)]) + run_search(
                dispatcher, wanted, Constraints(), new=True)
        # "a desk lamp under 60, and how long does delivery take?": the search, then the answer.
        request, question = split_question(text)
        if question and catalog_client.engine().parse(request)[0].category:
            return run_search(dispatcher, request, Constraints(), new=True) + answer_side_question(dispatcher, question)
        return answer_from_knowledge_base(dispatcher, tracker) or []


class ActionFaqFeedback(Action):
    def name(self) -> str:
        return "action_faq_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        helpful = tracker.latest_message.get("intent", {}).get("name") == "affirm"
        entry_id = tracker.get_slot("faq_entry_id")
        if entry_id and str(entry_id).isdigit():
            knowledge_client.record_feedback(int(entry_id), helpful, tracker.sender_id)
        reset = [SlotSet("faq_feedback_asked", False), SlotSet("faq_entry_id", None)]
        if helpful:
            dispatcher.utter_message(text="Glad I could help! Anything else?")
            return reset
        dispatcher.utter_message(text="Sorry that didn't help. Would you like me to bring in a person?",
                                 buttons=OFFER_BUTTONS)
        return [*reset, SlotSet("human_offered", True)]
