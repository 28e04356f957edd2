"""NLU benchmark: ``python -m bench.nlu`` writes reports/nlu.json and reports/nlu.md.

Side by side in one run: the fine-tuned MiniLM (Aisle), the frozen-MiniLM + logistic-regression
baseline, and Rasa's default DIET pipeline (in .venv-rasa), on BANKING77 and CLINC150 from
../shared/datasets (train on train, tune on a validation split, test once), plus 5-fold
cross-validation on Aisle's own data/nlu and serving latency. Not part of `make test`.

``--heldout`` runs only the shop model's own evaluations (a few minutes, nothing public retrained):
the dev set bench/nlu_devset.jsonl, the held-out shopper messages tests/unseen/nlu_messages.jsonl
(never trained on) and CLINC150 through the shop NLU, each for the trained model with the parser's
rules, the model as it was before issue #14 (its copy in AISLE_DATA_DIR/nlu-before, plain model and
threshold), and frozen MiniLM + logistic regression trained on the same data/nlu.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from aisle.config import REPO_ROOT, settings
from aisle.logs import configure_logging
from bench.machine import cpu_description
from nlu_models.calibration import energy, fit_temperature, softmax, tune_threshold
from nlu_models.data import load_examples
from nlu_models.finetune import FineTuneSettings, fine_tune, predict_logits, stratified_split
from nlu_models.parser import FALLBACK_INTENT
from nlu_models.training import accepted_confidence

log = logging.getLogger("bench.nlu")
DATASETS = REPO_ROOT.parent / "shared" / "datasets"
REPORTS = REPO_ROOT / "reports"
PARTS = ("banking77", "clinc150", "aisle_cv", "aisle_cv_before", "latency", "train_time", "devset", "heldout",
         "shop_clinc")
# The training settings and parser as they were before issue #14 (no augmentation, 10-epoch schedule,
# threshold tuned without the refusal cap, no parser rules): the ablation row of the cross-validation.
BEFORE_SETTINGS = FineTuneSettings(max_epochs=10, augment_share=0.0, max_refused_share=0.0)
HELDOUT_PARTS = ("devset", "heldout", "shop_clinc")
# Larger public sets converge in fewer epochs; no synthetic noise there (CLINC has real oos examples).
PUBLIC = FineTuneSettings(max_epochs=5, patience=1, gibberish_examples=0, validation_share=0.1)
PUBLISHED = {
    "banking77": [("BERT-large fine-tuned (Casanueva et al. 2020)", {"accuracy": 93.66}),
                  ("USE+ConveRT (Casanueva et al. 2020)", {"accuracy": 93.36})],
    "clinc150": [("BERT, oos-threshold (Larson et al. 2019)", {"in_scope_accuracy": 96.2, "oos_recall": 52.3}),
                 ("BERT, oos-train (Larson et al. 2019)", {"in_scope_accuracy": 96.9, "oos_recall": 40.3}),
                 ("Rasa 2019, oos-train (Larson et al. 2019)", {"in_scope_accuracy": 91.5, "oos_recall": 45.3}),
                 ("MLP (USE) (Larson et al. 2019)", {"in_scope_accuracy": 93.5, "oos_recall": 47.4})],
}


def pct(x: float) -> float:
    return round(100 * float(x), 2)


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return pct(f1_score(y_true, y_pred, average="macro"))


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


DIET_EPOCHS = 100  # Rasa's default; --diet-epochs lowers it when the run must fit a time budget


def run_diet(train: list[tuple[str, str]], test: list[tuple[str, str]], epochs: int) -> dict[str, Any]:
    """Train and test Rasa's default DIET pipeline in .venv-rasa (a subprocess: other dependencies)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        src.write_text(json.dumps({"train": train, "test": test}))
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
        subprocess.run([str(REPO_ROOT / ".venv-rasa/bin/python"), "-m", "bench.nlu_diet", str(src), str(out),
                        str(epochs)],
                       cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(out.read_text())
    lat = np.array(result["latencies_ms"])
    return {"predictions": result["predictions"], "train_seconds": round(result["train_seconds"], 1),
            "epochs": result["epochs"],
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 2),
                           "p95": round(float(np.percentile(lat, 95)), 2)}}


def split_validation(texts: list[str], labels: list[str], share: float, seed: int):
    train_idx, val_idx = stratified_split(labels, share, seed)
    pick = lambda idx, xs: [xs[i] for i in idx]  # noqa: E731
    return (pick(train_idx, texts), pick(train_idx, labels)), (pick(val_idx, texts), pick(val_idx, labels))


def timed_fine_tune(train, val) -> tuple[Any, float]:
    started = time.perf_counter()
    tuned = fine_tune(train[0], train[1], PUBLIC, validation=val)
    return tuned, round(time.perf_counter() - started, 1)


