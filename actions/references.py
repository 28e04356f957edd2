"""Which product(s) a message refers to: "the second one", "it", "the blue one", a button's sku."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client
from catalog.documents import ProductView
from catalog.index import tokens
from catalog.search import NOT_EXCLUDABLE, model_name


# Words that point at several products at once ("the sonora ones", "both of the black ones").
PLURAL = re.compile(r"\b(?:ones|both|all|them|those|these|each|every)\b", re.IGNORECASE)
# Words that point at the product in focus ("is it waterproof?"), whatever other words the message has.
POSSESSIVE = re.compile(r"['’]s$")
IT = re.compile(r"\b(?:it|this|that)\b", re.IGNORECASE)
# "the mini one, what's it made of?": a product named by a word of its title, though the question says "it"
THE_ONE = re.compile(r"\bthe (?:\w+ ){1,2}one\b", re.IGNORECASE)
# "the cheapest of those", "the priciest one", "the best-rated": one product on screen by price or rating
# ("cheapest first" sorts them instead).
EXTREME = re.compile(r"\b(?:(?P<low>cheapest|least expensive|lowest[- ]priced|most affordable)|"
                     r"(?P<high>most expensive|priciest|dearest)|"
                     r"(?P<top>best[- ]rated|highest[- ]rated|top[- ]rated))\b(?!\s+(?:ones?\s+)?first)",
                     re.IGNORECASE)
EXTREME_KEYS = {"low": lambda v: v.price, "high": lambda v: -v.price, "top": lambda v: -(v.rating or 0.0)}


def entity_values(tracker: Tracker, name: str) -> list[Any]:
    """The values the latest message asks for: not those it rules out ("i hate cables" names no cable)."""
    return [e.get("value") for e in tracker.latest_message.get("entities", [])
            if e.get("entity") == name and e.get("role") != "excluded"]


def shown(tracker: Tracker) -> list[str]:
    return list(tracker.get_slot("shown_skus") or [])


def referenced_products(tracker: Tracker, every_match: bool = False) -> list[ProductView]:
    """Products the latest message points at, most explicit signal first; [] when it points at none.
    "The navy one" is the first navy card on screen; "the navy ones" (or ``every_match``) all of them."""
    skus = [str(s) for s in entity_values(tracker, "sku")]
    listed = shown(tracker)
    text = tracker.latest_message.get("text") or ""
    several = every_match or PLURAL.search(text) is not None
    if not skus and listed:
        for ordinal in entity_values(tracker, "ordinal"):
            try:
                index = int(ordinal)
            except (TypeError, ValueError):
                continue
            position = index - 1 if index > 0 else len(listed) + index
            if 0 <= position < len(listed):
                skus.append(listed[position])
    extreme = EXTREME.search(text)
    if not skus and listed and extreme and extreme.lastgroup:
        skus.append(min(catalog_client.products(listed), key=EXTREME_KEYS[extreme.lastgroup]).sku)
    colors = [str(v).lower() for v in entity_values(tracker, "color")]
    if skus and colors:  # "the first one but in navy": that model in navy
        skus = [v.sku if any(_mentions(v, c) for c in colors)
                else (colour_variants([v], colors) or [v])[0].sku for v in catalog_client.products(skus)]
    if not skus and listed and colors:
        # "is the gooseneck one available in cream?": the model named by its title, in that colour
        plain = " ".join(w for w in tokens(text) if w not in {t for c in colors for t in tokens(c)})
        named = named_on_screen(plain, catalog_client.products(listed), several=False)
        skus += [v.sku for v in colour_variants(named, colors) or named]
    if not skus and listed:
        views = catalog_client.products(listed)
        for name in ("brand", "product", "color"):
            wanted = [str(v).lower() for v in entity_values(tracker, name)]
            for word in wanted:
                matches = [v for v in views if _mentions(v, word)]
                if not several and len(matches) > 1:  # "the softloom zero twist set": the brand's one named
                    matches = named_on_screen(text, matches, several=False) or matches
                skus += [v.sku for v in (matches if several else matches[:1])]
            if skus:
                break
        if not skus and colors:  # "the black one" of a model shown in another colour
            skus += [v.sku for v in colour_variants(views, colors)]
        # "is it waterproof?" asks about the product in focus, "the mini one, is it…?" names one
        if not skus and (not IT.search(text) or THE_ONE.search(text)):
            skus += [v.sku for v in named_on_screen(text, views, several)]
    if not skus and tracker.get_slot("focus_sku"):
        skus.append(tracker.get_slot("focus_sku"))
    if not skus and len(listed) == 1:
        skus = listed
    if not skus and listed and tracker.get_slot("search_query"):
        # "how much does it weigh?" after "show me the Northpeak Trekker 2 tent": the model searched for
        searched = named_model(str(tracker.get_slot("search_query")))
        if searched is not None:
            skus += [v.sku for v in catalog_client.products(listed)
                     if model_name(v) == model_name(searched)][:1]
    return catalog_client.products(list(dict.fromkeys(skus)))


def named_on_screen(text: str, views: list[ProductView], several: bool) -> list[ProductView]:
    """"the farm memory one": the product on screen whose title has the most of the message's words that
    not every title on screen shares; none when two models fit equally (all of those when ``several``).
    Colours of one model fit equally: "the gooseneck one" is the first of them."""
    words = {w for w in plain_words(text) if len(w) > 2 and w not in NOT_EXCLUDABLE}
    titles = {v.sku: plain_words(v.title) for v in views}
    common = set.intersection(*titles.values()) if titles else set()
    scores = {v.sku: len(words & (titles[v.sku] - common)) for v in views}
    best = max(scores.values(), default=0)
    chosen = [v for v in views if best and scores[v.sku] == best]
    if several or len({model_name(v) for v in chosen}) == 1:
        return chosen if several else chosen[:1]
    return []


def plain_words(text: str) -> set[str]:
    """Words without a possessive "'s": "the chef's knife" names the Chef 20 cm Knife."""
    return {POSSESSIVE.sub("", w) for w in tokens(text)}


def named_model(text: str) -> ProductView | None:
    """The product a message names by its brand and model ("a Tressa Curl Hydrate shampoo", "the white
    Volta Budget Buds"), in the colour or size it states; None unless the best search hit's brand and more
    of its model's words are in the message than of any other model of that brand ("a Tressa shampoo"
    names none), or when the stated colour or size had to be dropped."""
    if text.startswith("/"):  # a button's payload names its product by sku
        return None
    engine = catalog_client.engine()
    response = engine.search(text, limit=1)
    if not response.items:
        return None
    best = engine.by_sku[response.items[0]["sku"]]
    # A dropped colour or size is not this product; an attribute only lifts ("waterproof"), and a size in
    # the model's own name ("Day Hike 30 L") is the model
    dropped = set(response.relaxed) - {"attrs", "materials"}
    if "sizes" in dropped and all(size.lower() in best.title.lower() for size in engine.parse(text)[0].sizes):
        dropped.discard("sizes")
    if dropped:
        return None
    words = set(tokens(text)) - NOT_EXCLUDABLE
    brand = set(tokens(best.brand or ""))
    if not brand or not brand <= words:
        return None

    def overlap(view: ProductView) -> int:  # the brand and the title before its colour/size ("…, Black")
        return len(words & (brand | set(tokens(view.title.split(",")[0]))))

    mine = overlap(best)
    rivals = [overlap(variants[0]) for name, variants in engine.models.items()
              if name != model_name(best) and variants[0].brand == best.brand]
    if mine <= len(brand) or mine <= max(rivals, default=0):
        return None
    return next(iter(catalog_client.products([best.sku])), None)


def products_or_ask(tracker: Tracker, dispatcher: CollectingDispatcher, ask_which: str,
                    ask_what: str) -> list[ProductView]:
    """The referenced products; when there are none, ask which (products on screen) or what (none)."""
    products = referenced_products(tracker)
    if not products:
        ask_which_or_what(tracker, dispatcher, ask_which, ask_what)
    return products


def ask_which_or_what(tracker: Tracker, dispatcher: CollectingDispatcher, ask_which: str,
                      ask_what: str) -> None:
    dispatcher.utter_message(text=ask_which if shown(tracker) else ask_what)


def colour_variants(views: list[ProductView], colors: list[str]) -> list[ProductView]:
    """Other colours of the models on screen: the catalog's products of the same model in these colours."""
    engine = catalog_client.engine()
    return [v for view in views for v in engine.model_variants(view.sku)
            if any(_mentions(v, c) for c in colors)][:1]


def _mentions(view: ProductView, word: str) -> bool:
    color = str(view.attributes.get("color", "")).lower()
    return word in view.title.lower() or word == (view.brand or "").lower() or word == color
