"""ONNX Runtime serving: the exported graphs answer as the torch models do, and serving needs no torch."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from aisle.config import settings
from aisle.internal_auth import bearer_headers
from aisle.memory import return_freed_memory
from nlu_models.intent_model import IntentModel
from tests.e2e_stack import Stack, http_json
from text_tools.encoder import encode_torch, onnx_encoder

TEXTS = ["hi there", "where is my order 10001", "do you have red kettles under 40 dollars",
         "i want to return the headphones i bought last week, they are broken",
         "what is your refund policy", "qwrtzp xkcvb", "something like this but cheaper"]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    folder = settings().nlu_model_dir
    if not (folder / "meta.json").exists():
        pytest.skip(f"no trained NLU model in {folder} (run `python -m nlu_models train`)")
    return folder


def test_exported_intent_model_gives_the_torch_model_answers(model_dir: Path):
    torch_probs = IntentModel.load(model_dir, "torch").probabilities(TEXTS)
    fp32 = IntentModel.load(model_dir, "fp32")  # exports a model trained before ONNX serving
    np.testing.assert_allclose(fp32.probabilities(TEXTS), torch_probs, atol=1e-4)
    int8 = IntentModel.load(model_dir, "int8")
    assert fp32.labels == int8.labels
    assert (int8.probabilities(TEXTS).argmax(1) == torch_probs.argmax(1)).all()
    # One message alone (no padding) and inside a padded batch give the same answer.
    np.testing.assert_allclose(fp32.probabilities(TEXTS[:1]), fp32.probabilities(TEXTS)[:1], atol=1e-5)


def test_serving_sessions_keep_no_memory_arena():
    # One thread each, and no arena holding the largest batch's buffers for the process's life.
    encoder = onnx_encoder(settings().encoder_dir, "int8", 1)
    options = encoder.session.get_session_options()
    assert options.enable_cpu_mem_arena is False and options.intra_op_num_threads == 1


def test_freed_memory_goes_back_to_the_system():
    # glibc here: malloc_trim exists and runs (the servers call it once their models are loaded)
    assert return_freed_memory() is True


def test_exported_encoder_embeds_as_sentence_transformers_does():
    folder = settings().encoder_dir
    expected = encode_torch(TEXTS)
    fp32 = onnx_encoder(folder, "fp32", 1).embed(TEXTS)
    assert fp32.shape == expected.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-5)
    assert (fp32 * expected).sum(1).min() >= 0.999
    assert (onnx_encoder(folder, "int8", 1).embed(TEXTS) * expected).sum(1).min() >= 0.97


def wait_for(url: str, limit_s: float = 180) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if http_json("GET", url, timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} not healthy after {limit_s:.0f} s")


def test_nlu_and_action_servers_serve_without_torch(tmp_path: Path, model_dir: Path):
    """The real services (Procfile commands) answer with their models loaded, and never map libtorch."""
    stack = Stack.create(tmp_path)
    try:
        stack.start("nlu")
        stack.start("actions")
        cfg = stack.settings
        wait_for(f"{cfg.nlu_url}/health")
        wait_for(f"http://127.0.0.1:{cfg.action_port}/health")  # after the encoder and indexes warmed up
        auth = bearer_headers(stack.secret)
        status, parsed = http_json("POST", f"{cfg.nlu_url}/model/parse", {"text": "do you have red kettles"},
                                   headers=auth)
        assert status == 200 and parsed["intent"]["name"] == "search_product", parsed
        status, answer = http_json("POST", f"http://127.0.0.1:{cfg.action_port}/faq/answer",
                                   {"text": "what is your return policy"}, headers=auth)
        assert status == 200 and answer["matches"], answer
        for name in ("nlu", "actions"):
            libraries = {Path(m.path).name for m in stack.service_process(name).memory_maps()}
            assert not {lib for lib in libraries if lib.startswith(("libtorch", "libc10"))}, name
            assert any(lib.startswith("libonnxruntime") or "onnxruntime" in lib for lib in libraries), name
    finally:
        stack.stop_all()
