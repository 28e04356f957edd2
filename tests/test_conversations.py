"""The conversation-test runner (tests/conversations.py): its checks on hand-made replies, and the
whole tests/unseen/conversations.yml set through the real stack with the demo catalog."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import conversations as conv
from tests.conversations import Context, FormatError, Reply, check_turn

PASS_TARGET = 0.95  # issue #14's target, reported by `python -m tests.conversations`
# What make test holds the blind set to: the pass rate measured when this floor was set (47 of 67 on
# 2026-11-30, reports/conversations.md) less one conversation. A regression guard, not the target.
PASS_FLOOR = 0.68
# The set the e2e test runs; AISLE_CONVERSATIONS_FILE points it at another file while writing one.
UNSEEN = Path(os.environ.get("AISLE_CONVERSATIONS_FILE") or conv.DEFAULT_FILE)

CATALOG = {
    "HP-1": {"sku": "HP-1", "title": "Sonora Quietline 700 Headphones, Black",
             "category": "Electronics > Headphones", "brand": "Sonora", "price": 188.99, "rating": 4.2,
             "stock": 100,
             "attributes": {"color": "black", "noise_cancelling": True}},
    "HP-2": {"sku": "HP-2", "title": "Vello Air Headphones, White", "category": "Electronics > Headphones",
             "brand": "Vello", "price": 59.00, "rating": 4.6, "stock": 0, "attributes": {"colour": "White"}},
    "TS-1": {"sku": "TS-1", "title": "Trailhead Merino Tee, Navy", "category": "Clothing > Shirts",
             "brand": "Trailhead", "price": 35.00, "rating": 3.9, "stock": 5,
             "attributes": {"color": "navy", "sizes": ["S", "M", "L"], "material": "Merino wool"}},
}
UNKNOWN = ("Sorry, I didn't quite understand that. Could you say it another way?",
           "Sorry, I can only help with shopping at this store.")


def card(sku: str, title: str | None = None, price: float | None = None) -> dict:
    record = CATALOG.get(sku, {})
    return {"sku": sku, "title": title or record.get("title", "Mystery"),
            "price": price or record.get("price", 1.0)}


def reply(text: str = "", skus: tuple[str, ...] = (), mode: str = "bot", **extra) -> Reply:
    """One turn's reply as POST /api/messages gives it: a text message carrying the cards."""
    message = {"author": "bot", "text": text, **extra}
    if skus:
        message["cards"] = [card(s) for s in skus]
    return Reply([message], mode)


def failures(expect: dict, *replies: Reply) -> list[conv.Failure]:
    return check_turn(expect, Context(CATALOG, list(replies), UNKNOWN))


def passes(expect: dict, *replies: Reply) -> bool:
    return not failures(expect, *replies)


# --------------------------------------------------------------------------------------------- counts


def test_cards_min_and_max():
    r = reply("here", ("HP-1", "HP-2"))
    assert passes({"cards_min": 2, "cards_max": 2}, r)
    assert [f.key for f in failures({"cards_min": 3, "cards_max": 1}, r)] == ["cards_min", "cards_max"]


def test_cards_are_counted_over_every_message_of_the_turn():
    r = Reply([{"text": "a", "cards": [card("HP-1")]}, {"text": "", "custom": {"type": "cart", "items": []}},
               {"text": "Frequently bought together:", "cards": [card("HP-2"), card("TS-1")]}], "bot")
    assert r.skus == ["HP-1", "HP-2", "TS-1"]
    assert passes({"cards_min": 3}, r) and not passes({"cards_max": 2}, r)


def test_a_product_cards_custom_payload_counts_too():
    r = Reply([{"text": "x", "custom": {"type": "product_cards", "products": [card("HP-1")]}}], "bot")
    assert r.skus == ["HP-1"]


# --------------------------------------------------------------------------------------------- cards


