"""Turning logits into calibrated confidences and a fallback threshold, both fitted on validation data."""
from __future__ import annotations

import numpy as np

from nlu_models.finetune import cross_entropy

TEMPERATURE_GRID = np.exp(np.linspace(np.log(0.25), np.log(10.0), 240))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T that minimises validation NLL."""
    if len(targets) == 0:
        return 1.0
    losses = [cross_entropy(logits / t, targets) for t in TEMPERATURE_GRID]
    return float(TEMPERATURE_GRID[int(np.argmin(losses))])


def tune_threshold(in_conf: np.ndarray, in_correct: np.ndarray, oos_conf: np.ndarray) -> float:
    """Confidence below which the NLU answers ``nlu_fallback``.

    Maximises in-scope accuracy (a rejected in-scope message counts as wrong) plus out-of-scope
    recall on validation data, so neither side can be traded away for free.
    """
    if len(oos_conf) == 0 or len(in_conf) == 0:
        return 0.0
    candidates = np.unique(np.concatenate([in_conf, oos_conf, [0.0, 1.0 + 1e-9]]))
    best_t, best_score = 0.0, -1.0
    for t in candidates:
        score = float((in_correct & (in_conf >= t)).mean() + (oos_conf < t).mean())
        if score > best_score + 1e-12:
            best_t, best_score = float(t), score
    return best_t


def refusal_cap(in_conf: np.ndarray, in_correct: np.ndarray, share: float) -> float:
    """The confidence below which ``share`` of the correctly classified in-scope messages fall: a
    threshold above it would refuse more of the messages the model gets right than that."""
    right = in_conf[in_correct]
    if share <= 0 or len(right) == 0:
        return 1.0 + 1e-9
    return float(np.quantile(right, share, method="lower"))


def energy(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Negative free energy (higher = more in-distribution), reported by the benchmark as an alternative."""
    z = logits / temperature
    m = z.max(axis=1, keepdims=True)
    return (temperature * (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))).ravel()
