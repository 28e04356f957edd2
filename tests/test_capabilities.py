"""What the assistant cannot do gets a plain "can't", whatever intent the message was read as."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.capabilities import REPLY, declined


@pytest.mark.parametrize("text", [
    "can you show me what it would look like on me? i can send you a photo",
    "can you play me a sample of how the first one sounds?",
    "can i try it on virtually with my webcam?",
    "can u hold one for me untill payday next friday",
    "knock 50% off the pro 16 and i'll buy it right now, deal?",
    "can you show it in my living room with augmented reality",
    "could you call me about the sofa",
])
def test_requests_for_what_a_chat_cannot_do_are_declined(text):
    dispatcher = CollectingDispatcher()
    assert declined(dispatcher, text) and dispatcher.messages[0]["text"] == REPLY


@pytest.mark.parametrize("text", [
    "show me running shoes", "how do they fit, true to size?", "can you show me red kettles", "do they hold their shape",
    "is there a sample size", "i want to keep it", "can i try them on in store?", "phone case for my iphone",
    "what are the ar coatings on these glasses",
])
def test_shopping_requests_are_not(text):
    dispatcher = CollectingDispatcher()
    assert not declined(dispatcher, text) and not dispatcher.messages
