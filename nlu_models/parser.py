"""Turns a shopper message into Rasa's parse JSON: intent, ranking, entities, with the fallback rule."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from nlu_models.classifier import Encoder, IntentClassifier

FALLBACK_INTENT = "nlu_fallback"
RANKING_SIZE = 10
# Button payloads such as ``/affirm`` or ``/add_to_cart{"quantity": 2}`` name the intent directly.
INTENT_COMMAND = re.compile(r"^/(?P<intent>[A-Za-z_][\w-]*)(?P<entities>\{.*\})?$", re.DOTALL)


@dataclass
class Parser:
    classifier: IntentClassifier
    encode: Encoder
    threshold: float
    max_chars: int

    def parse(self, text: str) -> dict[str, Any]:
        return self.parse_many([text])[0]

    def parse_many(self, texts: list[str]) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [self._shortcut(t) for t in texts]
        pending = [i for i, r in enumerate(results) if r is None]
        if pending:
            probs = self.classifier.probabilities(
                self.encode([texts[i].strip()[: self.max_chars] for i in pending])
            )
            for row, i in zip(probs, pending):
                results[i] = self._decide(texts[i], row.tolist())
        return [r for r in results if r is not None]

    def _shortcut(self, text: str) -> dict[str, Any] | None:
        """Messages answered without the model: empty input and intent commands."""
        if not text.strip():
            return _result(text, FALLBACK_INTENT, 1.0, [])
        match = INTENT_COMMAND.match(text.strip())
        if match and match.group("intent") in (*self.classifier.labels, FALLBACK_INTENT):
            return _result(
                text, match.group("intent"), 1.0, [], _command_entities(match.group("entities"))
            )
        return None

    def _decide(self, text: str, probs: list[float]) -> dict[str, Any]:
        ranking = sorted(
            ({"name": name, "confidence": round(p, 6)} for name, p in zip(self.classifier.labels, probs)),
            key=lambda r: -r["confidence"],
        )[:RANKING_SIZE]
        best = ranking[0]
        if best["confidence"] < self.threshold:
            # As Rasa's FallbackClassifier: fallback first, the real ranking kept after it.
            return _result(text, FALLBACK_INTENT, self.threshold, ranking)
        return _result(text, best["name"], best["confidence"], ranking)


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
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    top = {"name": intent, "confidence": confidence}
    if not ranking or ranking[0]["name"] != intent:
        ranking = [top, *ranking]
    return {"text": text, "intent": top, "intent_ranking": ranking, "entities": entities or []}