def bench_banking77(quick: bool, diet_epochs: int) -> dict[str, Any]:
    def read(name: str) -> tuple[list[str], list[str]]:
        with open(DATASETS / "banking77" / name, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if quick:
            rows = rows[::20]
        return [r["text"] for r in rows], [r["category"] for r in rows]

    texts, labels = read("train.csv")
    test_texts, test_labels = read("test.csv")
    train, val = split_validation(texts, labels, PUBLIC.validation_share, PUBLIC.seed)
    rows: dict[str, Any] = {}

    tuned, seconds = timed_fine_tune(train, val)
    pred = [tuned.labels[i] for i in predict_logits(tuned.model, tuned.tokenizer, test_texts, PUBLIC.max_length).argmax(1)]
    rows["Aisle: MiniLM-L6 fine-tuned"] = {
        "accuracy": pct(np.mean(np.array(pred) == np.array(test_labels))),
        "macro_f1": macro_f1(test_labels, pred), "train_seconds": seconds, "epochs": len(tuned.history)}
    del tuned

    from bench.nlu_baseline import EmbeddingLogReg

    started = time.perf_counter()
    lr = EmbeddingLogReg.train(*train, seed=PUBLIC.seed)
    pred = [lr.labels[i] for i in lr.logits(test_texts).argmax(1)]
    rows["frozen MiniLM + logistic regression"] = {
        "accuracy": pct(np.mean(np.array(pred) == np.array(test_labels))),
        "macro_f1": macro_f1(test_labels, pred), "train_seconds": round(time.perf_counter() - started, 1)}

    diet = run_diet(list(zip(texts, labels)), list(zip(test_texts, test_labels)), diet_epochs)
    pred = diet["predictions"]
    rows["Rasa 3.6 DIET (default pipeline)"] = {
        "accuracy": pct(np.mean(np.array(pred) == np.array(test_labels))),
        "macro_f1": macro_f1(test_labels, pred), "train_seconds": diet["train_seconds"],
        "latency_ms": diet["latency_ms"], "epochs": diet["epochs"],
        "note": "predictions of nlu_fallback (its 0.3 threshold) count as wrong"}
    return {"n_train": len(train[0]), "n_val": len(val[0]), "n_test": len(test_texts), "rows": rows,
            "published": PUBLISHED["banking77"]}


def clinc_scores(accepted: np.ndarray, correct: np.ndarray, is_oos: np.ndarray) -> dict[str, float]:
    return {"in_scope_accuracy": pct((accepted & correct)[~is_oos].mean()),
            "oos_recall": pct((~accepted)[is_oos].mean())}


def bench_clinc150(quick: bool, diet_epochs: int) -> dict[str, Any]:
    data = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())
    step = 20 if quick else 1

    def part(name: str, oos: str) -> tuple[list[str], list[str]]:
        items = data[name][::step] + data[oos][::step]
        return [t for t, _ in items], [FALLBACK_INTENT if label == "oos" else label for _, label in items]

    train, val, test = part("train", "oos_train"), part("val", "oos_val"), part("test", "oos_test")
    rows: dict[str, Any] = {}
    tuned, seconds = timed_fine_tune(train, val)
    fb = tuned.labels.index(FALLBACK_INTENT)
    label_id = {label: i for i, label in enumerate(tuned.labels)}
    y_val = np.array([label_id[label] for label in val[1]])
    y_test = np.array([label_id[label] for label in test[1]])
    t = fit_temperature(tuned.val_logits, y_val)
    test_logits = predict_logits(tuned.model, tuned.tokenizer, test[0], PUBLIC.max_length)
    val_probs, test_probs = softmax(tuned.val_logits, t), softmax(test_logits, t)
    val_oos, test_oos = y_val == fb, y_test == fb

    # Confidence (max softmax after temperature scaling) with a threshold tuned on validation.
    val_conf = accepted_confidence(val_probs, tuned.labels)
    threshold = tune_threshold(val_conf[~val_oos], (val_probs.argmax(1) == y_val)[~val_oos], val_conf[val_oos])
    test_conf = accepted_confidence(test_probs, tuned.labels)
    correct = test_probs.argmax(1) == y_test
    rows["Aisle: MiniLM-L6 fine-tuned, oos-train + max-softmax threshold (what the server uses)"] = {
        **clinc_scores(test_conf >= threshold, correct, test_oos), "threshold": round(threshold, 4),
        "temperature": round(t, 3), "train_seconds": seconds, "epochs": len(tuned.history)}
    rows["Aisle: same model, oos-train only (no threshold)"] = clinc_scores(
        test_probs.argmax(1) != fb, correct, test_oos)
    # Alternative measured for the choice: an energy score threshold tuned the same way.
    val_e, test_e = energy(tuned.val_logits, t), energy(test_logits, t)
    val_e = np.where(val_probs.argmax(1) == fb, -np.inf, val_e)
    test_e = np.where(test_probs.argmax(1) == fb, -np.inf, test_e)
    e_threshold = tune_threshold(val_e[~val_oos], (val_probs.argmax(1) == y_val)[~val_oos], val_e[val_oos])
    rows["Aisle: same model, energy-score threshold (measured alternative)"] = clinc_scores(test_e >= e_threshold, correct, test_oos)
    del tuned

    diet = run_diet(list(zip(*train)), list(zip(*test)), diet_epochs)
    pred = np.array(diet["predictions"])
    truth = np.array(test[1])
    diet_accepted = pred != FALLBACK_INTENT
    rows["Rasa 3.6 DIET (default pipeline), oos-train + FallbackClassifier 0.3"] = {
        **clinc_scores(diet_accepted, pred == truth, truth == FALLBACK_INTENT),
        "train_seconds": diet["train_seconds"], "latency_ms": diet["latency_ms"], "epochs": diet["epochs"]}
    return {"n_train": len(train[0]), "n_val": len(val[0]), "n_test": len(test[0]), "rows": rows,
            "published": PUBLISHED["clinc150"]}


