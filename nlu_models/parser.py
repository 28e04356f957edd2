"""Turns shopper messages into Rasa's parse JSON: intent, ranking, entities, with the fallback decision."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from nlu_models import entities, language
from nlu_models.lookups import LookupTables

FALLBACK_INTENT = "nlu_fallback"
RANKING_SIZE = 10
# Button payloads such as ``/affirm`` or ``/add_to_cart{"quantity": 2}`` name the intent directly.
INTENT_COMMAND = re.compile(r"^/(?P<intent>[A-Za-z_][\w-]*)(?P<entities>\{.*\})?$", re.DOTALL)


class IntentScorer(Protocol):
    labels: list[str]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class Parser:
    model: IntentScorer
    threshold: float
    max_chars: int
    lookups: Callable[[], LookupTables] = LookupTables

    def parse(self, text: str) -> dict[str, Any]:
        return self.parse_many([text])[0]

    def parse_many(self, texts: list[str]) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [self._without_model(t) for t in texts]
        pending = [i for i, r in enumerate(results) if r is None]
        if pending:
            clipped = [texts[i].strip()[: self.max_chars] for i in pending]
            probs = self.model.probabilities(clipped)
            tables = self.lookups()
            for row, i, text in zip(probs, pending, clipped):
                results[i] = self._decide(texts[i], row.tolist(), entities.extract(text, tables))
        return [r for r in results if r is not None]

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

    def _decide(self, text: str, probs: list[float], found: list[dict[str, Any]]) -> dict[str, Any]:
        scored = sorted(zip(self.model.labels, probs), key=lambda lp: -lp[1])
        ranking = [{"name": name, "confidence": round(p, 6)} for name, p in scored
                   if name != FALLBACK_INTENT][:RANKING_SIZE]
        best, confidence = scored[0]
        if best == FALLBACK_INTENT:  # the model recognised noise
            return _result(text, FALLBACK_INTENT, round(confidence, 6), ranking, found, reason="noise")
        if confidence < self.threshold:
            # As Rasa's FallbackClassifier: fallback first, the real ranking kept after it.
            return _result(text, FALLBACK_INTENT, self.threshold, ranking, found, reason="low_confidence")
        return _result(text, best, round(confidence, 6), ranking, found)


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
) -> dict[str, Any]:
    top = {"name": intent, "confidence": confidence}
    if not ranking or ranking[0]["name"] != intent:
        ranking = [top, *ranking]
    result: dict[str, Any] = {"text": text, "intent": top, "intent_ranking": ranking, "entities": found or []}
    if reason:
        result["fallback_reason"] = reason  # for API users; Rasa ignores unknown keys
    return result
