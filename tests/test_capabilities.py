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
    "can someone ring me on 555 0134 to help me choose a rug",
    "if i send you a photo of my living room can you tell me if it fits?",
])
def test_requests_for_what_a_chat_cannot_do_are_declined(text):
    dispatcher = CollectingDispatcher()
    assert declined(dispatcher, text) and dispatcher.messages[0]["text"] == REPLY


@pytest.mark.parametrize("text", [
    "show me running shoes", "how do they fit, true to size?", "can you show me red kettles", "do they hold their shape",
    "is there a sample size", "i want to keep it", "can i try them on in store?", "phone case for my iphone",
    "what are the ar coatings on these glasses", "show photos of the red kettle",
    "do you have picture frames",
])
def test_shopping_requests_are_not(text):
    dispatcher = CollectingDispatcher()
    assert not declined(dispatcher, text) and not dispatcher.messages


@pytest.mark.parametrize("action, text, intent", [
    ("recommend", "good evening! can someone ring me on 555 0134 to help me choose a rug", "recommend"),
    ("out_of_scope", "if i send you a photo of my living room can you tell me if it fits?", "out_of_scope"),
])
async def test_recommend_and_out_of_scope_decline_them_too(action, text, intent):
    from actions.needs import ActionOutOfScope
    from actions.recommend import ActionRecommend
    from tests.conftest import tracker_for, user_event

    dispatcher = CollectingDispatcher()
    run = {"recommend": ActionRecommend, "out_of_scope": ActionOutOfScope}[action]()
    events = await run.run(dispatcher, tracker_for([user_event(text, intent)], {}), {})
    assert events == [] and [m["text"] for m in dispatcher.messages] == [REPLY]
