"""complain: an apology and the offer of a person, who can actually put things right."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import OFFER_BUTTONS

APOLOGY = ("I'm sorry about that. A person from our team can look into it and put it right. "
           "Shall I bring someone in?")


class ActionAcknowledgeComplaint(Action):
    def name(self) -> str:
        return "action_acknowledge_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=APOLOGY, buttons=OFFER_BUTTONS)
        return [SlotSet("human_offered", True)]
