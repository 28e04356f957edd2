"""Baseline intent classifier: frozen MiniLM sentence embeddings + multinomial logistic regression.

Saved as plain arrays (no pickle) so a model folder is safe to load and easy to inspect.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from nlu_models.data import Example

log = logging.getLogger(__name__)
Encoder = Callable[[list[str]], np.ndarray]


@dataclass
class IntentClassifier:
    labels: list[str]
    weights: np.ndarray  # (n_labels, dim)
    bias: np.ndarray  # (n_labels,)
    meta: dict[str, object]

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = embeddings @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, folder: Path) -> None:
        """Write atomically: a server reading ``folder`` never sees half a model."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.savez(tmp / "weights.npz", weights=self.weights, bias=self.bias)
        (tmp / "labels.json").write_text(json.dumps(self.labels, indent=1))
        (tmp / "meta.json").write_text(json.dumps(self.meta, indent=1, sort_keys=True))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> "IntentClassifier":
        if not (folder / "weights.npz").exists():
            raise FileNotFoundError(
                f"no trained NLU model in {folder}: run `python -m nlu_models train`"
            )
        arrays = np.load(folder / "weights.npz")
        return cls(
            labels=json.loads((folder / "labels.json").read_text()),
            weights=arrays["weights"],
            bias=arrays["bias"],
            meta=json.loads((folder / "meta.json").read_text()),
        )


def train(
    examples: list[Example], encode: Encoder, *, seed: int, c: float, holdout: float = 0.2
) -> IntentClassifier:
    """Fit on all examples; report accuracy on a stratified holdout fitted separately first."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    texts = [ex.text for ex in examples]
    y = np.array([ex.intent for ex in examples])
    x = encode(texts)

    def fit(features: np.ndarray, targets: np.ndarray) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(features, targets)

    x_tr, x_val, y_tr, y_val = train_test_split(
        x, y, test_size=holdout, random_state=seed, stratify=y
    )
    holdout_acc = float((fit(x_tr, y_tr).predict(x_val) == y_val).mean())
    model = fit(x, y)
    meta: dict[str, object] = {
        "kind": "minilm-logreg-baseline",
        "n_examples": len(examples),
        "holdout_accuracy": round(holdout_acc, 4),
        "train_seconds": round(time.perf_counter() - started, 2),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    log.info("trained on %d examples, holdout accuracy %.3f", len(examples), holdout_acc)
    return IntentClassifier(
        labels=[str(label) for label in model.classes_],
        weights=model.coef_.astype(np.float32),
        bias=model.intercept_.astype(np.float32),
        meta=meta,
    )