def cv_variants(examples, seed: int = 1013) -> dict[str, list[tuple[str, str]]]:
    """Test-fold messages as written, with typos, and with a greeting glued on (a seed of their own)."""
    import random

    from nlu_models.augment import NOT_GLUED, add_typos, glue_greeting

    rng = random.Random(seed)
    openers = ["hi", "hello", "hey", "hey there", "good morning", "hiya", "hi there"]
    return {
        "as_written": [(e.text, e.intent) for e in examples],
        "typos": [(add_typos(e.text, rng), e.intent) for e in examples],
        "greeting_glued": [(glue_greeting(e.text, openers, rng), e.intent) for e in examples
                           if e.intent not in NOT_GLUED],
    }


def bench_aisle_cv(quick: bool, folds: int = 5, settings_cv: FineTuneSettings | None = None,
                   rules: bool = True) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedKFold

    from bench.nlu_eval import demo_lookups, is_right
    from nlu_models.server import parser_for
    from nlu_models.training import train_model, unknown_messages

    examples = load_examples(REPO_ROOT / "data" / "nlu")
    if quick:
        examples = examples[::4]
    labels = np.array([e.intent for e in examples])
    intents = sorted(set(labels))
    columns = intents + [FALLBACK_INTENT]
    confusion = np.zeros((len(intents), len(columns)), dtype=int)
    accs, accs_fb, f1s, seconds, epochs = [], [], [], [], []
    parsed: dict[str, list[tuple[str, str]]] = {}  # variant -> (gold, decided by the full parser)
    settings_cv = settings_cv or FineTuneSettings()
    lookups = demo_lookups()
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=13).split(labels, labels)):
        model = train_model([examples[i] for i in tr], settings_cv, unknown_messages(), progress=False)
        seconds.append(model.meta["train_seconds"])
        epochs.append(len(model.meta["history"]))
        parser = parser_for(model, None, 500, lookups)
        parser.rules = rules
        for variant, items in cv_variants([examples[i] for i in te], seed=1013 + k).items():
            decided = [r["intent"]["name"] for r in parser.parse_many([t for t, _ in items])]
            parsed.setdefault(variant, []).extend((g, d) for (_, g), d in zip(items, decided))
        probs = model.probabilities([examples[i].text for i in te])
        real = [j for j, label in enumerate(model.labels) if label != FALLBACK_INTENT]
        argmax_real = [model.labels[real[j]] for j in probs[:, real].argmax(1)]
        conf = accepted_confidence(probs, model.labels)
        decided = [p if c >= model.threshold else FALLBACK_INTENT for p, c in zip(argmax_real, conf)]
        truth = labels[te]
        accs.append(np.mean(np.array(argmax_real) == truth))
        accs_fb.append(np.mean(np.array(decided) == truth))
        f1s.append(macro_f1(truth, argmax_real))
        for t_, d in zip(truth, decided):
            confusion[intents.index(t_), columns.index(d)] += 1
        log.info("fold %d: accuracy %.3f", k + 1, accs[-1])
    parser_scores = {}
    for variant, pairs in parsed.items():
        in_scope = [d for g, d in pairs if g != "out_of_scope"]
        parser_scores[variant] = {
            "n": len(pairs), "accuracy": pct(np.mean([is_right(g, d) for g, d in pairs])),
            "refused_in_scope": pct(np.mean([d == FALLBACK_INTENT for d in in_scope]))}
    return {"folds": folds, "n_examples": len(examples), "accuracy": pct(np.mean(accs)),
            "accuracy_std": pct(np.std(accs)), "accuracy_with_fallback": pct(np.mean(accs_fb)),
            "macro_f1": round(float(np.mean(f1s)), 2), "train_seconds_per_fold": round(float(np.mean(seconds)), 1),
            "epochs_per_fold": round(float(np.mean(epochs)), 1), "parser": parser_scores,
            "settings": settings_cv.as_dict(), "parser_rules": rules,
            "confusion": {"rows": intents, "columns": columns, "counts": confusion.tolist()}}


