"""product_details and compare_products, answered from the product's own data."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_client
from actions.capabilities import declined
from actions.complements import answer_goes_with
from actions.compound import ABOUT_IT, answer_side_question, answered_by_article, split_question
from actions.presenters import card, money, results_message
from actions.references import IT, PLURAL, ask_which_or_what, named_model, referenced_products, shown
from actions.verification import verification
from aisle.models import InteractionKind
from catalog.documents import ProductView
from catalog.index import tokens
from catalog.interactions import Seen

# topic -> (words in the question, attribute keys that answer it)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "waterproof": (("waterproof", "water resistant", "water-resistant", "rain", "wet"), ("waterproof", "water_resistance")),
    "size": (("size", "sizes", "fit", "fits", "big", "dimension", "dimensions", "capacity", "how tall", "how wide",
              "hold", "holds", "cups", "litres", "liters", "ml"),
             ("size", "fits", "capacity", "screen", "width", "height", "diameter", "blade", "thickness")),
    "material": (("material", "made of", "made from", "fabric", "leather", "wool", "cotton", "steel", "stainless",
                  "plastic", "glass", "wood", "wooden", "metal", "aluminium", "aluminum", "ceramic", "silk"),
                 ("material",)),
    "colour": (("colour", "color", "colours", "colors"), ("color",)),
    "weight": (("weigh", "weight", "heavy", "light"), ("weight",)),
    "battery": (("battery", "charge", "charging"), ("battery",)),
    "age": (("age", "old", "kids", "children", "toddler"), ("age",)),
    "warmth": (("warm", "warmth", "cold", "temperature", "rated to", "degrees"), ("comfort_rating", "tog")),
    "pieces": (("how many", "pieces", "pack of", "set of"), ("pieces", "count", "pack_size")),
}
COUNTED = re.compile(r"\b(?:\d+|two|three|four|five|six|eight|ten|twelve|pair)\b", re.I)
# "does the aluminium one lock?": the words naming the product are not what the question asks about
ONE_NAMED = re.compile(r"\bthe (?:[\w-]+ ){1,3}ones?\b", re.I)
GENERIC = re.compile(r"\b(?:tell me (?:more )?about|more (?:info|information|details)|details|describe|"
                     r"what is it|what's it like|about (?:it|that|this))\b", re.I)
# "does the Kestrel Air 13 come in blue?": answered about the blue variant (in_colour_asked_for)
COMES_IN = re.compile(r"\b(?:come|comes|available|get (?:it|one|them)|have (?:it|one|them)|sold)\s+in\b", re.I)
# "do the canvas ones come in a 12?": the size asked for, after COMES_IN
SIZE_ASKED = re.compile(
    r"\bin\s+(?:an?\s+|(?:a\s+)?size\s+|uk\s+|us\s+|eu\s+)?(\d{1,2}(?:\.5)?|x{0,3}[sml]|xx?l)\b"
    r"(?!\s*(?:colou?rs?|sizes?|styles?|versions?|shades?|finish))", re.I)
# "what colours can I get it in?", "any other colors?": the model's variants, not this one's colour
COLOURS_ASKED = re.compile(r"\b(?:what|which|other|more)\s+colou?rs\b|\bcolou?r (?:options|choices)\b", re.I)
# "how much does it weigh?", "how much coffee does it hold?": a "how much" that does not ask the price
NOT_PRICE = re.compile(r"\b(?:weigh|weighs|hold|holds|fit|fits|power|storage|memory|ram|battery)\b", re.I)
STOPWORDS = set("the a an is it this that one does do what how of for in on to with be are there".split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def describe_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def overview(p: ProductView) -> str:
    rating = f" Rated {p.rating:.1f}/5 by {p.rating_count or 0} customers." if p.rating is not None else ""
    stock = "" if p.stock > 0 else " Currently out of stock."
    return f"{p.title}: {money(p.price, p.currency)}.{rating}{stock} {p.description}"


def answer_about(p: ProductView, question: str) -> str:
    q = question.lower()
    if GENERIC.search(q) or q.startswith("/"):  # "tell me about the first one", a Details button
        return overview(p)
    colour = str(p.attributes.get("color") or "").lower()
    if colour and COMES_IN.search(q) and re.search(rf"\b{re.escape(colour)}\b", q):
        stock = "." if p.stock > 0 else ", but it's out of stock just now."
        return f"Yes, the {p.title} comes in {colour}{stock}"
    if (sizes := p.attributes.get("size")) and COMES_IN.search(q) and (asked := SIZE_ASKED.search(q)):
        offered = [str(v) for v in (sizes if isinstance(sizes, list) else [sizes])]
        if asked.group(1).lower() in {v.lower() for v in offered}:
            return f"Yes, the {p.title} comes in size {asked.group(1).upper()}."
        return (f"Sorry, the {p.title} doesn't come in size {asked.group(1).upper()}: "
                f"{', '.join(offered)} only.")
    if re.search(r"\b(stock|available|availability|left|ship)\b", q):
        return (f"Yes, the {p.title} is in stock ({p.stock} available)." if p.stock > 0
                else f"The {p.title} is out of stock at the moment.")
    if re.search(r"\b(review|reviews|rating|rated|stars)\b", q):
        if p.rating is None:
            return f"The {p.title} has no reviews yet."
        return f"The {p.title} is rated {p.rating:.1f} out of 5 by {p.rating_count or 0} customers."
    named = [k for k in p.attributes if re.search(rf"\b{re.escape(k.replace('_', ' '))}\b", q)]
    if named:  # "how much ram does it have", "what storage", "which tog is the duvet"
        return f"For the {p.title}, " + "; ".join(f"{k.replace('_', ' ')}: {describe_value(p.attributes[k])}"
                                                  for k in named) + "."
    if re.search(r"\b(price|cost|costs)\b", q) or re.search(r"\bhow much\b", q) and not NOT_PRICE.search(q):
        return f"The {p.title} costs {money(p.price, p.currency)}."
    if re.search(r"\b(warranty|guarantee|guaranteed)\b", q):
        found = [s for s in sentences(p.description) if re.search(r"warrant|guarant", s, re.I)]
        return f"{found[0]}" if found else f"The product information for the {p.title} doesn't mention a warranty."
    asked = ONE_NAMED.sub(" ", q)  # the topic is in what the question asks, not in how it names the product
    for topic, (words, keys) in TOPICS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", asked) for w in words):
            values = [(k, p.attributes[k]) for k in keys if k in p.attributes]
            if topic == "pieces" and not values:
                continue  # "how many cups does it make?" asks about something else
            if values:
                facts = "; ".join(f"{k.replace('_', ' ')}: {describe_value(v)}" for k, v in values)
                # "how many towels in the set?": the description's words for it too, when it has them
                nouns = set(re.findall(r"[a-z]{4,}", asked)) - set(tokens(p.title.lower())) - STOPWORDS - set(words)
                said = [s for s in sentences(p.description) if nouns & set(re.findall(r"[a-z]+", s.lower()))]
                said.sort(key=lambda s: topic == "pieces" and not COUNTED.search(s))  # a count first
                return f"For the {p.title}, {facts}." + (f" {said[0]}" if said else "")
            found = [s for s in sentences(p.description) if any(w in s.lower() for w in words)]
            if found:
                return found[0]
            return f"The product information for the {p.title} doesn't say anything about its {topic}."
    words = [w for w in re.findall(r"[a-z]+", q) if w not in STOPWORDS and len(w) > 2]
    found = [s for s in sentences(p.description) if any(w in s.lower() for w in words)]
    if found:
        return " ".join(found[:2])
    return (f"The product information for the {p.title} doesn't say. Here is what it does say: "
            f"{sentences(p.description)[0]}")


class ActionProductDetails(Action):
    def name(self) -> str:
        return "action_product_details"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if declined(dispatcher, text):  # "can you play me a sample of the first one?"
            return []
        goes_with = answer_goes_with(dispatcher, tracker)
        if goes_with is not None:  # "just bought the Kaffeo Burr 40 grinder, what would go well with it?"
            return goes_with
        request, question = split_question(text)  # "how big is the 2nd one and do you do gift wrapping?"
        if question and not ABOUT_IT.search(question) and not named_model(question):
            text = request  # a question about the store, not this product (nor one it names)
        else:
            question = None
        referenced = referenced_products(tracker)
        # "is the Kaffeo gooseneck kettle stainless steel?" with nothing on screen: find it, then answer
        named = None if referenced else named_product(text)
        listed = shown(tracker)
        if referenced or named:
            product = referenced[0] if referenced else named
        elif (not IT.search(text) or not listed) and answered_by_article(dispatcher, text):
            # "what's the warranty like on electronics?", or "what if I drop it, is that covered?" with no
            # product on screen: the store's rules, not a product
            return []
        elif listed and IT.search(text) and not PLURAL.search(text) and (
                top := catalog_client.products(listed[:1])):
            product = top[0]  # "how thick is it?" under a list: the top result, which the answer names
        else:
            ask_which_or_what(
                tracker, dispatcher, "Which one do you mean? You can say \"the first one\" or tap Details on a product.",
                "Which product would you like to know about? Try searching for it first.")
            return []
        if COLOURS_ASKED.search(text) and (choices := colour_choices(product)):
            intro, variants = choices
            dispatcher.utter_message(**results_message(intro, [v.as_result(0.0) for v in variants]))
            return [SlotSet("shown_skus", [v.sku for v in variants]), SlotSet("focus_sku", None)]
        product, answer = in_colour_asked_for(product, text)
        answer = answer or answer_about(product, text)
        dispatcher.utter_message(text=answer, json_message={"type": "product_cards", "products": [card(product)]})
        catalog_client.record(InteractionKind.view, [Seen(product.sku)], tracker.sender_id, verification(tracker)[0])
        if question:
            answer_side_question(dispatcher, question)
        # A product picked from the list leaves the list on screen: after "is the second one leather?",
        # "I'll take the first one" still means the list's first.
        return [SlotSet("focus_sku", product.sku),
                SlotSet("shown_skus", listed if product.sku in listed else [product.sku])]


def colour_choices(product: ProductView) -> tuple[str, list[ProductView]] | None:
    """The colours the product's model comes in, those in stock first, or None when it has one colour."""
    coloured = [v for v in catalog_client.engine().model_variants(product.sku) if v.attributes.get("color")]
    if len(coloured) < 2:
        return None
    in_stock, sold_out = [v for v in coloured if v.stock > 0], [v for v in coloured if v.stock <= 0]
    model = product.title.split(",")[0]
    if not in_stock:
        return f"The {model} is out of stock in every colour just now:", sold_out
    intro = f"The {model} comes in {colour_names(in_stock)}"
    return intro + (f" ({colour_names(sold_out)} out of stock just now):" if sold_out else ":"), in_stock + sold_out


