"""Search quality benchmark on two catalogs: ``python -m bench.search`` writes reports/search.{json,md}.

- demo: the demo store (600 products), ``devset.jsonl`` (written next to the code) and
  ``demo_blind.jsonl`` (written by someone who had not read the search code);
- hardware: a hardware & garden store (``hardware/``), catalog and queries written by someone who had not
  read the search code, before any tuning.

Every query is judged against every product by its labels (target subcategories, preferred models,
related subcategories, stated constraints): 3 = right type, preferred and within constraints; 2 = right
type but not preferred or outside a constraint; 1 = right type outside both, or a related type; 0
otherwise. A product the query explicitly excludes ("not from Sonora") is worth at most 1.

Systems: BM25 alone and the plain dense retriever alone (no filters: the baselines), and the served
ranking. The served ranking's weights are chosen on one catalog and reported on the other, both ways;
``COMPATIBLE_TOP`` and ``CATEGORY_TOP`` were fixed before any measurement.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aisle import migrate
from aisle.config import REPO_ROOT, Settings
from aisle.db import session_factory
from aisle.logs import configure_logging
from bench.machine import cpu_description
from catalog.demo.generate import OUT as DEMO
from catalog.documents import ProductView
from catalog.importer import upsert
from catalog.records import validate_file
from catalog.search import (NOT_SOLD_BELOW, SHOWN_WITHIN, CatalogSearch, Constraints, Weights, has_color,
                            has_material)

HERE = Path(__file__).resolve().parent
CATALOGS = {
    "demo": (DEMO, [HERE / "devset.jsonl", HERE / "demo_blind.jsonl"]),
    "hardware": (HERE / "hardware" / "products.jsonl", [HERE / "hardware" / "queries.jsonl"]),
    "petbaby": (HERE / "petbaby" / "products.jsonl", [HERE / "petbaby" / "queries.jsonl"]),
}
# Weights are tuned on these two, each reported with the other's; the rest are held out from every
# choice (weights, rules, thresholds) and served with the shipped defaults.
TUNING = ("demo", "hardware")
REPORTS = REPO_ROOT / "reports"
SYSTEMS = ("lexical", "dense", "served")
NAMES = {"lexical": "BM25 only (FTS5, no filters)", "dense": "dense only (MiniLM + exact FAISS, no filters)",
         "served": "served ranking"}
GRID = {"lexical": (0.0, 0.2, 0.4, 0.8), "category": (0.0, 1.0, 2.0, 4.0, 8.0), "soft": (0.0, 0.05, 0.1, 0.2)}
# A weight change must earn this much NDCG@10 on the catalog it is tuned on: a smaller gain is within
# what one query's grade moves (a 0.0001 "win" once swapped the defaults and cost the other catalogs).
KEEP_DEFAULTS_WITHIN = 0.002
# The shopper's page (five cards, one per model) with only the hits within GAP of the best; chosen on
# PAGE_TUNING as the smallest gap that drops no card of a query's target category.
PAGE_GAPS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
PAGE_TUNING = "hardware"
PAGE_CARDS = 5


@dataclass
class Query:
    qid: str
    kind: str
    query: str
    target: list[str]
    prefer: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    constraints: dict[str, Any] = field(default_factory=dict)
    _grades: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def grades(self, views: list[ProductView]) -> dict[str, int]:
        """Every product's grade by sku, computed once (the weight grid evaluates each query many times)."""
        if len(self._grades) != len(views):
            self._grades = {v.sku: self.grade(v) for v in views}
        return self._grades

    def excluded(self, p: ProductView) -> bool:
        ex = self.constraints.get("exclude") or {}
        return ((p.brand or "").lower() in {b.lower() for b in ex.get("brands", [])}
                or bool(ex.get("colors")) and has_color(p, ex["colors"])
                or bool(ex.get("materials")) and has_material(p, ex["materials"])
                or any(p.attributes.get(k) == v for k, v in (ex.get("attrs") or {}).items()))

    def satisfied_by(self, p: ProductView) -> bool:
        return (Constraints.from_dict(self.constraints).allows(p) and not self.excluded(p)
                and all(p.attributes.get(k) == v for k, v in self.constraints.get("attrs", {}).items()))

    def grade(self, p: ProductView) -> int:
        if p.category in self.target:
            preferred = not self.prefer or any(s.lower() in p.title.lower() for s in self.prefer)
            grade = 1 + int(preferred) + int(self.satisfied_by(p))
        else:
            grade = 1 if p.category in self.related else 0
        return min(grade, 1) if self.excluded(p) else grade


