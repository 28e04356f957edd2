"""The previous baseline, kept as a benchmark row: frozen MiniLM embeddings + logistic regression."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from text_tools import encoder


@dataclass
class EmbeddingLogReg:
    labels: list[str]
    weights: np.ndarray
    bias: np.ndarray

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], seed: int, c: float = 20.0) -> "EmbeddingLogReg":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        model.fit(encoder.encode(list(texts)), np.array(labels))
        return cls([str(x) for x in model.classes_], model.coef_, model.intercept_)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return encoder.encode(list(texts)) @ self.weights.T + self.bias
