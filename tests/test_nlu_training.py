"""Training on a tiny fixture: learning happens, the model round-trips, staleness is detected."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nlu_models import encoder
from nlu_models.classifier import IntentClassifier, train
from nlu_models.data import parse_annotated
from nlu_models.training import train_if_stale

TINY = {
    "greet": ["hi", "hello", "hey there", "good morning", "hiya", "howdy"],
    "order_status": ["where is my order", "track my package", "has my order shipped",
                     "when will my parcel arrive", "order status please", "my delivery is late"],
    "faq": ["do you ship to canada", "what is your return policy", "do you accept paypal",
            "how long does shipping take", "do you price match", "are returns free"],
}


def tiny_examples():
    return [parse_annotated(t, intent) for intent, texts in TINY.items() for t in texts]


def test_training_learns_unseen_phrasings_and_round_trips(tmp_path: Path):
    model = train(tiny_examples(), encoder.encode, seed=1, c=20.0, holdout=0.34)
    unseen = ["hello friend", "where's my parcel", "can I pay with paypal"]
    probs = model.probabilities(encoder.encode(unseen))
    assert [model.labels[i] for i in probs.argmax(axis=1)] == ["greet", "order_status", "faq"]

    model.save(tmp_path / "nlu")
    loaded = IntentClassifier.load(tmp_path / "nlu")
    assert loaded.labels == model.labels
    np.testing.assert_allclose(loaded.probabilities(encoder.encode(unseen)), probs, rtol=1e-6)


def test_training_is_deterministic():
    a = train(tiny_examples(), encoder.encode, seed=3, c=20.0, holdout=0.34)
    b = train(tiny_examples(), encoder.encode, seed=3, c=20.0, holdout=0.34)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_retrains_only_when_the_data_changes(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    lines = "\n".join(
        f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
        for intent, texts in TINY.items()
    )
    (data / "nlu.yml").write_text("nlu:\n" + lines)
    model_dir = tmp_path / "model"
    assert train_if_stale(data, model_dir) is True
    assert train_if_stale(data, model_dir) is False
    (data / "nlu.yml").write_text("nlu:\n" + lines + "    - hi again\n")
    assert train_if_stale(data, model_dir) is True
