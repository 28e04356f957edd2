"""``python -m bench.faq``: FAQ retrieval quality and speed on the labelled question set.

Loads the demo knowledge base into a scratch database, asks every question in
bench/faq_questions.yml, and writes reports/faq.json and reports/faq.md: top-1 accuracy on
answerable questions, what the bot would do with them (answer / did-you-mean / decline), the share of
unanswerable questions declined, per-question latency, and how long a published edit takes to reach
answers (no restart, no retraining).
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from aisle import migrate
from aisle.config import REPO_ROOT
from aisle.db import session_factory
from aisle.logs import configure_logging
from aisle.models import FaqEntry
from knowledge.kb import KnowledgeBase
from knowledge.records import entry_from_mapping
from knowledge.retrieval import AMBIGUOUS_MARGIN, ANSWER_AT, SUGGEST_AT, FaqRetriever

log = logging.getLogger(__name__)
QUESTIONS = Path(__file__).resolve().parent / "faq_questions.yml"
REPORTS = REPO_ROOT / "reports"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def evaluate(retriever: FaqRetriever, questions: dict[str, Any], ids: dict[str, int]) -> dict[str, Any]:
    answerable = [(q, ids[canonical]) for canonical, qs in questions["answerable"].items() for q in qs]
    latencies, rows = [], []
    kinds = {"answer": 0, "suggest": 0, "none": 0}
    top1 = answered_right = answered_wrong = suggested_with_right = close_calls = 0
    for text, want in answerable:
        start = time.perf_counter()
        result = retriever.answer(text)
        latencies.append((time.perf_counter() - start) * 1000)
        kinds[result.kind] += 1
        right = result.best is not None and result.best.entry_id == want
        top1 += right
        if result.kind == "answer":
            answered_right += right
            answered_wrong += not right
        elif result.kind == "suggest":
            suggested_with_right += any(m.entry_id == want for m in result.matches)
            close_calls += result.ambiguous
        if not right:
            rows.append({"question": text, "expected": want, "got": result.best.question if result.best else None,
                         "kind": result.kind, "confidence": round(result.confidence, 3)})
    declined, wrongly_answered = 0, []
    for text in questions["unanswerable"]:
        start = time.perf_counter()
        result = retriever.answer(text)
        latencies.append((time.perf_counter() - start) * 1000)
        declined += result.kind == "none"
        if result.kind != "none":
            wrongly_answered.append({"question": text, "kind": result.kind, "got": result.best.question,
                                     "confidence": round(result.confidence, 3)})
    n, u = len(answerable), len(questions["unanswerable"])
    return {
        "answerable": n, "unanswerable": u,
        "top1_accuracy": top1 / n,
        "answered": kinds["answer"] / n, "answered_correct": answered_right / n,
        "answered_wrong": answered_wrong / n,
        "did_you_mean": kinds["suggest"] / n, "did_you_mean_contains_right": suggested_with_right / n,
        "did_you_mean_close_call": close_calls / n,
        "declined_answerable": kinds["none"] / n,
        "unanswerable_declined": declined / u,
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "misses": rows, "unanswerable_not_declined": wrongly_answered,
    }


def measure_reload(kb: KnowledgeBase, retriever: FaqRetriever) -> dict[str, float]:
    """Publish an edited answer and time until the retriever serves it (what the action server does)."""
    entry = kb.entries(text="gift wrap")[0]
    marker = "Gift wrapping is now free this month."
    _, data = entry_from_mapping({"question": entry.question, "alternatives": entry.alternatives,
                                  "answer": f"{entry.answer}\n\n{marker}", "category": entry.category,
                                  "tags": entry.tags, "status": "published"})
    start = time.perf_counter()
    kb.update(entry.id, data, "bench")
    while marker not in retriever.answer("can you gift wrap my order").best.answer:
        time.sleep(0.01)
    return {"edit_to_answer_s": time.perf_counter() - start}


def write_reports(result: dict[str, Any]) -> None:
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "faq.json").write_text(json.dumps(result, indent=2) + "\n")
    q = result["quality"]
    lines = [
        "# FAQ retrieval benchmark", "",
        f"`python -m bench.faq` on {q['answerable']} answerable paraphrases and {q['unanswerable']} "
        f"unanswerable questions against the {result['entries']}-entry demo knowledge base. Thresholds: answer at "
        f"calibrated confidence ≥ {ANSWER_AT}, did-you-mean ≥ {SUGGEST_AT}, else decline; a confident answer becomes "
        f"did-you-mean when the runner-up, with a different answer, scores within {AMBIGUOUS_MARGIN} "
        "(a close call).", "",
        "| metric | value | target |", "|---|---|---|",
        f"| top-1 accuracy (answerable) | {q['top1_accuracy']:.1%} | ≥ 90% |",
        f"| unanswerable declined | {q['unanswerable_declined']:.1%} | ≥ 80% |",
        f"| answerable: answered, right entry | {q['answered_correct']:.1%} | |",
        f"| answerable: answered, wrong entry | {q['answered_wrong']:.1%} | |",
        f"| answerable: did-you-mean (right entry among them) | {q['did_you_mean']:.1%} "
        f"({q['did_you_mean_contains_right']:.1%}) | |",
        f"| answerable: did-you-mean on a close call | {q['did_you_mean_close_call']:.1%} | |",
        f"| answerable: declined | {q['declined_answerable']:.1%} | |",
        f"| latency per question p50 / p95 | {q['latency_ms']['p50']:.1f} / {q['latency_ms']['p95']:.1f} ms | |",
        f"| published edit → served in answers | {result['reload']['edit_to_answer_s']:.2f} s | ≤ 5 s |",
        f"| index build (first question, {result['entries']} entries) | {result['build_s']:.2f} s | |", "",
        "Wrong top-1 answers:", "",
        *[f"- \"{m['question']}\" → \"{m['got']}\" ({m['kind']}, {m['confidence']})" for m in q["misses"]],
        "", "Unanswerable questions not declined:", "",
        *[f"- \"{m['question']}\" → \"{m['got']}\" ({m['kind']}, {m['confidence']})"
          for m in q["unanswerable_not_declined"]],
    ]
    (REPORTS / "faq.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    argparse.ArgumentParser(prog="python -m bench.faq", description=__doc__).parse_args()
    configure_logging("WARNING")
    questions = yaml.safe_load(QUESTIONS.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        sessions = session_factory(url)
        kb = KnowledgeBase(sessions)
        kb.seed_demo()
        with sessions() as s:
            ids = {e.question: e.id for e in s.query(FaqEntry)}
        retriever = FaqRetriever(sessions)
        start = time.perf_counter()
        retriever.index()
        build_s = time.perf_counter() - start
        quality = evaluate(retriever, questions, ids)
        result = {"entries": len(ids), "build_s": build_s, "quality": quality,
                  "reload": measure_reload(kb, retriever)}
    write_reports(result)
    print((REPORTS / "faq.md").read_text())


if __name__ == "__main__":
    main()
