"""Scoring the shop NLU on labelled shopper messages and on CLINC150, as the server decides.

Used by the benchmark (``python -m bench.nlu --heldout``, parts ``devset``, ``heldout``,
``shop_clinc``). Rules of the count: for gold out_of_scope, out_of_scope and nlu_fallback are both
right; for every other gold intent ("in scope") nlu_fallback is a refusal and counts as wrong.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from aisle.config import REPO_ROOT
from nlu_models.parser import FALLBACK_INTENT, OUT_OF_SCOPE, Parser

DEMO_CATALOG = REPO_ROOT / "catalog" / "demo" / "products.jsonl"
DEVSET = Path(__file__).resolve().parent / "nlu_devset.jsonl"
HELDOUT = REPO_ROOT / "tests" / "unseen" / "nlu_messages.jsonl"
REFUSED = (OUT_OF_SCOPE, FALLBACK_INTENT)

Predictor = Callable[[Sequence[str]], list[str]]


def read_jsonl(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["text"], r["intent"]) for r in rows]


def demo_lookups():
    """The static lookup tables merged with the demo catalog's brands, categories and attributes,
    as the server sees them once `make run` has seeded the demo store (no database needed)."""
    from text_tools.lookups import Lookups, LookupTables, static_tables, tables_from_products

    rows = []
    for line in DEMO_CATALOG.read_text(encoding="utf-8").splitlines():
        if line.strip():
            p = json.loads(line)
            rows.append((p.get("brand"), p.get("category"), p.get("attributes")))
    merged = static_tables().merged(tables_from_products(rows))
    return lambda: merged  # type: ignore[return-value]


def load_shop_parser(model_dir: Path, rules: bool = True, lookups=None,
                     precision: str | None = None) -> Parser:
    """``precision``: "int8", "fp32" (ONNX Runtime) or "torch"; default as served (AISLE_NLU_PRECISION)."""
    from nlu_models.intent_model import IntentModel
    from nlu_models.server import parser_for

    model = IntentModel.load(model_dir, precision)
    parser = parser_for(model, None, 500, lookups or demo_lookups())
    parser.rules = rules
    return parser


def parser_predictor(parser: Parser, batch: int = 32) -> Predictor:
    def predict(texts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(texts), batch):
            out += [r["intent"]["name"] for r in parser.parse_many(list(texts[i:i + batch]))]
        return out
    return predict


def is_right(gold: str, pred: str) -> bool:
    return pred in REFUSED if gold == OUT_OF_SCOPE else pred == gold


def score(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, refusal share of in-scope messages, per-intent recall."""
    from sklearn.metrics import f1_score

    counted = [OUT_OF_SCOPE if g == OUT_OF_SCOPE and p in REFUSED else p for g, p in zip(gold, pred)]
    in_scope = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE]
    labels = sorted(set(gold))
    recall = {}
    for label in labels:
        idx = [i for i, g in enumerate(gold) if g == label]
        recall[label] = round(100 * float(np.mean([is_right(gold[i], pred[i]) for i in idx])), 1)
    return {
        "n": len(gold),
        "n_in_scope": len(in_scope),
        "accuracy": round(100 * float(np.mean([is_right(g, p) for g, p in zip(gold, pred)])), 2),
        "macro_f1": round(100 * float(f1_score(list(gold), counted, labels=labels, average="macro",
                                               zero_division=0)), 2),
        "refused_in_scope": round(100 * float(np.mean([pred[i] == FALLBACK_INTENT for i in in_scope])), 2)
        if in_scope else 0.0,
        "n_refused_in_scope": int(sum(pred[i] == FALLBACK_INTENT for i in in_scope)),
        "recall": recall,
    }


@dataclass
class System:
    name: str
    predict: Predictor


def evaluate(items: Sequence[tuple[str, str]], systems: Sequence[System]) -> dict[str, Any]:
    texts, gold = [t for t, _ in items], [g for _, g in items]
    rows = {}
    for system in systems:
        started = time.perf_counter()
        pred = system.predict(texts)
        rows[system.name] = {**score(gold, pred), "seconds": round(time.perf_counter() - started, 1)}
    return {"n": len(items), "intents": dict(sorted(Counter(gold).items())), "rows": rows}


def clinc_answers(predict: Predictor, clinc: dict[str, Any], split: str = "test") -> dict[str, Any]:
    """CLINC150 through the shop NLU: share of `oos` messages refused (out_of_scope or nlu_fallback),
    and what it answers to CLINC's in-scope messages (banking, travel, ... also outside a shop)."""
    oos = [t for t, _ in clinc[f"oos_{split}"]]
    ins = [t for t, _ in clinc[split]]
    pred_oos, pred_in = predict(oos), predict(ins)
    answers = Counter(pred_in)
    return {
        "split": split, "n_oos": len(oos), "n_in_scope": len(ins),
        "oos_recall": round(100 * float(np.mean([p in REFUSED for p in pred_oos])), 2),
        "oos_answers": dict(Counter(pred_oos).most_common()),
        "in_scope_refused": round(100 * float(np.mean([p in REFUSED for p in pred_in])), 2),
        "in_scope_answers": dict(answers.most_common()),
    }