def bench_latency() -> dict[str, Any]:
    from nlu_models.server import load_parser
    from nlu_models.training import train_if_stale

    cfg = settings()
    train_if_stale(REPO_ROOT / "data" / "nlu", cfg.nlu_model_dir)
    before = rss_mb()
    started = time.perf_counter()
    parser = load_parser(cfg)
    load_seconds = round(time.perf_counter() - started, 2)
    texts = [e.text for e in load_examples(REPO_ROOT / "data" / "nlu")]
    for text in texts[:50]:
        parser.parse(text)
    lat = []
    for text in texts[::4][:400]:
        t0 = time.perf_counter()
        parser.parse(text)
        lat.append((time.perf_counter() - t0) * 1000)
    batch = texts[:1024]
    t0 = time.perf_counter()
    for i in range(0, len(batch), 32):
        parser.parse_many(batch[i:i + 32])
    throughput = len(batch) / (time.perf_counter() - t0)
    import torch

    return {"single_message_ms": {"p50": round(float(np.percentile(lat, 50)), 2),
                                  "p95": round(float(np.percentile(lat, 95)), 2),
                                  "n": len(lat)},
            "batch32_messages_per_s": round(throughput, 1), "model_load_seconds": load_seconds,
            "rss_mb_before_load": before, "rss_mb_after": rss_mb(), "torch_threads": torch.get_num_threads(),
            "runtime": f"onnxruntime {cfg.nlu_precision}, {cfg.torch_threads} thread(s)",
            "note": "in-process Parser.parse (tokenise, forward pass, calibration, entities), warm"}


NOW = "Aisle: fine-tuned MiniLM + parser rules (served now)"
BEFORE = "Aisle before issue #14: fine-tuned MiniLM, threshold only"
LOGREG = "frozen MiniLM + logistic regression on data/nlu (argmax, no fallback)"


# Every knob of the issue #14 changes, and the data it was chosen on (never the held-out set).
KNOBS = [
    "## Issue #14 knobs and where they were chosen", "",
    "None was chosen on the held-out set (tests/unseen/nlu_messages.jsonl).", "",
    "| knob | value | chosen on |", "|---|---|---|",
    "| augment_share: fresh augmented variants per epoch, as a share of the training examples "
    "(nlu_models/augment.py) | 0.5 | set beforehand; cost checked against the training-time limit "
    "(this report), effect on data/nlu cross-validation (typo and greeting variants) and the dev set |",
    "| variant mix: catalog-term swap 0.5, greeting glued 0.25, 1-2 typos (swap, drop, double, "
    "neighbour key) plus chat casing | as in augment.py | set beforehand, not tuned |",
    "| max_epochs (linear schedule length) | 6 (was 10; patience 2 unchanged) | validation curves of data/nlu "
    "(best epoch 5-6 with augmentation) and the training-time limit |",
    "| max_refused_share: the threshold is capped so that the model alone refuses at most this share of the "
    "correctly classified validation messages (as written + augmented) | 0.05 | dev set and CLINC150 *val* "
    "(threshold sweep: dev refusals 1.4 % up to 0.65 and CLINC val oos recall 83 %); the uncapped tuned "
    "threshold moved between 0.70 and 0.84 from run to run |",
    "| fallback threshold below the cap | tuned per training run | validation split of data/nlu (+ augmented "
    "variants) vs nlu_models/unknown_messages.txt and synthetic noise, as before |",
    "| catalog_terms rule: best of the shopping intents and out_of_scope (no margin) | – | CLINC150 val and dev "
    "set: a margin for out_of_scope changed nothing there, so the simplest form was kept |",
    "| spelling: words of 4+ letters, one edit, same first letter, towards data/nlu and lookup words | – | set "
    "beforehand; checked on the dev set and CLINC150 val |",
    "| 103 new out_of_scope training examples (data/nlu/chitchat.yml) | – | written after seeing which "
    "CLINC150 *val* oos messages the augmented model accepted (banking, personal-assistant, health, travel, "
    "'best X' about non-products); none copied from CLINC |",
    "| not used: CLINC150's oos_train split (98 messages, prices and deals left out) as out_of_scope "
    "examples | – | passed a rule fixed before measuring on the dev set (98.8 %, 0 refused) and CLINC val "
    "(oos recall 81 → 88 %), but the conversation dev sets lost 6 conversations to in-scope messages read "
    "as goodbye, handoff or cart (\"just campwise\", \"I need a rucksack, just not a black one\"), so it "
    "was dropped. Its held-out figures: accuracy 95.4 %, refused 1.55 %, CLINC test oos recall 79.6 %. "
    "Adding CLINC in-scope intents too already failed the dev rule |",
    "| not used: 70 need statements with no product word as search_product (\"my wrists are sore from "
    "typing\", \"the puppy chews everything\") and 12 personal problems as out_of_scope | – | passed a "
    "rule fixed before measuring (same AVX2 box, retrained both ways): dev set 98.16 % both, CLINC "
    "val oos recall 80 → 83 %, hardware needs answered 0.61 (bench.needs; 0.31 in the last report). "
    "The conversation dev sets (conversations, blind2-5) went 275 → 272 of 307: 8 need conversations "
    "fixed, 9 others broken (\"hi, do you sell e-readers?\" not understood, \"something pricier and "
    "more powerful?\" gave sneakers, \"sort by rating\" gave the reviews article), so it was dropped. "
    "Its held-out figures: accuracy 96.4 → 94.9 %, refused 0.86 → 1.73 %, CLINC test oos recall 69.7 "
    "→ 74.8 %; demo needs answered 0.70 (0.41 in the last report) with false alarms on the demo "
    "negatives 0.22 (0.16) |",
    "",
]