def colour_names(products: list[ProductView]) -> str:
    return ", ".join(str(p.attributes["color"]) for p in products)


def in_colour_asked_for(product: ProductView, text: str) -> tuple[ProductView, str | None]:
    """"does the Kestrel Air 13 come in blue?" about its silver variant: the model's blue variant (which
    the answer then confirms), or a plain no naming the colours it does come in."""
    asked = catalog_client.engine().parse(text)[0].colors if COMES_IN.search(text) else []
    if not asked or str(product.attributes.get("color") or "").lower() in asked:
        return product, None
    variants = catalog_client.engine().model_variants(product.sku)
    if match := next((v for v in variants if str(v.attributes.get("color") or "").lower() in asked), None):
        return match, None
    colours = sorted({str(v.attributes["color"]) for v in variants if v.attributes.get("color")})
    return product, (f"Sorry, the {product.title} doesn't come in {' or '.join(asked)}"
                     + (f": it comes in {', '.join(colours)}." if colours else "."))


def named_product(text: str) -> ProductView | None:
    """The best match for a message that names a kind of product the catalog has or one of its brands
    ("the sonora quietline 700"), maybe with a model, or None when it names neither."""
    engine = catalog_client.engine()
    stated = engine.parse(text)[0]
    if not stated.category and not stated.brands:
        return None
    found = engine.search(text, limit=1).items
    return catalog_client.products([found[0]["sku"]])[0] if found else None


