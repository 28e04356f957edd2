"""Requests for things a chat assistant cannot do (try it on, show it in my room, play a sound sample, hold
an item, haggle, phone the shopper, look at the shopper's photo): a plain "can't" with what it can do
instead, whichever intent the message was classified as ("can you play me a sample of the first one?"
reads as a question about a product, "can u hold one for me" as a search)."""
from __future__ import annotations

import re

from rasa_sdk.executor import CollectingDispatcher

UNSUPPORTED = re.compile(
    r"\b(?:"
    r"(?:look|looks|would look|fit|fits) (?:like )?on me|try (?:it|them|this|that|these|those|one|\w+)? ?on\b.{0,20}"
    r"(?:virtual|webcam|camera|photo|online|here)|virtual(?:ly)? try|try[- ]on|augmented reality|(?-i:\bAR\b)|"
    r"(?:see|show|place|put|view) (?:it|them|this|that|one)? ?in my (?:room|living room|bedroom|kitchen|house|home|space)|"
    r"play (?:me )?(?:a |some )?(?:sample|sound|demo|clip|recording|audio)|how (?:it|they|the \w+ ones?) sounds?|"
    r"(?:hold|reserve|save|keep|put aside|set aside) (?:one|it|them|this|that|an?) (?:\w+ )?(?:for me|until|till|untill)|"
    r"knock (?:\d+ ?%?|some|a bit|\$?\d+) off|haggle|best (?:price|offer) you can do|"
    r"(?:call|phone|ring|text|video ?call) me\b|"
    r"(?:send|upload|share) (?:you )?(?:a |some |my )?(?:photo|picture|pic|image|video)s?\b"
    r")",
    re.IGNORECASE,
)
REPLY = ("Sorry, I can't do that here. I can show you the products and their details, compare them, put them "
         "in your cart, answer questions about the store, or bring in a person from our team.")


def declined(dispatcher: CollectingDispatcher, text: str) -> bool:
    """Answer a request for something the assistant cannot do; True when it was one."""
    if not UNSUPPORTED.search(text):
        return False
    dispatcher.utter_message(text=REPLY)
    return True
