"""The parser's decision rules and spelling normalisation, on a scripted stand-in for the model (fast)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import pytest

from aisle.config import REPO_ROOT
from nlu_models.augment import Augmenter, add_typos, greeting_openers, typo_word
from nlu_models.data import parse_annotated
from nlu_models.parser import Parser, greeting_remainder
from nlu_models.spelling import Speller, to_original, vocabulary
from text_tools.lookups import load_static

STATIC = load_static(REPO_ROOT / "data" / "nlu" / "lookups")
LABELS = ["add_to_cart", "cancel_order", "faq", "greet", "nlu_fallback", "order_status", "out_of_scope",
          "recommend", "return_request", "search_product"]


@dataclass
class ScriptedModel:
    """Answers each text with the probabilities scripted for it (uniform-ish otherwise)."""

    script: dict[str, dict[str, float]]
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    seen: list[str] = field(default_factory=list)

    def probabilities(self, texts):
        rows = []
        for text in texts:
            self.seen.append(text)
            given = self.script.get(text, {})
            rest = (1.0 - sum(given.values())) / (len(self.labels) - len(given))
            rows.append([given.get(label, rest) for label in self.labels])
        return np.array(rows)


def parser(script, **kwargs) -> Parser:
    return Parser(ScriptedModel(script), threshold=0.6, max_chars=500, lookups=lambda: STATIC, **kwargs)


def test_a_greeting_glued_to_a_request_is_the_request():
    p = parser({"hi, do you sell kettles": {"greet": 0.7},
                "do you sell kettles": {"search_product": 0.9}})
    result = p.parse("hi, do you sell kettles")
    assert result["intent"]["name"] == "search_product"
    assert result["decision_rule"] == "greeting"
    assert result["intent_ranking"][0]["name"] == "search_product"


def test_a_greeting_that_confuses_the_model_is_looked_past():
    p = parser({"morning, I'm after a duvet": {"out_of_scope": 0.7},
                "I'm after a duvet": {"search_product": 0.8}})
    assert p.parse("morning, I'm after a duvet")["intent"]["name"] == "search_product"


def test_a_greeting_alone_or_with_small_talk_stays_a_greeting():
    p = parser({"hello": {"greet": 0.95}, "hi there, hope you're well": {"greet": 0.8},
                "hope you're well": {"greet": 0.3}})
    assert p.parse("hello")["intent"]["name"] == "greet"
    result = p.parse("hi there, hope you're well")
    assert result["intent"]["name"] == "greet"  # the remainder alone is a fallback: keep the greeting
    assert "decision_rule" not in result


def test_a_greeting_glued_to_catalog_terms_is_a_shopping_request():
    p = parser({"hey, any tents?": {"greet": 0.9}, "any tents?": {"search_product": 0.4, "refine_search": 0.3}})
    result = p.parse("hey, any tents?")
    assert result["intent"]["name"] == "search_product"
    assert result["decision_rule"] == "catalog_terms"


def test_a_confident_request_is_not_reclassified():
    p = parser({"hey, where is my order": {"order_status": 0.9}, "where is my order": {"faq": 0.9}})
    assert p.parse("hey, where is my order")["intent"]["name"] == "order_status"


@pytest.mark.parametrize("text, rest", [
    ("hi, do you sell kettles", "do you sell kettles"),
    ("Hello! I need a tent", "I need a tent"),
    ("good morning - any rugs?", "any rugs?"),
    ("hey there can u help", "can u help"),
    ("hi", None),
    ("hi!!!", None),
    ("highlights please", None),
    ("hello, 🙂", None),
])
def test_greeting_remainder(text, rest):
    assert greeting_remainder(text, ("hi", "hello", "hey there", "hey", "good morning")) == rest


@pytest.mark.parametrize("top", ["faq", "complain", "nlu_fallback", "greet"])
def test_order_number_and_email_go_to_the_best_ranked_order_intent(top):
    text = "order 10482 jane@example.com"
    scripted = {"faq": 0.5, "cancel_order": 0.2, "return_request": 0.1} if top == "faq" else \
        {"cancel_order": 0.3, "return_request": 0.2} if top == "nlu_fallback" else {}
    p = parser({text: scripted} if top != "greet" else {text: {"greet": 0.9, "return_request": 0.05}})
    result = p.parse(text)
    expected = {"faq": "cancel_order", "nlu_fallback": "cancel_order", "greet": "return_request"}.get(top)
    if top == "complain":  # the model's labels have no complain: uniform scores tie, order_status is the default
        expected = "order_status"
    assert result["intent"]["name"] == expected
    assert result["decision_rule"] == "order_lookup"
    assert {e["entity"] for e in result["entities"]} >= {"order_id", "email"}


def test_an_order_number_alone_keeps_the_models_answer():
    p = parser({"is 10482 a lucky number": {"out_of_scope": 0.9}})
    assert p.parse("is 10482 a lucky number")["intent"]["name"] == "out_of_scope"


@pytest.mark.parametrize("text", ["something in navy", "is cashmere itchy", "what about kettles then"])
def test_messages_naming_catalog_terms_are_never_refused(text):
    p = parser({text: {"recommend": 0.35, "search_product": 0.25, "greet": 0.3}})
    result = p.parse(text)
    assert result["intent"]["name"] == "recommend"  # the best shopping intent, not greet
    assert result["decision_rule"] == "catalog_terms"
    assert result["intent"]["confidence"] == 0.35


@pytest.mark.parametrize("text,decided", [("show me e-readers", "search_product"), ("kettles", "search_product"),
                                          ("do you do king size duvets", "search_product"),
                                          ("any cashmere?", "refine_search")])
def test_messages_of_nothing_but_catalog_terms_are_product_requests(text, decided):
    p = parser({text: {"recommend": 0.35, "search_product": 0.25, "greet": 0.3}})
    result = p.parse(text)
    assert result["intent"]["name"] == decided
    assert result["decision_rule"] == "only_catalog_terms"


def test_noise_with_a_catalog_term_is_not_refused_either():
    p = parser({"asdfgh kettle": {"nlu_fallback": 0.8, "search_product": 0.1}})
    assert p.parse("asdfgh kettle")["intent"]["name"] == "search_product"


def test_without_catalog_terms_low_confidence_still_falls_back():
    p = parser({"what is the meaning of this": {"recommend": 0.4, "search_product": 0.3}})
    result = p.parse("what is the meaning of this")
    assert result["intent"]["name"] == "nlu_fallback"
    assert result["fallback_reason"] == "low_confidence"
    assert result["intent_ranking"][1]["name"] == "recommend"


def test_catalog_terms_in_a_message_the_model_finds_out_of_scope():
    p = parser({"what colour is the sky, blue?": {"out_of_scope": 0.55, "search_product": 0.05}})
    result = p.parse("what colour is the sky, blue?")
    assert result["intent"]["name"] == "out_of_scope"  # honest: not turned into a product search
    assert result["decision_rule"] == "catalog_terms"


def test_rules_off_is_the_plain_model_and_threshold():
    p = parser({"hi, do you sell kettles": {"greet": 0.7}, "do you sell kettles": {"search_product": 0.9}},
               rules=False)
    assert p.parse("hi, do you sell kettles")["intent"]["name"] == "greet"
    assert p.model.seen == ["hi, do you sell kettles"]  # no second pass


SPELLER = Speller(vocabulary(["I want to return it", "add it to my cart", "show me cheaper ones",
                              "looking for sneakers", "where is my order", "return the kettle"]),
                  known=frozenset({"the", "these", "shoes", "sonora", "crate"}))


@pytest.mark.parametrize("word, fixed", [
    ("retrun", "return"), ("crat", "cart"), ("cheeper", "cheaper"), ("lookng", "looking"),
    ("ordr", "order"), ("sneekers", "sneakers"),
    ("shoes", None), ("crate", None), ("the", None), ("zzzzzz", None), ("kettle", None), ("u", None),
    ("eturn", None),  # corrections keep the first letter
])
def test_speller_fixes_one_slip_towards_training_words(word, fixed):
    assert SPELLER.correct(word) == fixed


def test_normalised_text_maps_entity_spans_back():
    text = "Retrun the kettel and ad sneekers"
    speller = SPELLER.with_terms(["kettle"])
    norm, edits = speller.normalise(text)
    assert norm == "Return the kettle and ad sneakers"
    start = norm.index("kettle")
    assert to_original(start, start + len("kettle"), edits) == (11, 17)
    start = norm.index("sneakers")
    assert text[slice(*to_original(start, start + 8, edits))] == "sneekers"
    assert to_original(0, 3, edits) == (0, 6)  # inside an edit: its whole span


def test_parser_classifies_the_corrected_text_and_finds_corrected_entities():
    p = parser({"i want to return the kettle": {"return_request": 0.9}},
               speller=Speller(vocabulary(["i want to return it"]), known=frozenset({"i", "want", "to", "the"})))
    result = p.parse("i want to retrun the kettel")
    assert result["intent"]["name"] == "return_request"
    assert result["text"] == "i want to retrun the kettel"
    kettle = [e for e in result["entities"] if e["entity"] == "product_type"]
    assert [(e["value"], e["start"], e["end"]) for e in kettle] == [("kettle", 21, 27)]
    assert result["normalised_text"] == "i want to return the kettle"  # for the help-article lookup
    assert "normalised_text" not in p.parse("i want to return the kettle")


@pytest.mark.parametrize("text,model_says,decided", [
    ("red kettles", {"nlu_fallback": 0.7}, "search_product"),
    ("kettles", {"greet": 0.7}, "search_product"),
    ("some black ones please", {"out_of_scope": 0.8}, "refine_search"),
    ("my red kettle is broken", {"return_request": 0.8}, "return_request"),
    ("sorry i meant black", {"nlu_fallback": 0.8}, "refine_search"),  # a correction, not a "no"
    ("no, black", {"out_of_scope": 0.8}, "refine_search"),  # more than catalog terms: the model's call
    ("cancel the red kettles", {"cancel_order": 0.9}, "cancel_order"),  # a confident model is not overruled
])
def test_when_the_model_doubts_nothing_but_catalog_terms_is_a_product_request(text, model_says, decided):
    assert parser({text: model_says}, speller=None).parse(text)["intent"]["name"] == decided


def test_typos_are_seeded_single_slips():
    rng = random.Random(3)
    assert typo_word("ab", rng) == "ab"
    for _ in range(50):
        word = "return"
        slipped = typo_word(word, rng)
        assert abs(len(slipped) - len(word)) <= 1
    a, b = random.Random(7), random.Random(7)
    assert [add_typos("please cancel my order", a) for _ in range(5)] == \
        [add_typos("please cancel my order", b) for _ in range(5)]


def test_augmenter_glues_openers_from_greet_examples_and_swaps_catalog_terms():
    examples = [parse_annotated(t, i) for t, i in [
        ("hi", "greet"), ("good morning", "greet"), ("hello, can you help me?", "greet"),
        ("show me [red](color) [kettles](product_type)", "search_product")]]
    assert greeting_openers(examples) == ["good morning", "hi"]
    aug = Augmenter.from_data(examples, {"product_type": ["tent", "rug"], "color": ["blue"]})
    rng = random.Random(1)
    swapped = {aug.swap_entities(examples[-1], rng) for _ in range(30)}
    assert swapped <= {f"show me {c} {p}" for c in ("red", "blue") for p in ("kettles", "tents", "rugs")}
    assert len(swapped) > 1
    variants = [aug.variant(examples[-1], rng) for _ in range(40)]
    assert any(v.lower().startswith(("hi", "good morning")) for v in variants)


def test_a_kind_of_product_the_shop_sells_is_never_out_of_scope():
    p = parser({"I collect board games": {"out_of_scope": 0.8, "search_product": 0.1}})
    tables = STATIC.merged(type(STATIC)({"product_type": {"board game": "board game"}}))
    p.lookups = lambda: tables
    result = p.parse("I collect board games")
    assert result["intent"]["name"] == "search_product" and result["decision_rule"] == "catalog_type"


def test_a_no_with_an_excluded_value_is_a_refinement():
    labels = LABELS + ["deny", "refine_search"]
    p = Parser(ScriptedModel({"not in black please": {"deny": 0.9}}, labels=sorted(labels)), threshold=0.6,
               max_chars=500, lookups=lambda: STATIC)
    result = p.parse("not in black please")
    assert result["intent"]["name"] == "refine_search" and result["decision_rule"] == "exclusion"
    assert [e["role"] for e in result["entities"] if e["entity"] == "color"] == ["excluded"]


def test_words_nobody_knows_are_noise_not_an_unrelated_request():
    p = parser({"blorp fnargle wibble": {"out_of_scope": 0.9}, "tell me a joke": {"out_of_scope": 0.9}})
    result = p.parse("blorp fnargle wibble")
    assert result["intent"]["name"] == "nlu_fallback" and result["fallback_reason"] == "unknown_words"
    assert p.parse("tell me a joke")["intent"]["name"] == "out_of_scope"


EXTRA_LABELS = ("complain", "goodbye", "bot_challenge", "human_handoff", "refine_search", "compare_products",
                "add_to_cart")


def scripted(script: dict[str, dict[str, float]], *extra: str) -> Parser:
    return Parser(ScriptedModel(script, labels=sorted(set(LABELS) | set(extra))), threshold=0.6, max_chars=500,
                  lookups=lambda: STATIC)


@pytest.mark.parametrize("text, model_says, decided, rule", [
    # a complaint that excludes something is a refinement (a concrete request, not dissatisfaction)
    ("nothing wool, it makes me itch", "complain", "refine_search", "exclusion"),
    # a goodbye that names a product type and says no goodbye
    ("now gooseneck kettles", "goodbye", "search_product", "catalog_type"),
    ("now gooseneck kettles", "complain", "search_product", "catalog_type"),
    # "a person, not a bot" asks for a person
    ("honestly i want a person not a bot", "bot_challenge", "human_handoff", "wants_person"),
    ("can i chat with a human about it pls", "nlu_fallback", "human_handoff", "wants_person"),
    # an order intent for a message that names products and no order of one's own
    ("bit pricey. got a cheaper kettle?", "return_request", "search_product", "not_an_order"),
    # an order intent with no order named, asked as a condition or duration, is the store's policy
    ("if i open them can i still return them?", "return_request", "faq", "policy_question"),
    ("how long do i have to send it back", "return_request", "faq", "policy_question"),
    # a comparison or an add-to-cart that only names a colour asks for the ones on screen in it
    ("do they come in navy?", "compare_products", "refine_search", "qualifier"),
    ("got a clear one?", "add_to_cart", "refine_search", "qualifier"),
    # a ranking of products, not the assistant's pick
    ("best rated tents?", "recommend", "search_product", "ranking"),
    ("which r the best reviewed", "recommend", "refine_search", "ranking"),
    ("which is the best rated one", "nlu_fallback", "refine_search", "ranking"),
])
def test_what_the_message_says_overrides_a_misleading_intent(text, model_says, decided, rule):
    p = scripted({text: {model_says: 0.9, "search_product": 0.05}}, *EXTRA_LABELS)
    tables = STATIC.merged(type(STATIC)({"product_type": {"tents": "tent"}}))
    p.lookups = lambda: tables
    result = p.parse(text)
    assert (result["intent"]["name"], result.get("decision_rule")) == (decided, rule)


@pytest.mark.parametrize("text, model_says", [
    ("bye, thanks for the kettle tips", "goodbye"),  # says goodbye
    ("the kettle arrived broken and nobody answers", "complain"),  # says what went wrong
    ("am i talking to a real person?", "bot_challenge"),  # asks what the bot is
    ("can i still return it?", "return_request"),  # a request about the order just shown
    ("how long does my refund take for order 10002?", "return_request"),  # names an order
    ("i want to return the kettle", "return_request"),  # a return of one's own
    ("how do i send back a jacket that doesnt fit", "return_request"),
    ("navy or black, which is better?", "compare_products"),
    ("add the black one", "add_to_cart"),
    ("what would you recommend for a beginner runner?", "recommend"),
])
def test_those_rules_leave_what_the_model_got_right(text, model_says):
    p = scripted({text: {model_says: 0.9}}, *EXTRA_LABELS)
    assert p.parse(text)["intent"]["name"] == model_says