@pytest.mark.parametrize("preds, good, bad", [
    ({"category": ["Electronics > Headphones"]}, "HP-1", "TS-1"),
    ({"category": ["Electronics"]}, None, "HP-1"),  # exact path, not a prefix
    ({"brand": ["sonora"]}, "HP-1", "HP-2"),
    ({"brand_not": ["Sonora"]}, "HP-2", "HP-1"),
    ({"color": ["white"]}, "HP-2", "HP-1"),  # "colour" attribute, case-insensitive
    ({"color": "navy"}, "TS-1", "HP-2"),  # a single value is a one-element list
    ({"color_not": ["black"]}, "HP-2", "HP-1"),
    ({"size": ["m"]}, "TS-1", "HP-1"),  # "sizes", list-valued: any element
    ({"material": ["merino wool"]}, "TS-1", "HP-1"),
    ({"material_not": ["Merino Wool"]}, "HP-1", "TS-1"),
    ({"price_min": 59}, "HP-2", "TS-1"),  # inclusive
    ({"price_max": 59}, "HP-2", "HP-1"),  # inclusive
    ({"in_stock": True}, "TS-1", "HP-2"),
    ({"title_has": ["quietline", "nothing"]}, "HP-1", "HP-2"),
    ({"title_not": ["MERINO"]}, "HP-1", "TS-1"),
])
def test_each_product_predicate(preds, good, bad):
    if good:
        assert passes({"every_card": preds}, reply("", (good,)))
    found = failures({"every_card": preds}, reply("", (bad,)))
    assert [f.key for f in found] == ["every_card"]
    assert found[0].got[0]["card"]["sku"] == bad and found[0].got[0]["problems"]


def test_predicates_read_the_catalog_record_not_the_card():
    lying = Reply([{"text": "", "cards": [{"sku": "HP-1", "title": "Cheap", "price": 1.0}]}], "bot")
    assert not passes({"every_card": {"price_max": 100}}, lying)


def test_a_sku_not_in_the_catalog_fails_every_predicate():
    found = failures({"some_card": {"title_not": ["zzz"]}}, reply("", ("NOPE-1",)))
    assert "not in the catalog" in found[0].got[0]["problems"][0]


def test_every_some_and_first_card():
    r = reply("", ("HP-1", "HP-2"))
    assert not passes({"every_card": {"brand": ["Vello"]}}, r)
    assert passes({"some_card": {"brand": ["Vello"]}}, r)
    assert not passes({"some_card": {"brand": ["Trailhead"]}}, r)
    assert passes({"first_card": {"brand": ["Sonora"]}}, r)
    assert not passes({"first_card": {"brand": ["Vello"]}}, r)
    # some_card: one card must meet every predicate at once
    assert not passes({"some_card": {"brand": ["Vello"], "color": ["black"]}}, r)


def test_card_checks_with_no_cards_fail_unless_none_were_asked_for():
    empty = reply("Sorry, nothing like that.")
    for key in conv.CARD_SELECTORS:
        assert not passes({key: {"brand": ["Sonora"]}}, empty)
    assert passes({"cards_max": 0, "every_card": {"brand": ["Sonora"]}}, empty)


def test_cheaper_than_turn():
    first = reply("", ("HP-1", "TS-1"))  # highest 188.99
    assert passes({"every_card": {"cheaper_than_turn": 1}}, first, reply("", ("HP-2", "TS-1")))
    assert not passes({"every_card": {"cheaper_than_turn": 1}}, first, reply("", ("HP-2", "HP-1")))
    assert not passes({"every_card": {"cheaper_than_turn": 1}}, reply("no cards"), reply("", ("HP-2",)))


# ------------------------------------------------------------------------------------- order, references


@pytest.mark.parametrize("order, good, bad", [
    ("price_asc", ("TS-1", "HP-2", "HP-1"), ("HP-1", "TS-1")),
    ("price_desc", ("HP-1", "HP-2", "TS-1"), ("TS-1", "HP-1")),
    ("rating_desc", ("HP-2", "HP-1", "TS-1"), ("TS-1", "HP-2")),
])
def test_sorted_by(order, good, bad):
    assert passes({"sorted_by": order}, reply("", good))
    assert not passes({"sorted_by": order}, reply("", bad))