def load_queries(paths: list[Path]) -> list[Query]:
    return [Query(**json.loads(line)) for path in paths for line in path.read_text().splitlines() if line.strip()]


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
        grade_of = q.grades(views)
        grades_all = list(grade_of.values())
        relevant = {sku for sku, g in grade_of.items() if g >= 2}
        t0 = time.perf_counter()
        results = engine.search(q.query, limit=50, mode="hybrid" if mode == "served" else mode).items
        latencies.append((time.perf_counter() - t0) * 1000)
        skus = [r["sku"] for r in results]
        grades = [grade_of[s] for s in skus]
        first = next((i for i, s in enumerate(skus) if s in relevant), None)
        row = {"qid": q.qid, "kind": q.kind, "ndcg10": ndcg(grades, grades_all),
               "recall50": len(relevant & set(skus)) / len(relevant) if relevant else 1.0,
               "mrr": 1 / (first + 1) if first is not None else 0.0, "n_results": len(skus)}
        if q.constraints:
            top = [by_sku[s] for s in skus[:10]]
            row["constraint_precision"] = sum(q.satisfied_by(p) for p in top) / len(top) if top else 0.0
        rows.append(row)
    summary: dict[str, Any] = {m: round(float(np.mean([r[m] for r in rows])), 4) for m in ("ndcg10", "recall50", "mrr")}
    constrained = [r["constraint_precision"] for r in rows if "constraint_precision" in r]
    summary["constraint_precision"] = round(float(np.mean(constrained)), 4) if constrained else None
    summary["by_kind_ndcg10"] = {k: round(float(np.mean([r["ndcg10"] for r in rows if r["kind"] == k])), 4)
                                 for k in sorted({r["kind"] for r in rows})}
    summary["latency_ms"] = {"p50": round(float(np.percentile(latencies, 50)), 2),
                             "p95": round(float(np.percentile(latencies, 95)), 2)}
    return {"summary": summary, "queries": rows}


def page_cutoff(engine: CatalogSearch, queries: list[Query]) -> dict[str, dict[str, Any]]:
    """Per gap (and "none"): cards on the shopper's page as served (``search(within=gap)``), the share
    of them graded 0 (neither the query's target nor a related category), and target-category cards the
    gap took off the page."""
    views = list(engine.views.values())
    by_sku = {v.sku: v for v in views}
    grades = [q.grades(views) for q in queries]

    def page(q: Query, gap: float | None) -> list[str]:
        found = engine.search(q.query, limit=PAGE_CARDS, one_per_model=True, within=gap)
        return [i["sku"] for i in found.items]

    def targets(q: Query, skus: list[str]) -> int:
        return sum(by_sku[s].category in q.target for s in skus)

    full = [page(q, None) for q in queries]
    out = {}
    for gap in (*PAGE_GAPS, None):
        shown = full if gap is None else [page(q, gap) for q in queries]
        cards = sum(len(p) for p in shown)
        out["none" if gap is None else str(gap)] = {
            "cards": cards,
            "graded_0_share": round(sum(g[s] == 0 for g, p in zip(grades, shown) for s in p) / max(cards, 1),
                                    4),
            "target_cards_lost": sum(targets(q, a) - targets(q, b) for q, a, b in zip(queries, full, shown)),
            "pages_under_2_cards": sum(len(p) < 2 for p in shown)}
    return out


def not_sold(engine: CatalogSearch, queries: dict[str, list[Query]], own: str) -> dict[str, Any]:
    """"We don't sell that" (``unsold_kind``) on a catalog's own queries, every one of which it sells (each
    answer is a false refusal), and on the other catalogs' queries, which ask for kinds it mostly lacks
    (the share answered so is the recall, a little low: a few of their kinds it does sell)."""
    def told(qs: list[Query]) -> list[str]:
        return [q.query for q in qs if engine.unsold_kind(q.query)]

    foreign = [q for name, qs in queries.items() if name != own for q in qs]
    short = [q for q in foreign if q.kind in ("keyword", "attribute", "typo")]
    refused, answered, answered_short = told(queries[own]), told(foreign), told(short)
    nearest = [found[1] for q in queries[own] if (found := engine.unknown_kind(q.query))]
    return {"own_queries": len(queries[own]), "own_refused": refused,
            "foreign_queries": len(foreign), "foreign_answered": len(answered),
            "foreign_short_queries": len(short), "foreign_short_answered": len(answered_short),
            "own_lowest_similarity": round(min(nearest), 3) if nearest else None,
            "foreign_examples": answered[:5]}


