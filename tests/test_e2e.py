"""End to end through the real services: NLU server, action server, Rasa (SQL tracker store), web app."""
from __future__ import annotations

import uuid

import pytest

from aisle.internal_auth import bearer_headers
from tests.e2e_stack import http_json

pytestmark = pytest.mark.e2e


def texts(replies):
    return " ".join(r.get("text", "") for r in replies)


def test_greeting_then_gibberish_twice_offers_a_human(stack):
    sender = f"e2e-{uuid.uuid4().hex}"
    assert "I'm Aisle" in texts(stack.say(sender, "hi"))
    assert "say it another way" in texts(stack.say(sender, "blorp fnargle wibble"))
    offer = stack.say(sender, "zzxq vlomp qwerty")
    assert "bring in a person" in texts(offer)
    assert [b["payload"] for b in offer[0]["buttons"]] == ["/affirm", "/deny"]


def test_the_fine_tuned_model_drives_the_dialogue(stack):
    text = "where is my order 10482?"
    auth = bearer_headers(stack.secret)  # what Rasa sends (endpoints.yml)
    status, nlu = http_json("POST", f"{stack.settings.nlu_url}/model/parse", {"text": text}, headers=auth)
    assert status == 200 and nlu["intent"]["name"] == "order_status"
    _, health = http_json("GET", f"{stack.settings.nlu_url}/health", headers=auth)
    assert health["model"]["kind"] == "minilm-l6-finetuned"

    sender = f"e2e-{uuid.uuid4().hex}"
    replies = stack.say(sender, text)
    last_user = [e for e in stack.tracker(sender)["events"] if e["event"] == "user"][-1]
    # Rasa stored exactly what the NLU server answered, entities included, and acted on it.
    assert last_user["parse_data"]["intent"] == nlu["intent"]
    assert last_user["parse_data"]["intent_ranking"] == nlu["intent_ranking"]
    assert [(e["entity"], e["value"]) for e in last_user["parse_data"]["entities"]] == [("order_id", "10482")]
    assert "email address you used for that order" in texts(replies)  # the order form asks next


def test_shopping_conversation(stack):
    """search -> refine twice -> details of "the second one" -> add to cart -> view cart."""
    sender = f"e2e-{uuid.uuid4().hex}"

    def cards(replies):
        return [p["sku"] for r in replies for p in (r.get("custom") or {}).get("products", [])]

    assert set(cards(stack.say(sender, "show me hiking boots"))) == {"HB-600", "HB-601"}
    assert set(cards(stack.say(sender, "any of them under $200?"))) == {"HB-600", "HB-601"}
    assert cards(stack.say(sender, "sort by price")) == ["HB-601", "HB-600"]
    details = stack.say(sender, "is the second one waterproof?")
    assert "Waterproof Leather Hiking Boots" in texts(details) and "waterproof: yes" in texts(details)
    assert "Added 1 x Waterproof Leather Hiking Boots" in texts(stack.say(sender, "add it to my cart"))
    cart = texts(stack.say(sender, "what's in my basket?"))
    assert "1 x Waterproof Leather Hiking Boots" in cart and "Total: $149.00" in cart


def test_other_languages_get_an_english_only_answer(stack):
    replies = stack.say(f"e2e-{uuid.uuid4().hex}", "où est ma commande s'il vous plaît")
    assert "only chat in English" in texts(replies)


def test_web_app_relays_the_conversation(stack):
    status, body = stack.chat(f"web-{uuid.uuid4().hex}", "are you a bot?")
    assert status == 200
    assert "automated assistant" in texts(body["messages"])


def test_conversation_survives_a_rasa_restart(stack):
    sender = f"e2e-{uuid.uuid4().hex}"
    stack.say(sender, "hello")
    stack.say(sender, "blorp fnargle wibble")
    stack.say(sender, "zzxq vlomp qwerty")  # the bot now waits for an answer to its offer
    before = stack.tracker(sender)["events"]

    stack.stop("rasa")
    stack.start("rasa")
    stack.wait_until_healthy()

    after = stack.tracker(sender)
    assert after["events"][: len(before)] == before
    assert after["slots"]["human_offered"] is True
    # The restored state drives the dialogue: "yes" now accepts the offer made before the restart.
    assert "bring in a person" in texts(stack.say(sender, "yes please"))