class ShopSystems:
    """The systems the shop evaluations compare, loaded once per benchmark run."""

    def __init__(self, before_dir: Path | None):
        self.before_dir = before_dir
        self._systems: list[Any] | None = None

    def get(self) -> list[Any]:
        if self._systems is not None:
            return self._systems
        from bench.nlu_baseline import EmbeddingLogReg
        from bench.nlu_eval import System, load_shop_parser, parser_predictor
        from nlu_models.training import train_if_stale

        cfg = settings()
        train_if_stale(REPO_ROOT / "data" / "nlu", cfg.nlu_model_dir)
        systems = [System(NOW, parser_predictor(load_shop_parser(cfg.nlu_model_dir)))]
        if self.before_dir and (self.before_dir / "meta.json").exists():
            systems.append(System(BEFORE, parser_predictor(load_shop_parser(self.before_dir, rules=False))))
        else:
            log.warning("no copy of the model before issue #14 in %s: that row is left out", self.before_dir)
        examples = load_examples(REPO_ROOT / "data" / "nlu")
        lr = EmbeddingLogReg.train([e.text for e in examples], [e.intent for e in examples], seed=13)
        systems.append(System(LOGREG, lambda texts: [lr.labels[i] for i in lr.logits(list(texts)).argmax(1)]))
        self._systems = systems
        return systems


def bench_labelled(path: Path, systems: ShopSystems) -> dict[str, Any]:
    from bench.nlu_eval import evaluate, read_jsonl

    if not path.exists():
        return {"missing": str(path.relative_to(REPO_ROOT))}
    return {"file": str(path.relative_to(REPO_ROOT)), **evaluate(read_jsonl(path), systems.get())}


