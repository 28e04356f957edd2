"""The trained intent model as stored in ``AISLE_DATA_DIR/nlu``: weights, tokenizer, label map, metadata.

Training holds the torch model; serving loads the ONNX graphs exported next to the weights
(``model.onnx``, ``model.int8.onnx``) and runs them with ONNX Runtime, without importing torch.
"""
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
from nlu_models.finetune import predict_logits
from text_tools.encoder import offline
from text_tools.onnx_runtime import OnnxClassifier, graph_file

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)
META_FILE = "meta.json"


class ModelMissing(FileNotFoundError):
    """No trained model in the expected folder."""


@dataclass
class IntentModel:
    model: "PreTrainedModel | OnnxClassifier"  # torch after training; ONNX Runtime when served
    tokenizer: "PreTrainedTokenizerBase | Tokenizer"
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
        if isinstance(self.model, OnnxClassifier):
            return self.model.logits(texts)
        with self._lock:
            return predict_logits(self.model, self.tokenizer, texts, int(self.meta["max_length"]))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.logits(texts), self.temperature)

    def save(self, folder: Path) -> None:
        """Write a complete model next to ``folder`` and swap it in, so readers never see half of one."""
        tmp = folder.with_name(folder.name + ".tmp")
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(tmp)  # type: ignore[union-attr]
        self.tokenizer.save_pretrained(tmp)  # type: ignore[union-attr]
        from text_tools.onnx_export import export_classifier

        export_classifier(self.model, tmp)  # type: ignore[arg-type]
        (tmp / META_FILE).write_text(json.dumps(self.meta, indent=1, sort_keys=True))
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, precision: str | None = None, threads: int | None = None) -> "IntentModel":
        """The served model: ``precision`` "int8" or "fp32" runs the ONNX graph, "torch" the weights
        (default: AISLE_NLU_PRECISION, on AISLE_TORCH_THREADS threads)."""
        from aisle.config import settings

        precision = precision or settings().nlu_precision
        threads = threads or settings().torch_threads
        meta_path = folder / META_FILE
        if not meta_path.exists() or not (folder / "config.json").exists():
            raise ModelMissing(f"no trained NLU model in {folder}: run `python -m nlu_models train`")
        meta = json.loads(meta_path.read_text())
        if precision != "torch":
            graph = graph_file(folder, precision)
            if not graph.exists() and not _export_missing(folder):
                return cls.load(folder, "torch", threads)
            onnx = OnnxClassifier(graph, folder / "tokenizer.json", int(meta["max_length"]), threads)
            return cls(onnx, onnx.tokenizer, meta)
        offline()
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_num_threads(threads)
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        model.eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return cls(model, tokenizer, meta)


def _export_missing(folder: Path) -> bool:
    """A model trained before ONNX serving: export it once now (this process imports torch this once)."""
    log.warning("%s has no ONNX export (trained before ONNX serving): exporting it now", folder)
    try:
        model = IntentModel.load(folder, "torch")
        from text_tools.onnx_export import export_classifier

        export_classifier(model.model, folder)  # type: ignore[arg-type]
        return True
    except Exception:  # a read-only folder, an exporter failure: serve anyway, the slow way
        log.exception("could not export %s to ONNX; serving it with torch instead (slower)", folder)
        return False


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / META_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
