"""One honest answer for every intent whose capability is not built yet.

Each later issue replaces the rule that routes its intent here with real actions, and deletes
that intent's line below.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

PENDING: dict[str, str] = {
    "complain": "following up on complaints",
}


def pending_message(intent: str | None) -> str:
    what = PENDING.get(intent or "", "that request")
    return (
        f"I understood you're asking about {what}, but I can't do that yet: it's coming soon. "
        "Sorry for the inconvenience!"
    )


class ActionCapabilityPending(Action):
    def name(self) -> str:
        return "action_capability_pending"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        dispatcher.utter_message(text=pending_message(intent))
        return []