def carry_before_row(part: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Keep the last measured row of the model before issue #14 when its copy is not in this data dir
    (a fresh clone): that model and the sets are fixed, so its figures stand; the row says when."""
    rows, old_rows = part.get("rows"), (previous or {}).get("rows") or {}
    if rows is None or BEFORE in rows or BEFORE not in old_rows or part.get("n") != previous.get("n"):
        return
    when = previous.get("measured_at", "an earlier run")
    old = old_rows[BEFORE]
    if "n" in old:  # a labelled set's row
        rows[BEFORE] = {"carried_from": when, **old}
    else:  # CLINC's splits
        rows[BEFORE] = {split: {"carried_from": when, **r} for split, r in old.items()}


def shown_name(system: str, row: dict[str, Any]) -> str:
    return f"{system} (measured {row['carried_from']})" if "carried_from" in row else system


def bench_shop_clinc(systems: ShopSystems) -> dict[str, Any]:
    from bench.nlu_eval import clinc_answers

    clinc = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())
    return {"rows": {s.name: {split: clinc_answers(s.predict, clinc, split) for split in ("val", "test")}
                     for s in systems.get()}}


def bench_train_time() -> dict[str, Any]:
    """`python -m nlu_models train` as it was (no augmentation) and as it is, back to back on this machine."""
    from nlu_models.finetune import use_bf16
    from nlu_models.training import train_model, unknown_messages

    examples = load_examples(REPO_ROOT / "data" / "nlu")
    rows = {}
    for name, cfg in (("before issue #14 (no augmentation, 10-epoch schedule)", BEFORE_SETTINGS),
                      ("now (augment_share 0.5, 6-epoch schedule)", FineTuneSettings())):
        started = time.perf_counter()
        model = train_model(examples, cfg, unknown_messages(), progress=False)
        history = model.meta["history"]
        rows[name] = {"seconds": round(time.perf_counter() - started, 1), "fine_tune_seconds": model.meta["train_seconds"],
                      "epochs": len(history), "threshold": model.meta["threshold"],
                      "validation": model.meta["validation"]}
        del model
    import torch

    return {"rows": rows, "bf16": use_bf16(FineTuneSettings()), "torch_threads": torch.get_num_threads(),
            "n_examples": len(examples)}


def targets(report: dict[str, Any]) -> list[str]:
    """The issue's targets against what this report measured."""
    lines = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]

    def row(name: str, measured: str, ok: bool) -> None:
        lines.append(f"| {name} | {measured} | {'yes' if ok else 'no'} |")

    b, c, lat = report.get("banking77"), report.get("clinc150"), report.get("latency")
    if b:
        ours = b["rows"]["Aisle: MiniLM-L6 fine-tuned"]["accuracy"]
        diet = b["rows"]["Rasa 3.6 DIET (default pipeline)"]["accuracy"]
        row("BANKING77 accuracy ≥ 93.7", str(ours), ours >= 93.7)
        row("BANKING77 ahead of DIET", f"{ours} vs {diet}", ours > diet)
    if c:
        ours = next(v for k, v in c["rows"].items() if "what the server uses" in k)
        diet = next(v for k, v in c["rows"].items() if k.startswith("Rasa"))
        row("CLINC150 in-scope ≥ 96.2 with OOS recall ≥ 60",
            f"{ours['in_scope_accuracy']} / {ours['oos_recall']}",
            ours["in_scope_accuracy"] >= 96.2 and ours["oos_recall"] >= 60)
        row("CLINC150 ahead of DIET on both", f"{ours['in_scope_accuracy']} / {ours['oos_recall']} vs "
            f"{diet['in_scope_accuracy']} / {diet['oos_recall']}",
            ours["in_scope_accuracy"] > diet["in_scope_accuracy"] and ours["oos_recall"] > diet["oos_recall"])
    if lat:
        p95 = lat["single_message_ms"]["p95"]
        row("p95 ≤ 15 ms per message", f"{p95} ms", p95 <= 15)
    held = (report.get("heldout") or {}).get("rows", {}).get(NOW)
    if held:
        row("held-out shopper messages: accuracy ≥ 95 (issue #14)", str(held["accuracy"]), held["accuracy"] >= 95)
        row("held-out: ≤ 2 % of in-scope messages refused (issue #14)", f"{held['refused_in_scope']} %",
            held["refused_in_scope"] <= 2)
    shop = (report.get("shop_clinc") or {}).get("rows", {}).get(NOW)
    if shop:
        recall = shop["test"]["oos_recall"]
        row("CLINC150 oos test answered out_of_scope/nlu_fallback by the shop NLU ≥ 80 % (issue #14)",
            f"{recall} %", recall >= 80)
    return lines + [""]