def test_sorted_by_needs_two_cards_and_allows_ties():
    assert not passes({"sorted_by": "price_asc"}, reply("", ("HP-1",)))
    assert passes({"sorted_by": "price_asc"}, reply("", ("HP-2", "HP-2")))


def test_cards_differ_from_turn():
    first = reply("", ("HP-1", "HP-2"))
    assert passes({"cards_differ_from_turn": 1}, first, reply("", ("HP-2", "HP-1")))
    assert not passes({"cards_differ_from_turn": 1}, first, reply("", ("HP-1", "HP-2")))


def test_mentions_by_title_or_model_name():
    first = reply("", ("HP-1", "HP-2"))
    assert passes({"mentions": [1, 2]}, first, reply("The Vello Air Headphones, White: 30 hours of battery."))
    assert passes({"mentions": [1, 1]}, first, reply("The sonora quietline 700 headphones fold flat."))
    assert passes({"mentions": [1, -1]}, first, reply("Here are similar ones", ("HP-2",)))  # a card title
    assert not passes({"mentions": [1, 2]}, first, reply("The Sonora Quietline 700 Headphones fold flat."))
    found = failures({"mentions": [1, 3]}, first, reply("Vello Air Headphones"))
    assert found and "no card 3" in found[0].got


# --------------------------------------------------------------------------------------------- cart


CART_TEXT = ("Your cart (3 items):\n- 2 x Sonora Quietline 700 Headphones, Black: $377.98\n"
             "- 1 x Trailhead Merino Tee, Navy: $35.00\nTotal: $412.98")


def cart_payload(*lines: tuple[str, int]) -> dict:
    items = [{"sku": s, "title": CATALOG[s]["title"], "quantity": q, "unit_price": 1.0} for s, q in lines]
    return {"type": "cart", "items": items, "total": 0, "currency": "USD"}


def test_cart_from_the_text_actions_cart_writes():
    shown = reply("", ("HP-1", "TS-1"))
    r = reply(CART_TEXT)
    assert conv.cart_items(r) == [
        {"sku": None, "title": "Sonora Quietline 700 Headphones, Black", "quantity": 2},
        {"sku": None, "title": "Trailhead Merino Tee, Navy", "quantity": 1}]
    assert passes({"cart": [{"product": [1, 1], "qty": 2}, {"title_has": "merino", "qty": 1}]}, shown, r)
    assert not passes({"cart": [{"product": [1, 1], "qty": 1}, {"title_has": "merino", "qty": 1}]}, shown, r)
    assert not passes({"cart": [{"product": [1, 1], "qty": 2}]}, shown, r)  # exactly: the tee is extra
    twice = [{"title_has": "headphones", "qty": 2}, {"title_has": "headphones", "qty": 1}]
    assert not passes({"cart": twice}, shown, r)  # each entry takes its own line


def test_cart_from_a_structured_payload_wins_over_the_text():
    shown = reply("", ("HP-1", "TS-1"))
    r = Reply([{"text": CART_TEXT}, {"text": "", "custom": cart_payload(("HP-1", 1))}], "bot")
    assert passes({"cart": [{"product": [1, 1], "qty": 1}]}, shown, r)
    assert not passes({"cart": [{"product": [1, 2], "qty": 1}]}, shown, r)
    flat = Reply([{"text": "ok", **cart_payload(("TS-1", 4))}], "bot")  # a payload merged into the message
    assert passes({"cart": [{"title_has": "tee", "qty": 4}]}, flat)


def test_cart_entries_by_sku():
    r = Reply([{"text": "", "custom": cart_payload(("HP-1", 2))}], "bot")
    assert passes({"cart": [{"product": "HP-1", "qty": 2}]}, r)
    assert not passes({"cart": [{"product": "TS-1", "qty": 2}]}, r)
    found = failures({"cart": [{"product": "NO-SUCH", "qty": 2}]}, r)
    assert found and "no product NO-SUCH" in str(found[0].expected)


