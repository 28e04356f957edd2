"""Handing the conversation to a person.

Live handoff needs the gateway and agent console (their own issues); until then the bot says so
honestly instead of pretending a person is coming.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

HANDOFF_NOT_AVAILABLE = (
    "I can't bring a person into this chat yet: live handoff to our team is still being set up. "
    "I'm sorry about that. I can still help with greetings and general questions here."
)


class ActionHumanHandoff(Action):
    def name(self) -> str:
        return "action_human_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=HANDOFF_NOT_AVAILABLE)
        return [SlotSet("human_offered", False)]


class ActionDeclineHuman(Action):
    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_human_declined")
        return [SlotSet("human_offered", False)]