def markdown(report: dict[str, Any]) -> str:
    out = ["# NLU benchmark", "", f"Run {report['finished_at']} on {report['machine']}. "
           "Produced by `python -m bench.nlu` (`--heldout` for the shop evaluations alone).", ""]
    cpu = report.get("cpu")
    if cpu:
        out += [f"CPU (lscpu): {cpu.get('Model name', '?')}, {cpu.get('CPU(s)', '?')} CPUs"
                f"{', ' + cpu['Hypervisor vendor'] + ' guest' if cpu.get('Hypervisor vendor') else ''}; "
                f"flags {' '.join(cpu.get('flags_relevant', []))}; torch {cpu.get('torch')}, onnxruntime "
                f"{cpu.get('onnxruntime', '–')}, bf16 autocast "
                f"{'on' if cpu.get('bf16_autocast') else 'off'}. Each part's measurement date is in nlu.json.", ""]
    for name in ("banking77", "clinc150"):
        part = report.get(name)
        if not part:
            continue
        metrics = ["accuracy", "macro_f1"] if name == "banking77" else ["in_scope_accuracy", "oos_recall"]
        out += [f"## {name.upper()} (test set, n={part['n_test']})", "",
                "| system | " + " | ".join(metrics) + " | train s | epochs | latency p50/p95 ms |",
                "|---|" + "---|" * (len(metrics) + 3)]
        for system, row in part["rows"].items():
            lat = row.get("latency_ms")
            latency = f"{lat['p50']} / {lat['p95']}" if lat else ""
            out.append(f"| {system} | " + " | ".join(str(row.get(m, "")) for m in metrics)
                       + f" | {row.get('train_seconds', '')} | {row.get('epochs', '')} | {latency} |")
        for system, row in part["published"]:
            out.append(f"| {system} (published) | " + " | ".join(str(row.get(m, "–")) for m in metrics) + " | | | |")
        out.append("")
    cv = report.get("aisle_cv")
    before_cv = report.get("aisle_cv_before")
    if cv:
        out += ["## Aisle intents, 5-fold cross-validation on data/nlu", "",
                f"{cv['n_examples']} examples: accuracy {cv['accuracy']} ± {cv['accuracy_std']}, with the fallback "
                f"threshold applied {cv['accuracy_with_fallback']}, macro-F1 {cv['macro_f1']}; "
                f"{cv['train_seconds_per_fold']} s training per fold.", "",
                "Most frequent confusions (true → decided, over all folds; the full matrix is in nlu.json):", "",
                "| true intent | decided as | count |", "|---|---|---|"]
        conf = cv["confusion"]
        pairs = [(conf["rows"][i], conf["columns"][j], n) for i, row in enumerate(conf["counts"])
                 for j, n in enumerate(row) if n and conf["rows"][i] != conf["columns"][j]]
        out += [f"| {t} | {d} | {n} |" for t, d, n in sorted(pairs, key=lambda x: -x[2])[:10]] + [""]
    if cv and cv.get("parser"):
        out += ["Decided as the server decides (model, threshold and, now, the parser's rules and spelling; "
                "demo-catalog lookups) on the test folds, as written and in variants made with a seed of their own "
                "(typos; a greeting glued on). The 'before' columns train and decide as before issue #14 "
                "(no augmentation, 10-epoch schedule, uncapped threshold, no rules) on the same folds of today's data.",
                "", "| test-fold messages | n | accuracy now | refused % now | accuracy before | refused % before |",
                "|---|---|---|---|---|---|"]
        for k, v in cv["parser"].items():
            b = (before_cv or {}).get("parser", {}).get(k, {})
            out.append(f"| {k} | {v['n']} | {v['accuracy']} | {v['refused_in_scope']} | {b.get('accuracy', '–')} "
                       f"| {b.get('refused_in_scope', '–')} |")
        out += ["", f"Model argmax accuracy now {cv['accuracy']} ± {cv['accuracy_std']}"
                + (f", before {before_cv['accuracy']} ± {before_cv['accuracy_std']}" if before_cv else "")
                + f"; epochs per fold now {cv.get('epochs_per_fold', '')}"
                + (f", before {before_cv.get('epochs_per_fold', '')}" if before_cv else "")
                + f"; training seconds per fold now {cv['train_seconds_per_fold']}"
                + (f", before {before_cv['train_seconds_per_fold']}" if before_cv else "") + ".", ""]
    notes = report.get("issue14_notes")
    if notes:  # written by hand into nlu.json: how the issue #14 changes were developed and measured
        out += list(notes) + [""]
    for part, title in (("heldout", "Held-out shopper messages"), ("devset", "Dev set (written for issue #14)")):
        sec = report.get(part)
        if not sec:
            continue
        if "missing" in sec:
            out += [f"## {title}", "", f"{sec['missing']} was not there when this ran.", ""]
            continue
        out += [f"## {title} ({sec['file']}, n={sec['n']}, measured {sec.get('measured_at', '')})", "",
                "In scope = every gold intent except out_of_scope; for gold out_of_scope, out_of_scope and "
                "nlu_fallback both count as right. Refused = in-scope messages answered nlu_fallback.", "",
                "| system | accuracy | macro-F1 | in-scope refused % (n) |", "|---|---|---|---|"]
        for system, r in sec["rows"].items():
            out.append(f"| {shown_name(system, r)} | {r['accuracy']} | {r['macro_f1']} | "
                       f"{r['refused_in_scope']} ({r['n_refused_in_scope']}/{r['n_in_scope']}) |")
        systems = list(sec["rows"])
        out += ["", "Recall per intent (n in the set):", "",
                "| intent | n | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
        for intent, n in sec["intents"].items():
            out.append(f"| {intent} | {n} | " + " | ".join(str(sec["rows"][x]["recall"].get(intent, ""))
                                                       for x in systems) + " |")
        out.append("")
    shop = report.get("shop_clinc")
    if shop:
        out += ["## CLINC150 through the shop NLU (not a shop: every message is outside its business)", "",
                "oos recall = share of CLINC's `oos` messages the shop NLU answers out_of_scope or nlu_fallback; "
                "in-scope refused = the same share of CLINC's 150 in-scope intents (banking, travel, small talk, "
                "...), most of which are outside a shop too (greetings, thanks, yes/no are not).", "",
                "| system | split | oos recall % (n) | CLINC in-scope refused % (n) | top answers to CLINC in-scope |",
                "|---|---|---|---|---|"]
        for system, splits in shop["rows"].items():
            for split, r in splits.items():
                top = ", ".join(f"{k} {v}" for k, v in list(r["in_scope_answers"].items())[:6])
                out.append(f"| {shown_name(system, r)} | {split} | {r['oos_recall']} ({r['n_oos']}) | "
                           f"{r['in_scope_refused']} ({r['n_in_scope']}) | {top} |")
        out.append("")
    tt = report.get("train_time")
    if tt:
        out += ["## Training time (`python -m nlu_models train`, both versions back to back on this machine)", "",
                f"{tt['n_examples']} examples, bf16 autocast {'on' if tt['bf16'] else 'off'}, "
                f"{tt['torch_threads']} torch threads, measured {tt.get('measured_at', '')}.", "",
                "| training | seconds | epochs (early stopping) | threshold | validation accuracy as written / augmented |",
                "|---|---|---|---|---|"]
        for name, r in tt["rows"].items():
            v = r["validation"]
            out.append(f"| {name} | {r['seconds']} | {r['epochs']} | {r['threshold']} | {v['accuracy']} / "
                       f"{v.get('accuracy_augmented') or '–'} |")
        out.append("")
    out += KNOBS + targets(report)
    lat = report.get("latency")
    if lat:
        s = lat["single_message_ms"]
        out += ["## Serving", "", f"Runtime: {lat.get('runtime', 'torch')}.", "",
                "| single message p50 | p95 | batch-32 msgs/s | model load s | RSS MB |",
                "|---|---|---|---|---|",
                f"| {s['p50']} ms | {s['p95']} ms | {lat['batch32_messages_per_s']} | {lat['model_load_seconds']} "
                f"| {lat['rss_mb_after']} |", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu", description=__doc__)
    parser.add_argument("--render", action="store_true", help="only rewrite nlu.md from an existing nlu.json")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    parser.add_argument("--quick", action="store_true", help="every 20th example: a smoke run, not a result")
    parser.add_argument("--out", default=str(REPORTS))
    parser.add_argument("--diet-epochs", type=int, default=DIET_EPOCHS,
                        help="DIET training epochs (Rasa's default 100 takes over an hour per data set here)")
    parser.add_argument("--heldout", action="store_true",
                        help=f"only the shop model's own evaluations: parts {','.join(HELDOUT_PARTS)}")
    parser.add_argument("--before", default=None,
                        help="the model before issue #14 (default AISLE_DATA_DIR/nlu-before)")
    args = parser.parse_args()
    if args.heldout:
        args.parts = ",".join(HELDOUT_PARTS)
    configure_logging("INFO")
    if args.render:
        report = json.loads((Path(args.out) / "nlu.json").read_text())
        (Path(args.out) / "nlu.md").write_text(markdown(report))
        return
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}")
    if any(p in parts for p in ("banking77", "clinc150", "shop_clinc")) and not DATASETS.exists():
        parser.error(f"{DATASETS} is missing: the public benchmarks live in ../shared/datasets")
    from bench.nlu_eval import DEVSET, HELDOUT

    shop = ShopSystems(Path(args.before) if args.before else settings().data_dir / "nlu-before")
    benches: dict[str, Callable[[], dict[str, Any]]] = {
        "banking77": lambda: bench_banking77(args.quick, args.diet_epochs),
        "clinc150": lambda: bench_clinc150(args.quick, args.diet_epochs),
        "aisle_cv": lambda: bench_aisle_cv(args.quick), "latency": bench_latency,
        "aisle_cv_before": lambda: bench_aisle_cv(args.quick, settings_cv=BEFORE_SETTINGS, rules=False),
        "devset": lambda: bench_labelled(DEVSET, shop), "heldout": lambda: bench_labelled(HELDOUT, shop),
        "shop_clinc": lambda: bench_shop_clinc(shop), "train_time": bench_train_time,
    }
    import torch

    out = Path(args.out)
    previous = out / "nlu.json"
    # A partial run (--parts) updates its parts and keeps the others from the last full report.
    report: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() and set(parts) != set(PARTS) else {}
    cpu = cpu_description()
    report.update({"machine": f"{cpu.get('Model name') or platform.processor() or platform.machine()}, "
                   f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)",
                   "cpu": cpu, "quick": args.quick})
    for part in parts:
        log.info("benchmark part %s", part)
        started = time.perf_counter()
        before = report.get(part)
        report[part] = benches[part]()
        carry_before_row(report[part], before)
        report[part]["wall_seconds"] = round(time.perf_counter() - started, 1)
        report[part]["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    (out / "nlu.json").write_text(json.dumps(report, indent=1))
    (out / "nlu.md").write_text(markdown(report))
    print((out / "nlu.md").read_text())


if __name__ == "__main__":
    main()
