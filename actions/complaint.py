"""complain: an apology and the offer of a person, who can actually put things right, after the help
article for the problem when there is one ("my parcel came smashed": what to do about a damaged item)."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_client
from actions.faq import OFFER_BUTTONS, follow_up_question
from actions.handoff import hand_off
from actions.references import shown
from actions.search import ActionRefineSearch, narrows_the_results

# "this is useless, get me a human please": the shopper has already said yes to a person
ASKS_FOR_PERSON = re.compile(r"\b(?:talk|speak|chat|get|put|connect|transfer|pass|want|need|give)\b.{0,30}\b"
                             r"(?:human|real person|a person|someone|somebody|an agent|representative|"
                             r"manager|supervisor)\b", re.IGNORECASE)
APOLOGY = ("I'm sorry about that. A person from our team can look into it and put it right. "
           "Shall I bring someone in?")


class ActionAcknowledgeComplaint(Action):
    def name(self) -> str:
        return "action_acknowledge_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if ASKS_FOR_PERSON.search(text):
            return hand_off(dispatcher, "requested")
        if shown(tracker) and narrows_the_results(text):  # "not lavender, hate that smell" about the results
            return await ActionRefineSearch().run(dispatcher, tracker, domain)
        follow_up = follow_up_question(tracker, text)  # "I did that already and the email never came"
        article = ((follow_up and knowledge_client.confident_answer(follow_up))
                   or knowledge_client.confident_answer(text))
        if article:
            dispatcher.utter_message(text=f"I'm sorry about that. {article}")
            dispatcher.utter_message(text="If you'd rather, a person from our team can look into it. Shall I "
                                          "bring someone in?", buttons=OFFER_BUTTONS)
        else:
            dispatcher.utter_message(text=APOLOGY, buttons=OFFER_BUTTONS)
        return [SlotSet("human_offered", True)]
