"""Turns shopper messages into Rasa's parse JSON: intent, ranking, entities, with the fallback decision.

After the model's ranking and the confidence threshold, rules use what the message itself says
(each reported as ``decision_rule`` for API users):

- ``greeting``: a greeting glued to a request ("hi, do you sell kettles") is the request: when the
  whole message comes out as greet, out_of_scope or fallback, the text after the greeting is
  classified too and its intent is taken unless that is a fallback as well.
- ``order_lookup``: an order number and an email in one message go to the order intent the model
  ranks highest among order_status / cancel_order / return_request, so the order form is filled in
  that turn.
- ``exclusion``: a no, a greeting or a complaint that excludes a catalog value ("nothing wool, it makes
  me itch") is a refinement.
- ``catalog_type`` (also below): a greet, goodbye or complaint that names a product type but says neither
  hello, goodbye nor what went wrong ("now gooseneck kettles") is a product request.
- ``qualifier``: "do they come in navy?" read as a comparison, or "got a clear one?" read as adding to
  the cart, is a refinement.
- ``not_an_order``: an order intent for a message that names products and no order of one's own ("bit
  pricey. got a cheaper kettle?") is the best ranked shopping intent.
- ``ranking``: "best rated tents?" read as a recommendation, or not placed at all, is a search (a
  refinement without a product type).
- ``wants_person``: "a person, not a bot" is a handoff request.
- ``policy_question``: an order intent with no order named, asked as a condition or a duration ("if i
  open them can i still return them?"), is the store's policy (faq).
- ``catalog_terms``: a message naming a product type, brand, colour, material or size of the
  catalog (the lookup tables) is never refused: instead of ``nlu_fallback`` it gets the best ranked
  shopping intent, or out_of_scope when the model ranks that above every shopping intent ("how do I
  root an android phone" names a phone but is no shopping request).

Before the model, words it cannot know are normalised (nlu_models.spelling): "retrun" -> "return".
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from nlu_models.spelling import Speller, to_original
from text_tools import entities, language
from text_tools.lookups import LOOKUP_ENTITIES, LookupTables

FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
RANKING_SIZE = 10
# Button payloads such as ``/affirm`` or ``/add_to_cart{"quantity": 2}`` name the intent directly.
INTENT_COMMAND = re.compile(r"^/(?P<intent>[A-Za-z_][\w-]*)(?P<entities>\{.*\})?$", re.DOTALL)
ORDER_INTENTS = ("order_status", "cancel_order", "return_request")  # the first is the default
# Conversation management: a message naming catalog terms is not refused in favour of these.
NOT_SHOPPING = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "human_handoff", OUT_OF_SCOPE,
                FALLBACK_INTENT}
# Greetings used when a model's metadata has none (models trained before the greeting rule).
DEFAULT_OPENERS = ("hi", "hello", "hey", "hey there", "hi there", "hiya", "good morning", "good afternoon",
                   "good evening", "morning", "evening", "yo", "howdy", "greetings")
GREETING_GLUE = r"(?:\s*[,!.:;~\-]+\s*|\s+)"
# Answers that say nothing about products: with a negated catalog value they are a refinement.
# Words that may stand around catalog terms in a bare product request ("some red kettles please").
REQUEST_FILLER = set("a an the some any in of with for and or please pls plz show me i want need looking ones one "
                     "got have do you u size sized colour color "
                     # a correction: "sorry i meant single", "no, black", "actually make it cream"
                     "no nope sorry actually meant mean rather instead oops oh make it".split())
CONVERSATIONAL = {"deny", "affirm", "greet", "goodbye", "thank", FALLBACK_INTENT}
# A greet or goodbye must say hello or goodbye: "now gooseneck kettles" is no farewell.
SALUTATION = re.compile(r"\b(?:hi|hello|hey|hiya|howdy|yo|morning|afternoon|evening|greetings|bye|goodbye|"
                        r"cya|see (?:you|ya)|later|farewell|good ?night|that'?s (?:all|it)|done|cheers)\b", re.I)
# A complaint says what went wrong; "now gooseneck kettles" says nothing of the kind.
GRIEVANCE = re.compile(r"\b(?:sorry|broke|broken|damaged|crushed|defective|faulty|wrong|missing|late|delay\w*|never|"
                       r"still|terrible|awful|horrible|worst|bad|poor|unacceptable|disappoint\w*|angry|upset|annoy\w*|"
                       r"frustrat\w*|ridiculous|rude|hate|useless|complain\w*|refund|scam|ripped off|waste)\b", re.I)
# "I want a person, not a bot" asks for a person (human_handoff), it does not ask what the bot is.
WANTS_PERSON = re.compile(r"\b(?:want|need|get|give|talk|speak|chat|connect|transfer|put)\b.{0,25}"
                          r"\b(?:person|human|agent|someone|somebody|representative|operator|staff|people)\b", re.I)
# Words of an order of one's own: without them (and without an order number or email), an order intent
# for a message that names products ("bit pricey. got a cheaper kettle?") is shopping.
ORDER_WORDS = re.compile(r"\b(?:my|our|orders?|ordered|package|parcel|deliver\w*|shipp\w*|arriv\w*|track\w*|refund\w*|"
                         r"broken|damaged|defective|faulty|wrong|missing|(?:send|take|give)\w*\b.{0,25}\bback|money back|"
                         r"do(?:es)?n'?t fit|too (?:small|big|large|tight|loose)|"
                         r"return\w*|exchang\w*|cancel\w*|bought|purchased?|received?|got it|sent)\b",
                         re.I)
# Without these words "do they come in navy?" compares nothing: it asks for the ones on screen in navy.
COMPARING = re.compile(r"\b(?:compare|comparison|vs|versus|difference|differ|better|best|which|or)\b", re.I)
# Without a word of putting something in the cart, "got a clear one?" asks for the clear ones.
CARTING = re.compile(r"\b(?:add|adding|cart|basket|bag|take|buy|purchase|order|put|throw|grab|get me|i'?ll have|"
                     r"i want|gimme|give me)\b", re.I)
# "best rated tents?", "which r the best reviewed": a ranking of products, not the assistant's pick.
RANKED = re.compile(r"\b(?:(?:best|highest|top)[- ]?(?:rated|reviewed)|most (?:stars|reviews)|cheapest|lowest price|"
                    r"most expensive|priciest)\b", re.I)
# An order intent with no order named, asked as a condition or a duration, is the store's policy (faq):
# "if i open them can i still return them?", "how long do i have to send it back".
POLICY_QUESTION = re.compile(r"^\W*(?:(?:and|but|so|ok|okay|also|hey|hi)\W+)*(?:if|what if|suppose|how long|how many "
                             r"days|how soon|how much time|is there (?:a|any)|do you (?:offer|do|accept|allow|charge))\b",
                             re.I)


class IntentScorer(Protocol):
    labels: list[str]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray: ...


@lru_cache(maxsize=8)
def greeting_pattern(openers: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(o) for o in sorted(openers, key=len, reverse=True))
    return re.compile(rf"^\s*(?:{alternatives})(?:[!.]*){GREETING_GLUE}(?P<rest>.*\w.*)$", re.IGNORECASE | re.DOTALL)


def greeting_remainder(text: str, openers: Sequence[str]) -> str | None:
    """What follows a greeting at the start of ``text`` ("hi, do you sell kettles" -> "do you sell kettles")."""
    if not openers:
        return None
    m = greeting_pattern(tuple(openers)).match(text)
    if not m:
        return None
    rest = m.group("rest").strip()
    return rest if language.has_words(rest) else None


def names_catalog_terms(found: list[dict[str, Any]]) -> bool:
    return any(e["entity"] in LOOKUP_ENTITIES for e in found)


@dataclass
class Parser:
    model: IntentScorer
    threshold: float
    max_chars: int
    lookups: Callable[[], LookupTables] = LookupTables
    speller: Speller | None = None
    openers: Sequence[str] = DEFAULT_OPENERS
    rules: bool = True  # False: the model and threshold alone (the parser before the rules, for benchmarks)
    _spellers: dict[int, Speller] = field(default_factory=dict, repr=False)

    def parse(self, text: str) -> dict[str, Any]:
        return self.parse_many([text])[0]

    def parse_many(self, texts: list[str]) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [self._without_model(t) for t in texts]
        pending = [i for i, r in enumerate(results) if r is None]
        if pending:
            clipped = [texts[i].strip()[: self.max_chars] for i in pending]
            tables = self.lookups()
            normalised = [self._normalise(t, tables) for t in clipped]
            rests = [greeting_remainder(n, self.openers) if self.rules else None for n, _ in normalised]
            extra = [r for r in rests if r]
            probs = self.model.probabilities([n for n, _ in normalised] + extra)
            rest_probs = iter(probs[len(clipped):])
            for row, i, text, (norm, edits), rest in zip(probs, pending, clipped, normalised, rests):
                found = entities.extract(text, tables)
                if edits:
                    found = _with_corrected_entities(found, norm, edits, tables)
                rest_row = next(rest_probs).tolist() if rest else None
                results[i] = self._decide(texts[i], row.tolist(), found, rest_row, wording=norm)
                if edits:  # for the actions' own lookups (help articles), which do not correct spelling
                    results[i]["normalised_text"] = norm
                if (self.rules and results[i]["intent"]["name"] == OUT_OF_SCOPE and not found
                        and not language.has_known_word(norm, self._known(tables))):
                    # "blorp fnargle wibble" is not an unrelated request but noise: ask to rephrase
                    results[i] = _result(texts[i], FALLBACK_INTENT, 1.0, results[i]["intent_ranking"], found,
                                         reason="unknown_words")
        return [r for r in results if r is not None]

    def _known(self, tables: LookupTables) -> set[str]:
        """Catalog words count as known (brands and product names are rarely English words)."""
        return {w for entity in LOOKUP_ENTITIES for s in tables.terms.get(entity, {}) for w in s.split()}

    def _normalise(self, text: str, tables: LookupTables) -> tuple[str, list]:
        if not self.rules or self.speller is None:
            return text, []
        speller = self._spellers.get(id(tables))
        if speller is None:  # the catalog's words are known words too; rebuilt when the tables change
            terms = [s for entity in LOOKUP_ENTITIES for s in tables.terms.get(entity, {})]
            speller = self.speller.with_terms(terms)
            self._spellers.clear()
            self._spellers[id(tables)] = speller
        return speller.normalise(text)

    def _without_model(self, text: str) -> dict[str, Any] | None:
        """Messages with a defined answer that the model is not asked about."""
        stripped = text.strip()
        if not stripped:
            return _result(text, FALLBACK_INTENT, 1.0, [], reason="empty")
        match = INTENT_COMMAND.match(stripped)
        if match and match.group("intent") in (*self.model.labels, FALLBACK_INTENT):
            return _result(text, match.group("intent"), 1.0, [], _command_entities(match.group("entities")))
        if not language.has_words(stripped):
            intent = language.emoji_intent(stripped)
            if intent in self.model.labels:
                return _result(text, intent, 1.0, [], reason="emoji")
            return _result(text, FALLBACK_INTENT, 1.0, [], reason="no_words")
        if language.is_foreign(stripped):
            return _result(text, FALLBACK_INTENT, 1.0, [], reason="not_english")
        return None

    def _model_decision(self, probs: list[float]) -> tuple[str, float, str | None]:
        """(intent, confidence, fallback reason) from the model's probabilities and the threshold."""
        best = int(np.argmax(probs))
        name, confidence = self.model.labels[best], probs[best]
        if name == FALLBACK_INTENT:  # the model recognised noise
            return FALLBACK_INTENT, confidence, "noise"
        if confidence < self.threshold:
            return FALLBACK_INTENT, self.threshold, "low_confidence"
        return name, confidence, None

    def _best_of(self, by_name: dict[str, float], allowed: Callable[[str], bool]) -> str | None:
        """The model's best ranked intent among the ``allowed`` ones, None when it has none of them."""
        labels = [n for n in self.model.labels if allowed(n)]
        return max(labels, key=lambda n: by_name[n]) if labels else None

    def _decide(
        self, text: str, probs: list[float], found: list[dict[str, Any]], rest_probs: list[float] | None = None,
        wording: str | None = None,
    ) -> dict[str, Any]:
        """``wording``: the text with its typos normalised, for the rules that look for words."""
        said = wording or text
        scored = sorted(zip(self.model.labels, probs), key=lambda lp: -lp[1])
        ranking = [{"name": name, "confidence": round(p, 6)} for name, p in scored
                   if name != FALLBACK_INTENT][:RANKING_SIZE]
        intent, confidence, reason = self._model_decision(probs)
        if not self.rules:
            return _result(text, intent, round(confidence, 6), ranking, found, reason=reason)
        rule = None
        if rest_probs is not None and intent in ("greet", OUT_OF_SCOPE, FALLBACK_INTENT):
            rest = self._model_decision(rest_probs)
            # The request after the greeting decides; one the model cannot place still counts as a
            # request when it names catalog terms (the catalog_terms rule below then places it).
            if rest[0] != FALLBACK_INTENT or names_catalog_terms(found):
                intent, confidence, reason = rest
                rule = "greeting"
                probs = rest_probs
                ranking = [{"name": name, "confidence": round(p, 6)}
                           for name, p in sorted(zip(self.model.labels, probs), key=lambda lp: -lp[1])
                           if name != FALLBACK_INTENT][:RANKING_SIZE]
        by_name = dict(zip(self.model.labels, probs))
        kinds = {e["entity"] for e in found}
        if {"order_id", "email"} <= kinds and intent not in ORDER_INTENTS:
            intent = max(ORDER_INTENTS, key=lambda n: (by_name.get(n, 0.0), -ORDER_INTENTS.index(n)))
            confidence, reason, rule = by_name.get(intent, 0.0), None, "order_lookup"
        if (intent in CONVERSATIONAL | {OUT_OF_SCOPE} and names_catalog_terms(found)
                and only_catalog_terms(text, found)):
            # "red kettles", "kettles", "in navy": nothing but catalog terms is a product request
            intent = "search_product" if "product_type" in kinds else "refine_search"
            confidence, reason, rule = by_name.get(intent, 0.0), None, "only_catalog_terms"
        if intent == FALLBACK_INTENT and names_catalog_terms(found):
            best = self._best_of(by_name, lambda n: n not in NOT_SHOPPING or n == OUT_OF_SCOPE)
            if best:
                intent, confidence, reason, rule = best, by_name[best], None, "catalog_terms"
        if intent == OUT_OF_SCOPE and "product_type" in kinds:
            # A kind of product the shop sells ("board games") is shopping, whatever else the words say.
            best = self._best_of(by_name, lambda n: n not in NOT_SHOPPING)
            if best:
                intent, confidence, reason, rule = best, by_name[best], None, "catalog_type"
        if "product_type" in kinds and (intent in ("greet", "goodbye") and not SALUTATION.search(said)
                                        or intent == "complain" and not GRIEVANCE.search(said)):
            intent, confidence, reason, rule = "search_product", by_name.get("search_product", 0.0), None, "catalog_type"
        if intent in CONVERSATIONAL | {"complain"} and any(e.get("role") == "excluded" for e in found):
            # "not from Northpeak", "nothing wool, it makes me itch": a refinement, not a "no" or a complaint.
            intent, confidence, reason, rule = "refine_search", by_name.get("refine_search", 0.0), None, "exclusion"
        qualifiers = {"color", "size", "material", "brand"} & {e["entity"] for e in found if e.get("role") != "excluded"}
        if qualifiers and "product_type" not in kinds and (
                intent == "compare_products" and not COMPARING.search(said)
                or intent == "add_to_cart" and not CARTING.search(said)):
            intent, confidence, reason, rule = "refine_search", by_name.get("refine_search", 0.0), None, "qualifier"
        if intent in ORDER_INTENTS and not {"order_id", "email"} & kinds and not ORDER_WORDS.search(said) and (
                names_catalog_terms(found)):
            best = self._best_of(by_name, lambda n: n not in NOT_SHOPPING and n not in ORDER_INTENTS)
            if best:
                intent, confidence, reason, rule = best, by_name[best], None, "not_an_order"
        if intent in ("recommend", FALLBACK_INTENT) and RANKED.search(said):
            intent = "search_product" if "product_type" in kinds else "refine_search"
            confidence, reason, rule = by_name.get(intent, 0.0), None, "ranking"
        if intent in ("bot_challenge", FALLBACK_INTENT) and WANTS_PERSON.search(said):
            intent, confidence, reason, rule = "human_handoff", by_name.get("human_handoff", 0.0), None, "wants_person"
        if intent in ORDER_INTENTS and not {"order_id", "email"} & kinds and POLICY_QUESTION.search(said):
            intent, confidence, reason, rule = "faq", by_name.get("faq", 0.0), None, "policy_question"
        if intent == FALLBACK_INTENT:
            # As Rasa's FallbackClassifier: fallback first, the real ranking kept after it.
            return _result(text, FALLBACK_INTENT, round(confidence, 6), ranking, found, reason=reason)
        return _result(text, intent, round(confidence, 6), ranking, found, rule=rule)


