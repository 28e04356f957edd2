"""``python -m nlu_models train``: fine-tune, calibrate and save the intent model, only when stale."""
from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numpy as np

from nlu_models.augment import Augmenter, greeting_openers
from nlu_models.calibration import fit_temperature, refusal_cap, softmax, tune_threshold
from nlu_models.data import Example, fingerprint, load_examples
from nlu_models.finetune import FineTuneSettings, fine_tune, predict_logits, stratified_split
from nlu_models.gibberish import gibberish
from nlu_models.intent_model import IntentModel, read_meta
from nlu_models.parser import FALLBACK_INTENT
from nlu_models.spelling import vocabulary

log = logging.getLogger(__name__)
MODEL_KIND = "minilm-l6-finetuned"
UNKNOWN_MESSAGES = Path(__file__).resolve().parent / "unknown_messages.txt"
AUGMENT_VERSION = 1  # bump when nlu_models.augment changes what it generates (retrains the model)
SWAP_ENTITIES = ("product_type", "brand", "color", "material")


def lookup_terms() -> dict[str, list[str]]:
    """Surfaces from the static lookup tables (data/nlu/lookups), swapped into training examples."""
    from text_tools.lookups import static_tables

    terms = static_tables().terms
    return {e: sorted(terms.get(e, {})) for e in SWAP_ENTITIES if terms.get(e)}


def unknown_messages(path: Path = UNKNOWN_MESSAGES) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("# ")]


def accepted_confidence(probs: np.ndarray, labels: list[str]) -> np.ndarray:
    """Top probability where the top label is a real intent; 0 where the model itself says fallback."""
    top = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    if FALLBACK_INTENT in labels:
        conf = np.where(top == labels.index(FALLBACK_INTENT), 0.0, conf)
    return conf


def train_model(
    examples: list[Example], settings: FineTuneSettings, unknown: list[str], progress: bool = True,
    terms: dict[str, list[str]] | None = None,
) -> IntentModel:
    """Fine-tune on ``examples`` plus synthetic noise; calibrate on a stratified validation share.

    Validation holds the held-back examples as written plus one augmented variant of each (typos,
    greeting glued on, catalog terms swapped), so early stopping, temperature and threshold also
    see messages typed the way shoppers type them.
    """
    noise = gibberish(settings.gibberish_examples, settings.seed)
    everything = list(examples) + [Example(t, FALLBACK_INTENT) for t in noise]
    train_idx, val_idx = stratified_split([e.intent for e in everything], settings.validation_share, settings.seed)
    train_ex, val_ex = [everything[i] for i in train_idx], [everything[i] for i in val_idx]
    real_train = [e for e in train_ex if e.intent != FALLBACK_INTENT]
    augmenter = Augmenter.from_data(real_train, lookup_terms() if terms is None else terms)
    val_aug: list[Example] = []
    extra = None
    if settings.augment_share > 0:
        rng = random.Random(settings.augment_seed)
        val_aug = [Example(augmenter.variant(e, rng), e.intent) for e in val_ex if e.intent != FALLBACK_INTENT]

        def extra(epoch: int) -> tuple[list[str], list[str]]:
            rng = random.Random(settings.augment_seed * 1000 + epoch)
            more = augmenter.epoch_extra(real_train, settings.augment_share, rng)
            return [e.text for e in more], [e.intent for e in more]

    validation = val_ex + val_aug
    tuned = fine_tune(
        [e.text for e in train_ex], [e.intent for e in train_ex], settings,
        validation=([e.text for e in validation], [e.intent for e in validation]),
        progress=progress, extra=extra,
    )
    temperature = fit_temperature(tuned.val_logits, tuned.val_labels)
    val_probs = softmax(tuned.val_logits, temperature)
    unknown_probs = softmax(
        predict_logits(tuned.model, tuned.tokenizer, unknown, settings.max_length), temperature
    )
    # In scope: validation messages of real intents; out of scope: held-out unknown messages plus
    # the validation share of the synthetic noise.
    fallback_id = tuned.labels.index(FALLBACK_INTENT)
    real = tuned.val_labels != fallback_id
    val_conf = accepted_confidence(val_probs, tuned.labels)
    unknown_conf = accepted_confidence(unknown_probs, tuned.labels)
    oos_conf = np.concatenate([unknown_conf, val_conf[~real]])
    correct = val_probs.argmax(axis=1) == tuned.val_labels
    tuned_threshold = tune_threshold(val_conf[real], correct[real], oos_conf)
    cap = refusal_cap(val_conf[real], correct[real], settings.max_refused_share)
    threshold = min(tuned_threshold, cap)
    accepted = val_conf[real] >= threshold
    clean = np.arange(len(validation)) < len(val_ex)
    meta = {
        "kind": MODEL_KIND,
        "labels": tuned.labels,
        "max_length": settings.max_length,
        "temperature": round(temperature, 4),
        "threshold": round(threshold, 4),
        "threshold_tuned": round(tuned_threshold, 4),  # before the refusal cap
        "threshold_cap": round(min(cap, 1.0), 4),
        "settings": settings.as_dict(),
        "n_examples": len(examples),
        "history": tuned.history,
        "validation": {
            "accuracy": round(float(correct[real & clean].mean()), 4),
            "accuracy_augmented": round(float(correct[real & ~clean].mean()), 4) if val_aug else None,
            "accuracy_with_fallback": round(float((accepted & correct[real]).mean()), 4),
            "unknown_rejected": round(float((unknown_conf < threshold).mean()), 4),
            "n": int((real & clean).sum()),
            "n_augmented": len(val_aug),
        },
        "greeting_openers": greeting_openers(examples),  # for the parser's greeting rule
        "vocabulary": vocabulary(e.text for e in examples),
        "train_seconds": tuned.train_seconds,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    log.info("temperature %.3f, threshold %.3f (tuned %.3f, cap %.3f), validation %s", temperature, threshold,
             tuned_threshold, min(cap, 1.0), meta["validation"])
    return IntentModel(tuned.model, tuned.tokenizer, meta)


def model_fingerprint(examples: list[Example], settings: FineTuneSettings, unknown: list[str]) -> str:
    return fingerprint(examples, {"kind": MODEL_KIND, **settings.as_dict(), "unknown": unknown,
                                  "augment": AUGMENT_VERSION, "lookups": lookup_terms()})


def train_if_stale(
    data_dir: Path, model_dir: Path, force: bool = False,
    settings: FineTuneSettings | None = None, progress: bool = True,
) -> bool:
    """Returns True when a new model was written."""
    settings = settings or FineTuneSettings()
    examples = load_examples(data_dir)
    unknown = unknown_messages()
    digest = model_fingerprint(examples, settings, unknown)
    if not force and (read_meta(model_dir) or {}).get("fingerprint") == digest:
        log.info("NLU model in %s is up to date (data and settings unchanged)", model_dir)
        return False
    log.info("fine-tuning the intent model on %d examples from %s", len(examples), data_dir)
    model = train_model(examples, settings, unknown, progress=progress)
    model.meta["fingerprint"] = digest
    model.save(model_dir)
    log.info("saved NLU model to %s (%.0f s)", model_dir, model.meta["train_seconds"])
    return True
