"""Fine-tuning on a tiny fixture: learning happens, it is deterministic, the model round-trips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlu_models.calibration import fit_temperature, refusal_cap, softmax, tune_threshold
from nlu_models.data import parse_annotated
from nlu_models.finetune import FineTuneSettings, fine_tune, stratified_split
from nlu_models.intent_model import IntentModel
from nlu_models.training import train_if_stale, train_model

TINY = {
    "greet": ["hi", "hello", "hey there", "good morning", "hiya", "howdy", "hello friend", "hey hey"],
    "order_status": ["where is my order", "track my package", "has my order shipped",
                     "when will my parcel arrive", "order status please", "my delivery is late",
                     "where's my parcel", "is my order on its way"],
    "faq": ["do you ship to canada", "what is your return policy", "do you accept paypal",
            "how long does shipping take", "do you price match", "are returns free",
            "can I pay with paypal", "do you deliver abroad"],
}
FAST = FineTuneSettings(max_epochs=6, patience=6, batch_size=8, validation_share=0.25, seed=5,
                        gibberish_examples=12)
LABELS = sorted([*TINY, "nlu_fallback"])  # synthetic noise is taught as nlu_fallback
UNSEEN = ["hello there friend", "where has my package got to", "which payment methods do you take"]


def tiny_examples():
    return [parse_annotated(t, intent) for intent, texts in TINY.items() for t in texts]


@pytest.fixture(scope="module")
def trained():
    examples = tiny_examples()
    return train_model(examples, FAST, ["asdf qwer", "zzzz"], progress=False)


def test_fine_tuning_learns_unseen_phrasings(trained):
    probs = trained.probabilities(UNSEEN + ["qwrtzp xkcvb"])
    assert [trained.labels[i] for i in probs.argmax(axis=1)] == ["greet", "order_status", "faq", "nlu_fallback"]
    history = trained.meta["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_model_round_trips_with_label_map_and_calibration(trained, tmp_path: Path):
    trained.save(tmp_path / "nlu")
    loaded = IntentModel.load(tmp_path / "nlu", "torch")
    assert loaded.labels == trained.labels == LABELS
    assert loaded.model.config.id2label == dict(enumerate(LABELS))
    assert (loaded.temperature, loaded.threshold) == (trained.temperature, trained.threshold)
    np.testing.assert_allclose(loaded.probabilities(UNSEEN), trained.probabilities(UNSEEN), rtol=1e-5)


def test_saved_model_is_exported_to_onnx_and_serves_the_same_intents(trained, tmp_path: Path):
    trained.save(tmp_path / "nlu")
    assert {"model.onnx", "model.int8.onnx"} <= {p.name for p in (tmp_path / "nlu").iterdir()}
    texts = UNSEEN + ["qwrtzp xkcvb", "hello, where is my order"]
    expected = trained.probabilities(texts)
    fp32 = IntentModel.load(tmp_path / "nlu", "fp32")
    assert type(fp32.model).__name__ == "OnnxClassifier"
    np.testing.assert_allclose(fp32.probabilities(texts), expected, atol=1e-4)
    int8 = IntentModel.load(tmp_path / "nlu", "int8")
    assert (int8.probabilities(texts).argmax(1) == expected.argmax(1)).all()


def test_model_saved_before_onnx_serving_is_exported_when_loaded(trained, tmp_path: Path, caplog):
    folder = tmp_path / "nlu"
    trained.save(folder)
    for name in ("model.onnx", "model.int8.onnx"):
        (folder / name).unlink()
    loaded = IntentModel.load(folder, "fp32")
    assert type(loaded.model).__name__ == "OnnxClassifier"
    assert (folder / "model.onnx").exists() and (folder / "model.int8.onnx").exists()
    assert "has no ONNX export" in caplog.text
    np.testing.assert_allclose(loaded.probabilities(UNSEEN), trained.probabilities(UNSEEN), atol=1e-4)


def test_model_that_cannot_be_exported_is_served_with_torch(trained, tmp_path: Path, monkeypatch, caplog):
    folder = tmp_path / "nlu"
    trained.save(folder)
    (folder / "model.onnx").unlink()

    def fail(model, target):  # what a read-only model folder does to the export
        raise PermissionError(f"read-only: {target}")

    monkeypatch.setattr("text_tools.onnx_export.export_classifier", fail)
    loaded = IntentModel.load(folder, "fp32")
    assert type(loaded.model).__name__ != "OnnxClassifier"
    assert "serving it with torch instead" in caplog.text
    np.testing.assert_allclose(loaded.probabilities(UNSEEN), trained.probabilities(UNSEEN), rtol=1e-5)


def test_fine_tuning_is_deterministic():
    texts = [t for texts in TINY.values() for t in texts]
    labels = [i for i, texts in TINY.items() for _ in texts]
    settings = FineTuneSettings(max_epochs=1, patience=1, batch_size=8, seed=9)
    a = fine_tune(texts, labels, settings, progress=False)
    b = fine_tune(texts, labels, settings, progress=False)
    np.testing.assert_array_equal(a.val_logits, b.val_logits)


def test_stratified_split_keeps_every_label_in_validation():
    labels = ["a"] * 10 + ["b"] * 3 + ["c"]
    train, val = stratified_split(labels, 0.2, seed=1)
    assert sorted(train + val) == list(range(len(labels)))
    assert {labels[i] for i in val} == {"a", "b"}  # a single "c" stays in training


def test_temperature_scaling_sharpens_underconfident_logits():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 300)
    logits = rng.normal(0, 0.1, (300, 3))
    logits[np.arange(300), targets] += 0.5  # always right, but with low confidence
    t = fit_temperature(logits, targets)
    assert t < 1.0
    assert softmax(logits, t).max(axis=1).mean() > softmax(logits).max(axis=1).mean()


def test_threshold_separates_known_from_unknown():
    in_conf = np.array([0.9, 0.95, 0.8, 0.99, 0.85])
    in_correct = np.array([True, True, True, True, False])
    oos_conf = np.array([0.3, 0.5, 0.4, 0.82])
    t = tune_threshold(in_conf, in_correct, oos_conf)
    assert 0.5 < t <= 0.9
    assert tune_threshold(in_conf, in_correct, np.array([])) == 0.0


def test_refusal_cap_keeps_most_correct_answers():
    conf = np.linspace(0.01, 1.0, 100)
    correct = np.ones(100, dtype=bool)
    cap = refusal_cap(conf, correct, 0.05)
    assert (conf[correct] < cap).mean() <= 0.05
    assert refusal_cap(conf, correct, 0.0) > 1.0  # no cap
    correct[:50] = False  # wrong answers do not count
    assert refusal_cap(conf, correct, 0.1) > 0.5


def test_training_keeps_what_the_parser_needs(trained):
    meta = trained.meta
    assert {"hi", "hello", "hey there", "good morning"} <= set(meta["greeting_openers"])
    assert meta["vocabulary"]["order"] >= 2
    assert meta["threshold"] <= meta["threshold_tuned"]
    assert meta["validation"]["n_augmented"] > 0  # augmented variants of the validation examples


def test_retrains_only_when_the_data_changes(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    body = "\n".join(
        f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
        for intent, texts in TINY.items()
    )
    (data / "nlu.yml").write_text("nlu:\n" + body)
    model_dir = tmp_path / "model"
    quick = FineTuneSettings(max_epochs=1, patience=1, batch_size=16, gibberish_examples=8)
    assert train_if_stale(data, model_dir, settings=quick, progress=False) is True
    assert train_if_stale(data, model_dir, settings=quick, progress=False) is False
    (data / "nlu.yml").write_text("nlu:\n" + body + "    - good evening\n")
    assert train_if_stale(data, model_dir, settings=quick, progress=False) is True
