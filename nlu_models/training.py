"""``python -m nlu_models train``: (re)train the intent classifier only when data or settings changed."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from nlu_models import classifier, encoder
from nlu_models.data import Example, fingerprint, load_examples

log = logging.getLogger(__name__)
SEED = 13
SETTINGS: dict[str, object] = {"kind": "minilm-logreg-baseline", "C": 20.0, "seed": SEED,
                               "encoder": encoder.ENCODER_NAME}


def current_fingerprint(model_dir: Path) -> str | None:
    meta = model_dir / "meta.json"
    if not meta.exists():
        return None
    return json.loads(meta.read_text()).get("fingerprint")


def train_if_stale(data_dir: Path, model_dir: Path, force: bool = False) -> bool:
    """Returns True when a new model was written."""
    examples: list[Example] = load_examples(data_dir)
    digest = fingerprint(examples, SETTINGS)
    if not force and current_fingerprint(model_dir) == digest:
        log.info("NLU model in %s is up to date (data and settings unchanged)", model_dir)
        return False
    log.info("training NLU model on %d examples from %s", len(examples), data_dir)
    model = classifier.train(examples, encoder.encode, seed=SEED, c=float(SETTINGS["C"]))  # type: ignore[arg-type]
    model.meta.update(fingerprint=digest, settings=SETTINGS)
    model.save(model_dir)
    log.info("saved NLU model to %s", model_dir)
    return True