def chosen_gap(stats: dict[str, dict[str, Any]]) -> float:
    return min(float(g) for g, s in stats.items() if g != "none" and s["target_cards_lost"] == 0)


def cached(encode: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """The grid search asks for the same query vectors many times; latency is measured separately."""
    @lru_cache(maxsize=None)
    def one(text: str) -> np.ndarray:
        return encode([text])[0]

    return lambda texts: np.stack([one(t) for t in texts]) if len(texts) == 1 else encode(texts)


def tune(engine: CatalogSearch, queries: list[Query]) -> tuple[Weights, dict[str, float]]:
    """The weights with the best mean NDCG@10 on this catalog's queries; the shipped defaults stay unless
    another configuration beats them by more than KEEP_DEFAULTS_WITHIN (ties: the first in grid order)."""
    grid: dict[str, float] = {}
    engine.weights = Weights()
    best = engine.weights
    best_score = evaluate(engine, queries, "served")["summary"]["ndcg10"] + KEEP_DEFAULTS_WITHIN
    for lexical, category, soft in itertools.product(*GRID.values()):
        engine.weights = Weights(lexical, category, soft)
        score = evaluate(engine, queries, "served")["summary"]["ndcg10"]
        grid[f"{lexical}/{category}/{soft}"] = score
        if score > best_score + 1e-9:
            best, best_score = engine.weights, score
    return best, grid


def open_catalog(name: str, folder: Path, encode: Callable[[list[str]], np.ndarray]) -> CatalogSearch:
    settings = Settings.from_env({"AISLE_DATA_DIR": str(folder / name)})
    migrate.upgrade(settings.database_url)
    upsert(session_factory(settings.database_url), validate_file(CATALOGS[name][0]).records)
    engine = CatalogSearch(settings, encode=encode)
    engine.refresh()
    return engine


def machine() -> dict[str, Any]:
    import faiss
    import onnxruntime
    import torch

    from aisle.config import settings

    cpu = cpu_description()
    return {"cpu": cpu.get("Model name", platform.processor()), "flags": cpu.get("flags_relevant", []),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "faiss": faiss.__version__,
            "onnxruntime": onnxruntime.__version__, "encoder_precision": settings().encoder_precision,
            "python": platform.python_version()}


def run(sizes: list[int]) -> dict[str, Any]:
    import torch

    from aisle.config import settings
    from text_tools.encoder import encode

    torch.set_num_threads(settings().torch_threads)  # as the action server does: latency as served

    fast = cached(encode)
    report: dict[str, Any] = {"catalogs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        engines = {name: open_catalog(name, Path(tmp), fast) for name in CATALOGS}
        queries = {name: load_queries(paths) for name, (_, paths) in CATALOGS.items()}
        tuned = {name: tune(engines[name], queries[name]) for name in CATALOGS}
        for name, engine in engines.items():
            held_out = name not in TUNING
            other = next(n for n in TUNING if n != name)
            # A held-out catalog gets what the shipped defaults are: the demo catalog's choice.
            served_weights = tuned["demo" if held_out else other][0]
            engine._encode = encode  # latency as served: no cache
            rows = {}
            for system in ("lexical", "dense"):
                rows[system] = evaluate(engine, queries[name], system)
            engine.weights = served_weights
            rows["served"] = evaluate(engine, queries[name], "served")
            if not held_out:
                engine.weights = Weights()
                rows["served_default"] = evaluate(engine, queries[name], "served")
            engine.weights = Weights()
            page = page_cutoff(engine, queries[name])
            unsold = not_sold(engine, queries, name)
            engine.weights = tuned[name][0]
            rows["served_tuned_here"] = evaluate(engine, queries[name], "served")["summary"]
            report["catalogs"][name] = {
                "products": len(engine.views), "queries": len(queries[name]),
                "query_files": [str(p.relative_to(REPO_ROOT)) for p in CATALOGS[name][1]], "held_out": held_out,
                "weights_from": "demo" if held_out else other, "weights": asdict(served_weights),
                "tuned_here": asdict(tuned[name][0]), "grid_ndcg10": tuned[name][1], "quality": rows,
                "page_cutoff": page, "not_sold": unsold}
        if sizes:
            from bench.search.scale import bench_scale

            demo = engines["demo"]
            texts = [q.query for q in queries["demo"]]
            report["scale"] = bench_scale(list(demo.views.values()), encode, texts,
                                          [demo.parse(t)[1] for t in texts], sizes, Weights())
    report["page_gap_chosen"] = chosen_gap(report["catalogs"][PAGE_TUNING]["page_cutoff"])
    report["page_gap_shipped"] = SHOWN_WITHIN
    report["machine"] = machine()
    report["default_weights"] = asdict(Weights())
    report["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return report


def targets(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    c = {n: {m: v["summary"] if "summary" in v else v for m, v in r["quality"].items()}
         for n, r in report["catalogs"].items()}
    hw, demo = c["hardware"], c["demo"]
    rows = [("hardware NDCG@10 ≥ 0.93", str(hw["served"]["ndcg10"]), hw["served"]["ndcg10"] >= 0.93),
            ("hardware NDCG@10 ≥ dense-only + 0.02", f"{hw['served']['ndcg10']} vs {hw['dense']['ndcg10']}",
             hw["served"]["ndcg10"] >= hw["dense"]["ndcg10"] + 0.02),
            ("demo NDCG@10 ≥ 0.88", str(demo["served"]["ndcg10"]), demo["served"]["ndcg10"] >= 0.88)]
    for name, q in c.items():
        if report["catalogs"][name].get("held_out"):
            rows += [(f"{name} (held out) NDCG@10 ≥ 0.93", str(q["served"]["ndcg10"]), q["served"]["ndcg10"] >= 0.93),
                     (f"{name} (held out) NDCG@10 ≥ dense-only + 0.02",
                      f"{q['served']['ndcg10']} vs {q['dense']['ndcg10']}",
                      q["served"]["ndcg10"] >= q["dense"]["ndcg10"] + 0.02)]
        rows.append((f"{name}: served ≥ dense-only and ≥ BM25-only",
                     f"{q['served']['ndcg10']} vs {q['dense']['ndcg10']} / {q['lexical']['ndcg10']}",
                     q["served"]["ndcg10"] >= max(q["dense"]["ndcg10"], q["lexical"]["ndcg10"])))
        for kind in ("paraphrase", "use-case"):
            v = q["served"]["by_kind_ndcg10"].get(kind)
            if v is not None:
                rows.append((f"{name}: {kind} NDCG@10 ≥ 0.85", str(v), v >= 0.85))
        cp = q["served"]["constraint_precision"] or 0.0
        rows.append((f"{name}: constraint precision@10 ≥ 0.97", str(cp), cp >= 0.97))
    return rows


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = ["# Search benchmark", "",
             f"Run {report['finished_at']} by `python -m bench.search` on {m['cpu']} ({', '.join(m['flags'])}), "
             f"torch {m['torch']} ({m['torch_threads']} thread), faiss {m['faiss']}"
             + (f", query encoder: ONNX Runtime {m['onnxruntime']} {m['encoder_precision']}" if "onnxruntime" in m else "")
             + ".", "",
             "Weights are tuned on demo and hardware: the served ranking on each of them uses the weights chosen "
             "on the *other* one (grid in search.json). The pet & baby catalog (`petbaby`, written blind by "
             "someone who had not read the search code; no rule, weight or threshold was chosen by looking "
             "at it) is held out from all tuning and served with the demo catalog's choice, as the shipped "
             "defaults are. `served, tuned here` shows what tuning on "
             "the reported set would add (optimistic, not a result). Weights shipped as defaults: "
             f"{report['default_weights']}.", ""]
    for name, r in report["catalogs"].items():
        q = r["quality"]
        lines += [f"## {name}: {r['products']} products, {r['queries']} queries ({', '.join(r['query_files'])})", "",
                  "| system | NDCG@10 | Recall@50 | MRR | constraint precision@10 | p50 / p95 ms |",
                  "|---|---|---|---|---|---|"]
        labels = {**NAMES, "served": f"served, weights from {r['weights_from']} {r['weights']}",
                  "served_default": "served, shipped default weights"}
        for system in [s for s in ("lexical", "dense", "served", "served_default") if s in q]:
            s = q[system]["summary"]
            lines.append(f"| {labels[system]} | {s['ndcg10']} | {s['recall50']} | {s['mrr']} | "
                         f"{s['constraint_precision']} | {s['latency_ms']['p50']} / {s['latency_ms']['p95']} |")
        t = q["served_tuned_here"]
        lines += [f"| served, tuned here {r['tuned_here']} | {t['ndcg10']} | {t['recall50']} | {t['mrr']} | "
                  f"{t['constraint_precision']} | |", "", "NDCG@10 by query kind:", "",
                  "| kind | BM25 | dense | served |", "|---|---|---|---|"]
        for kind in q["served"]["summary"]["by_kind_ndcg10"]:
            lines.append(f"| {kind} | " + " | ".join(str(q[s]["summary"]["by_kind_ndcg10"][kind])
                                                     for s in SYSTEMS) + " |")
        lines.append("")
    if "page_gap_chosen" in report:
        lines += ["## The shopper's page: hits within a gap of the best", "",
                  "Five cards, one per model, default weights; only hits scoring within the gap of the best. "
                  f"Chosen on {PAGE_TUNING} as the smallest gap that takes no target-category card off a "
                  f"page: {report['page_gap_chosen']} "
                  f"(shipped `SHOWN_WITHIN` = {report['page_gap_shipped']}); "
                  "the other catalogs are out of sample. Graded 0: neither the query's target nor a related "
                  "category.", "",
                  "| catalog | gap | cards shown | graded 0 | target cards lost | pages with < 2 cards |",
                  "|---|---|---|---|---|---|"]
        for name, r in report["catalogs"].items():
            for gap in ("none", str(report["page_gap_shipped"])):
                p = r["page_cutoff"][gap]
                lines.append(f"| {name} | {gap} | {p['cards']} | {p['graded_0_share']:.1%} | "
                             f"{p['target_cards_lost']} | {p['pages_under_2_cards']} |")
        lines.append("")
    if all("not_sold" in r for r in report["catalogs"].values()):
        lines += ["## \"We don't sell that\": short requests for a kind of product the catalog lacks", "",
                  f"`unsold_kind`, similarity below {NOT_SOLD_BELOW} (`NOT_SOLD_BELOW`, chosen on demo: a "
                  "round value at least 0.05 below its own queries' lowest; reported on the others). Own "
                  "queries: the catalog sells every one, so each answer is a false refusal. Other catalogs' "
                  "queries: mostly kinds it lacks (short = keyword, attribute and typo queries; the rest "
                  "describe needs, which are never answered so).", "",
                  "| catalog | own queries refused | lowest own similarity | other catalogs' queries "
                  "answered | of them short |", "|---|---|---|---|---|"]
        for name, r in report["catalogs"].items():
            n = r["not_sold"]
            lines.append(f"| {name} | {len(n['own_refused'])} of {n['own_queries']} | "
                         f"{n['own_lowest_similarity']} | {n['foreign_answered']} of {n['foreign_queries']}"
                         f" | {n['foreign_short_answered']} of {n['foreign_short_queries']} |")
        lines.append("")
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {n} | {v} | {'yes' if ok else 'no'} |" for n, v, ok in targets(report)]
    if report.get("scale"):
        lines += ["", "## Scale (synthetic scale-up of the demo catalog)", "",
                  *([f"Measured in the run of {report['scale_run']} (reused with `--scale-from`).", ""]
                    if report.get("scale_run") else []),
                  "| products | dense index | dense build s | lexical build s | dense index MB | process RSS MB "
                  "| dense p50/p95 ms | lexical p50/p95 ms | query total p50/p95 ms |", "|---|---|---|---|---|---|---|---|---|"]
        for r in report["scale"]:
            lines.append(
                f"| {r['products']:,} | {r['dense_index']} | {r['dense_build_s']} | {r['lexical_build_s']} "
                f"| {r['dense_index_rss_mb']} | {r['process_rss_mb']} | {r['dense_search_ms']['p50']} / "
                f"{r['dense_search_ms']['p95']} | {r['lexical_search_ms']['p50']} / {r['lexical_search_ms']['p95']} "
                f"| {r['query_total_ms']['p50']} / {r['query_total_ms']['p95']} |")
        lines += ["", "Query total = median single-query embedding time + dense search + FTS5 search + scoring; "
                  "the constraint filter over the in-memory catalog view is not included at these sizes."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPORTS))
    parser.add_argument("--render", action="store_true", help="only rewrite search.md from search.json")
    parser.add_argument("--scale-from", type=Path, help="reuse the scale part of this earlier search.json "
                                                          "instead of measuring it again (it names its run)")
    parser.add_argument("--sizes", default="1000,100000,1000000",
                        help="catalog sizes for the scale part (comma-separated; empty to skip)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.render:
        (out / "search.md").write_text(markdown(json.loads((out / "search.json").read_text())))
        return
    configure_logging("WARNING")
    report = run([] if args.scale_from else [int(s) for s in args.sizes.split(",") if s.strip()])
    if args.scale_from:
        earlier = json.loads(args.scale_from.read_text())
        report["scale"] = earlier["scale"]
        report["scale_run"] = earlier.get("scale_run", earlier["finished_at"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps(report, indent=1))
    (out / "search.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