def test_empty_cart_and_no_cart():
    assert passes({"cart": []}, reply("Your cart is empty."))
    assert not passes({"cart": [{"title_has": "tee", "qty": 1}]}, reply("Your cart is empty."))
    found = failures({"cart": []}, reply("Here are some headphones", ("HP-1",)))
    assert found and found[0].got == "no cart in the reply"


# ------------------------------------------------------------------------------- text, understood, mode


def test_text_any_all_none():
    r = Reply([{"text": "Order 10001 has SHIPPED"}, {"text": "with UPS."}], "bot")
    assert passes({"text_any": ["delivered", "shipped"], "text_all": ["order 10001", "ups"],
                   "text_none": "cancel"}, r)
    assert not passes({"text_any": ["delivered", "cancelled"]}, r)
    assert not passes({"text_all": ["shipped", "fedex"]}, r)
    assert not passes({"text_none": ["ups"]}, r)


def test_understood():
    assert passes({"understood": True}, reply("Here are some headphones"))
    assert not passes({"understood": True}, reply(UNKNOWN[0]))
    assert passes({"understood": False}, reply(UNKNOWN[1]))


def test_not_understood_texts_come_from_the_domain():
    texts = conv.not_understood_texts()
    assert len(texts) >= len(conv.NOT_UNDERSTOOD_RESPONSES)
    assert any("bring in a person" in t for t in texts)


def test_mode():
    assert passes({"mode": "waiting"}, reply("Connecting you with a person", mode="waiting"))
    assert not passes({"mode": "bot"}, reply("Connecting you with a person", mode="waiting"))


def test_a_failed_request_fails_the_turn_once():
    found = failures({"cards_min": 1, "text_any": ["x"]}, Reply(status=503, error="HTTP 503: unavailable"))
    assert [(f.key, f.got) for f in found] == [("reply", "HTTP 503: unavailable")]


# --------------------------------------------------------------------------------------------- format


def doc(expect: dict, turns: int = 1, **conversation) -> dict:
    steps = [{"say": "hi", "expect": {}}] * (turns - 1) + [{"say": "hi", "expect": expect}]
    return {"conversations": [{"id": "c1", "covers": ["t"], "turns": steps, **conversation}]}


def test_the_example_format_loads(tmp_path: Path):
    path = tmp_path / "c.yml"
    path.write_text("""conversations:
- id: neg-brand-headphones
  covers: [negation]
  turns:
  - say: "do you have headphones?"
    expect:
      cards_min: 2
      every_card: {category: ["Electronics > Headphones"]}
  - say: "not from sonora please"
    expect:
      every_card: {category: ["Electronics > Headphones"], brand_not: ["Sonora"]}
      cart: [{product: [1, 2], qty: 1}, {title_has: "x", qty: 2}]
""")
    [c] = conv.load_conversations(path)
    assert c.id == "neg-brand-headphones" and c.covers == ("negation",) and len(c.turns) == 2
    assert c.turns[1].expect["every_card"]["brand_not"] == ["Sonora"]