def only_catalog_terms(text: str, found: list[dict[str, Any]]) -> bool:
    """Every word outside the entities' spans is filler."""
    rest = language.blank_spans(text, [(e["start"], e["end"]) for e in found])
    return all(w in REQUEST_FILLER for w in language.WORD.findall(rest.lower()))


def _command_entities(raw: str | None) -> list[dict[str, Any]]:
    if not raw:
        return []
    try:
        values = json.loads(raw)
    except json.JSONDecodeError:
        return []
    if not isinstance(values, dict):
        return []
    return [{"entity": str(k), "value": v, "start": 0, "end": 0} for k, v in values.items()]


def _result(
    text: str,
    intent: str,
    confidence: float,
    ranking: list[dict[str, Any]],
    found: list[dict[str, Any]] | None = None,
    reason: str | None = None,
    rule: str | None = None,
) -> dict[str, Any]:
    top = {"name": intent, "confidence": confidence}
    if not ranking or ranking[0]["name"] != intent:
        ranking = [top, *[r for r in ranking if r["name"] != intent]]
    result: dict[str, Any] = {"text": text, "intent": top, "intent_ranking": ranking, "entities": found or []}
    if reason:
        result["fallback_reason"] = reason  # for API users; Rasa ignores unknown keys
    if rule:
        result["decision_rule"] = rule
    return result


def _with_corrected_entities(
    found: list[dict[str, Any]], normalised: str, edits: list, tables: LookupTables,
) -> list[dict[str, Any]]:
    """Add the entities that only the spelling-corrected text shows ("sneekers" -> product_type
    sneaker), with their spans mapped back onto the text as typed."""
    spans = [(e["start"], e["end"]) for e in found]
    out = list(found)
    for ent in entities.extract(normalised, tables):
        start, end = to_original(ent["start"], ent["end"], edits)
        if all(end <= s or start >= e for s, e in spans):
            out.append({**ent, "start": start, "end": end})
            spans.append((start, end))
    return sorted(out, key=lambda e: (e["start"], e["entity"], str(e["value"])))
