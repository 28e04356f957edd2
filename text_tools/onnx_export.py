"""Exporting the torch models to ONNX (training and index-build time only: this module imports torch).

``torch.onnx.export`` with the TorchScript exporter (``dynamo=False``: it takes ``dynamic_axes`` and
needs no onnxscript), opset 17, batch and sequence axes dynamic; then a dynamic int8 copy
(``onnxruntime.quantization.quantize_dynamic``: int8 weights, activations quantised per batch).
Files are written under a temporary name and renamed, so a reader never sees half a graph.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from text_tools.onnx_runtime import FP32_FILE, INT8_FILE, TOKENIZER_FILE

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)
OPSET = 17


def _returning(model: "PreTrainedModel", attribute: str):  # type: ignore[no-untyped-def]
    """The model as a module of (input_ids, attention_mask) returning one tensor of its output."""
    import torch

    class Output(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            return getattr(self.inner(input_ids=input_ids, attention_mask=attention_mask), attribute)

    return Output()


def _export(module, output: str, folder: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    module.eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    per_token = output == "last_hidden_state"
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        fp32 = Path(tmp) / FP32_FILE
        int8 = Path(tmp) / INT8_FILE
        with torch.inference_mode(), warnings.catch_warnings():
            # The tracer flags shape checks that are constant for every input this graph gets.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (ids, mask), str(fp32), dynamo=False, opset_version=OPSET,
                input_names=["input_ids", "attention_mask"], output_names=[output],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                              "attention_mask": {0: "batch", 1: "sequence"},
                              output: {0: "batch", 1: "sequence"} if per_token else {0: "batch"}},
            )
        quantize_int8(fp32, int8)
        for path in (fp32, int8):
            os.replace(path, folder / path.name)


def quantize_int8(source: Path, target: Path) -> None:
    """Per-channel int8 weights: per-tensor scales cost the sentence encoder about 0.04 of cosine."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # the quantiser logs every node it skips, on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.disable(logging.NOTSET)


def export_classifier(model: "PreTrainedModel", folder: Path) -> None:
    """``model.onnx`` (logits) and ``model.int8.onnx`` into the saved model folder."""
    # Traced through the plain MatMul/Softmax attention path, not SDPA (tests/test_onnx.py checks the
    # graph against torch); the caller's model keeps its own setting.
    attention = model.config._attn_implementation
    model.config._attn_implementation = "eager"
    try:
        _export(_returning(model, "logits"), "logits", folder)
    finally:
        model.config._attn_implementation = attention
    log.info("exported the intent model to ONNX in %s (fp32 and int8)", folder)


def export_encoder(folder: Path) -> None:
    """The packaged MiniLM sentence encoder as ONNX (last hidden state) and its tokenizer, into ``folder``."""
    from text_tools.encoder import model_path, offline

    offline()
    from transformers import AutoModel

    source = model_path()
    model = AutoModel.from_pretrained(source, attn_implementation="eager")
    folder.mkdir(parents=True, exist_ok=True)
    # The tokenizer lands first (and whole), so whoever sees a graph there also sees its tokenizer.
    partial = folder / f"{TOKENIZER_FILE}.{os.getpid()}.tmp"
    shutil.copyfile(source / TOKENIZER_FILE, partial)
    os.replace(partial, folder / TOKENIZER_FILE)
    _export(_returning(model, "last_hidden_state"), "last_hidden_state", folder)
    log.info("exported the sentence encoder from %s to ONNX in %s (fp32 and int8)", source, folder)