@pytest.mark.parametrize("expect, turns, message", [
    ({"cards_minimum": 2}, 1, "conversation 'c1', turn 1: unknown expectation key 'cards_minimum'"),
    ({"every_card": {"colour": ["red"]}}, 1,
     "conversation 'c1', turn 1, every_card: unknown product predicate 'colour'"),
    ({"cart": [{"title_has": "x", "quantity": 1}]}, 1, "turn 1, cart entry 1: unknown key 'quantity'"),
    ({"mentions": [2, 1]}, 1, "'mentions[0]' must be a turn number from 1 to 1"),
    ({"sorted_by": "price"}, 1, "'sorted_by' must be one of"),
    ({"mode": "human"}, 2, "turn 2: 'mode' must be one of"),
    ({"cards_min": "two"}, 1, "'cards_min' must be a whole number"),
])
def test_format_errors_name_the_conversation_turn_and_key(expect, turns, message):
    with pytest.raises(FormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        conv.parse_conversations(doc(expect, turns))


def test_unknown_turn_and_conversation_keys():
    with pytest.raises(FormatError, match="conversation 'c1': unknown key 'tags'"):
        conv.parse_conversations(doc({}, tags=["x"]))
    bad = {"conversations": [{"id": "c1", "turns": [{"say": "hi", "expects": {}}]}]}
    with pytest.raises(FormatError, match="conversation 'c1', turn 1: unknown key 'expects'"):
        conv.parse_conversations(bad)


def test_check_turn_refuses_an_unknown_key_given_directly():
    with pytest.raises(FormatError, match="unknown expectation key 'nope'"):
        failures({"nope": 1}, reply("x"))


# ------------------------------------------------------------------------------------- runner and report


def test_runner_keeps_going_after_a_failure_and_reports():
    turns = [{"say": "headphones", "expect": {"cards_min": 5}},
             {"say": "cheaper", "expect": {"every_card": {"cheaper_than_turn": 1}}}]
    [c] = conv.parse_conversations({"conversations": [{"id": "c/1 with spaces", "covers": ["a", "b"],
                                                       "turns": turns}]})
    answers = iter([reply("Here", ("HP-1", "HP-2")), reply("Cheaper", ("HP-2",))])
    senders = []

    def send(sender, text):
        senders.append(sender)
        return next(answers)

    [record] = conv.run_conversations([c], send, CATALOG, UNKNOWN)
    assert len(set(senders)) == 1 and conv.SENDER_ID_OK.match(senders[0])
    assert not record["passed"] and [f["key"] for f in record["failures"]] == ["cards_min"]
    assert len(record["turns"]) == 2 and record["failures"][0]["reply"]["cards"][0]["sku"] == "HP-1"
    other = dict(record, id="other", passed=True, failures=[], covers=["a"])
    report = conv.summarise([record, other], "x.yml")
    assert report["overall"] == {"passed": 1, "total": 2, "rate": 0.5}
    assert report["by_tag"]["b"] == {"passed": 0, "total": 1, "rate": 0.0}
    md = conv.markdown(report)
    assert "| a | 1 | 2 | 50.0 % |" in md and "`cards_min`" in md and report["commit"] in md
    assert any("cards_min" in line for line in conv.failure_lines(report))


# --------------------------------------------------------------------------------------------- the unseen set


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory):
    """Every real service over the DEMO catalog (the session ``stack`` imports a small one)."""
    if os.environ.get("AISLE_SKIP_E2E") == "1":
        pytest.skip("AISLE_SKIP_E2E=1")
    if not UNSEEN.exists():
        pytest.skip(f"{UNSEEN} does not exist yet: no conversations to run")
    stack = conv.demo_stack(tmp_path_factory.mktemp("aisle-conversations"))
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()


@pytest.mark.e2e
def test_unseen_conversations_pass(demo_stack):
    """The blind-written set through the real stack: no fewer conversations pass than PASS_FLOOR."""
    conversations = conv.load_conversations(UNSEEN)
    records = conv.run_conversations(conversations, conv.api_sender(demo_stack.web_url), conv.load_catalog(),
                                     conv.not_understood_texts(), workers=conv.DEFAULT_WORKERS)
    report = conv.summarise(records, str(UNSEEN))
    o, rate = report["overall"], conv.pass_rate(report)
    if rate < PASS_FLOOR:  # pytest.fail, not assert: the traceback would print the stack's environment
        pytest.fail(f"{o['passed']}/{o['total']} conversations passed ({100 * rate:.1f} %, floor "
                    f"{100 * PASS_FLOOR:.0f} %, target {100 * PASS_TARGET:.0f} %):\n"
                    + "\n".join(conv.failure_lines(report)), pytrace=False)
