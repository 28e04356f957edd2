"""Serving the intent classifier and the sentence encoder with ONNX Runtime; no torch in this module.

Both models are the packaged MiniLM (a BertModel) exported by ``text_tools.onnx_export``: the graph
takes ``input_ids`` and ``attention_mask`` (batch and sequence axes dynamic) and returns logits
(classifier) or the last hidden state (encoder). Tokenisation uses the ``tokenizers`` library on the
``tokenizer.json`` saved next to the graph, which is what transformers' fast tokenizer runs as well.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
PRECISIONS = {"fp32": FP32_FILE, "int8": INT8_FILE}
TOKENIZER_FILE = "tokenizer.json"


def graph_file(folder: Path, precision: str) -> Path:
    try:
        return folder / PRECISIONS[precision]
    except KeyError:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}") from None


def session(path: Path, threads: int):  # type: ignore[no-untyped-def]
    """One ONNX Runtime session on ``threads`` intra-op threads (more only spin on a small, shared CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads would otherwise busy-wait for the next request, stealing CPU from the others.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The arena keeps the largest batch's buffers for the process's life: embedding the knowledge base
    # at start-up left the action server ~120 MB larger, for no gain in per-message latency.
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxTextModel:
    """Tokenise a batch, run the graph, return its first output; thread-safe."""

    def __init__(self, graph: Path, tokenizer: Path, max_length: int, threads: int) -> None:
        from tokenizers import Tokenizer

        self.path = graph
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        self.session = session(graph, threads)
        self.max_length = max_length
        self._lock = threading.Lock()  # a Tokenizer with padding/truncation state is shared mutable state

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab()


class OnnxClassifier(OnnxTextModel):
    def logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = [self.run(*self.encode(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        n_labels = self.session.get_outputs()[0].shape[-1]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, n_labels), np.float32)


class OnnxEncoder(OnnxTextModel):
    """Sentence embeddings as sentence-transformers makes them: mean of the token states, unit length."""

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = []
        # Similar lengths together: less padding per batch (sentence-transformers sorts the same way).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(texts), batch_size):
            ids, mask = self.encode([texts[i] for i in order[start:start + batch_size]])
            states = self.run(ids, mask)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        if not out:
            return np.zeros((0, self.session.get_outputs()[0].shape[-1]), np.float32)
        vectors = np.empty((len(texts), out[0].shape[1]), np.float32)
        vectors[order] = np.concatenate(out)
        return vectors