def comparison_rows(products: list[ProductView]) -> list[tuple[str, list[str]]]:
    """Attributes whose values differ between the products (price and rating always)."""
    rows: list[tuple[str, list[str]]] = [
        ("price", [money(p.price, p.currency) for p in products]),
        ("rating", [f"{p.rating:.1f}/5 ({p.rating_count or 0})" if p.rating is not None else "none" for p in products]),
    ]
    candidates = {"brand": [p.brand or "-" for p in products], "in stock": ["yes" if p.stock > 0 else "no" for p in products]}
    keys = sorted({k for p in products for k in p.attributes})
    for key in keys:
        candidates[key.replace("_", " ")] = [describe_value(p.attributes.get(key, "-")) for p in products]
    rows += [(name, values) for name, values in candidates.items() if len(set(values)) > 1]
    return rows


# Where a message naming several products divides them ("A or B", "A vs B", "between A and B", "A with B").
PARTS = re.compile(r"\s(?:or|and|vs\.?|versus|with|against)\s|\s[-–]\s|[,?]", re.IGNORECASE)


class ActionCompareProducts(Action):
    def name(self) -> str:
        return "action_compare_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        from actions.search import ActionRefineSearch, sort_of  # late: search imports answer_about from here

        if sort_of(tracker.latest_message.get("text") or "") and shown(tracker):
            # "which ones have the best reviews? sort by rating" orders the results, compares none
            return await ActionRefineSearch().run(dispatcher, tracker, domain)
        products = referenced_products(tracker, every_match=True)  # "compare the sonora headphones"
        text = tracker.latest_message.get("text") or ""
        named = [] if len(products) >= 2 or shown(tracker) else named_in_parts(text)
        if len(named) >= 2:  # "Volta Sleep Buds or Sonora Run Hooks - which is better?", none on screen
            products = named
        elif len(products) < 2:
            products = catalog_client.products(shown(tracker)[:2]) if len(products) == 0 else (
                products + [p for p in catalog_client.products(shown(tracker)) if p.sku != products[0].sku][:1])
        if len(products) < 2:
            dispatcher.utter_message(text="Show me at least two products first, then ask me to compare them.")
            return []
        rows = comparison_rows(products) + described_rows(products, text)
        names = " vs ".join(p.title for p in products)
        lines = [f"{name}: " + " | ".join(values) for name, values in rows]
        dispatcher.utter_message(
            text="\n".join([f"{names}", *lines]),
            json_message={"type": "comparison", "products": [card(p) for p in products],
                          "rows": [{"attribute": n, "values": v} for n, v in rows]},
        )
        # the named ones are now what "the cheaper of those two" means
        return [SlotSet("shown_skus", [p.sku for p in products]), SlotSet("focus_sku", None)] if named else []


def described_rows(products: list[ProductView], question: str) -> list[tuple[str, list[str]]]:
    """"which one has the better battery?": for a topic the question asks about that the products'
    attributes lack, each one's description sentence on it ("lasts a full working day", "12 hours")."""
    rows = []
    for topic, (words, keys) in TOPICS.items():
        if not any(re.search(rf"\b{re.escape(w)}", question.lower()) for w in words):  # "weighs", "lighter"
            continue
        if any(k in p.attributes for p in products for k in keys):
            continue  # already a row of its own
        said = [next((s for s in sentences(p.description) if any(w in s.lower() for w in words)), "-")
                for p in products]
        if any(s != "-" for s in said):
            rows.append((topic, said))
    return rows


def named_in_parts(text: str, by_kind: bool = True) -> list[ProductView]:
    """The products a message names one by one ("the Roamly Soft Underseat or the Packwell Cabin"), each
    part by its brand and model or else (``by_kind``) its kind; [] unless at least two different ones."""
    found: dict[str, ProductView] = {}
    for part in PARTS.split(text):
        product = (named_model(part) or (named_product(part) if by_kind else None)) if part.strip() else None
        if product:
            found.setdefault(product.sku, product)
    return list(found.values()) if len(found) >= 2 else []
