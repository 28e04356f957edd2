"""Handing the conversation to a person.

The action tells the shopper and emits a ``{"type": "handoff"}`` payload; the gateway (bot/gateway.py)
sees it, puts the conversation in the agents' queue and stops relaying messages to Rasa until an
agent hands it back, so the bot's context is intact afterwards.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

HANDOFF_TEXT = "I'll bring in a person from our team. They'll see our conversation so far."


def hand_off(dispatcher: CollectingDispatcher, reason: str) -> list[dict[str, Any]]:
    dispatcher.utter_message(text=HANDOFF_TEXT, json_message={"type": "handoff", "reason": reason})
    return [SlotSet("human_offered", False)]


class ActionHumanHandoff(Action):
    def name(self) -> str:
        return "action_human_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return hand_off(dispatcher, "requested")


class ActionDeclineHuman(Action):
    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_human_declined")
        return [SlotSet("human_offered", False)]
