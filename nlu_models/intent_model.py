"""The trained intent model as stored in ``AISLE_DATA_DIR/nlu``: weights, tokenizer, label map, metadata."""
from __future__ import annotations

import json
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from nlu_models.calibration import softmax
from nlu_models.finetune import offline, predict_logits

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)
META_FILE = "meta.json"


class ModelMissing(FileNotFoundError):
    """No trained model in the expected folder."""


@dataclass
class IntentModel:
    model: "PreTrainedModel"
    tokenizer: "PreTrainedTokenizerBase"
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        # Tokenizers are not thread-safe; the server may call from worker threads.
        self._lock = threading.Lock()

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def temperature(self) -> float:
        return float(self.meta["temperature"])

    @property
    def threshold(self) -> float:
        return float(self.meta["threshold"])

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return predict_logits(self.model, self.tokenizer, texts, int(self.meta["max_length"]))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.logits(texts), self.temperature)

    def save(self, folder: Path) -> None:
        """Write a complete model next to ``folder`` and swap it in, so readers never see half of one."""
        tmp = folder.with_name(folder.name + ".tmp")
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(tmp)
        self.tokenizer.save_pretrained(tmp)
        (tmp / META_FILE).write_text(json.dumps(self.meta, indent=1, sort_keys=True))
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> "IntentModel":
        meta_path = folder / META_FILE
        if not meta_path.exists() or not (folder / "config.json").exists():
            raise ModelMissing(f"no trained NLU model in {folder}: run `python -m nlu_models train`")
        offline()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(folder)
        model.eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return cls(model, tokenizer, json.loads(meta_path.read_text()))


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / META_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
