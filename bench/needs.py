"""Needs without product words: ``python -m bench.needs`` writes reports/needs.{json,md}.

A shopper often says what is wrong, not what to buy ("my cat keeps scratching up the sofa"). The NLU
then answers out_of_scope, nlu_fallback or faq, and the assistant used to refuse. The served decision
now asks the catalog (``CatalogSearch.need``): when one category's dense affinity reaches
``NEED_THRESHOLD`` the shopper gets that category's products instead of a refusal.

Sets, written by someone who had read neither the code nor the training data: needs and negatives for
the hardware store (``bench/search/hardware/needs.jsonl``, where the threshold is chosen, with
CLINC150's *val* split as further negatives) and for the demo store (``bench/search/demo_needs.jsonl``,
reported, with CLINC150's *test* split). A need counts as answered when products are shown and the first
one's category is one of its labels; a negative or a CLINC message counts as a false alarm when products
are shown.
Baseline: the NLU alone (products only for product intents), i.e. the assistant before this stage.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actions.needs import CAPABILITY_REQUEST
from aisle.config import REPO_ROOT
from aisle.logs import configure_logging
from bench.search.__main__ import CATALOGS, machine, open_catalog
from catalog.search import NEED_THRESHOLD, CatalogSearch

DATA = Path(__file__).resolve().parent / "search"  # the labelled catalogs and their needs sets
SETS = {"hardware": DATA / "hardware" / "needs.jsonl", "demo": DATA / "demo_needs.jsonl"}
CLINC = REPO_ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
REPORTS = REPO_ROOT / "reports"
PRODUCT_INTENTS = {"search_product", "recommend", "refine_search", "similar_products"}
NEED_INTENTS = {"out_of_scope", "nlu_fallback", "faq"}  # faq: only when no article answers (upper bound)
GRID = [round(x, 2) for x in np.arange(0.20, 0.701, 0.01)]
# False alarms the need stage may add to the NLU's own on each tuning set of negatives. An absolute cap
# (5 %, the first version) stopped working once the NLU alone raised 6 % on the hardware negatives.
MAX_ADDED_FALSE_ALARMS = 0.02


@dataclass
class Decided:
    text: str
    labels: list[str]
    intent: str
    search_category: str | None  # the first search result's category, for product intents
    need_category: str | None
    affinity: float

    def shown(self, threshold: float | None) -> str | None:
        """The category of the first product shown, or None when no products are shown."""
        if self.intent in PRODUCT_INTENTS:
            return self.search_category
        if threshold is not None and self.intent in NEED_INTENTS and self.affinity >= threshold:
            return self.need_category
        return None


def decide(engine: CatalogSearch, parser: Any, rows: list[dict[str, Any]]) -> list[Decided]:
    texts = [row["text"] for row in rows]
    intents = [r["intent"]["name"] for r in parser.parse_many(texts)]
    vectors = engine.encode(texts)  # batched: the served path encodes one message at a time
    out = []
    for row, intent, vector in zip(rows, intents, vectors):
        # as served (actions/needs.py): "can you engrave it?" asks for a service, never a need
        need = None if CAPABILITY_REQUEST.search(row["text"]) else engine.need_of_vector(vector)
        first = engine.search(row["text"], limit=1).items if intent in PRODUCT_INTENTS else []
        out.append(Decided(row["text"], row.get("categories", []), intent,
                           engine.by_sku[first[0]["sku"]].category if first else None,
                           need.category if need else None, need.affinity if need else 0.0))
    return out


def rates(decided: list[Decided], threshold: float | None) -> dict[str, Any]:
    needs = [d for d in decided if d.labels]
    negatives = [d for d in decided if not d.labels]
    answered = sum(d.shown(threshold) in d.labels for d in needs)
    shown = sum(d.shown(threshold) is not None for d in needs)
    alarms = sum(d.shown(threshold) is not None for d in negatives)
    return {"needs": len(needs), "answered": round(answered / len(needs), 4) if needs else None,
            "products_shown": round(shown / len(needs), 4) if needs else None,
            "negatives": len(negatives), "false_alarms": round(alarms / len(negatives), 4) if negatives else None}


def choose(tuning: list[list[Decided]]) -> tuple[float, dict[str, Any]]:
    """The lowest threshold adding at most MAX_ADDED_FALSE_ALARMS to the NLU alone's false alarms on
    every tuning set of negatives, i.e. the most needs answered within that budget."""
    grid = {t: [rates(d, t) for d in tuning] for t in GRID}
    alone = [rates(d, None)["false_alarms"] or 0 for d in tuning]
    ok = [t for t, r in grid.items()
          if all((x["false_alarms"] or 0) <= a + MAX_ADDED_FALSE_ALARMS + 1e-9 for x, a in zip(r, alone))]
    return (min(ok) if ok else max(GRID)), {str(t): r for t, r in grid.items()}


def clinc_rows(split: str, limit: int | None = None) -> list[dict[str, Any]]:
    data = json.loads(CLINC.read_text())
    rows = [{"text": t} for t, _ in data[f"oos_{split}"] + data[split]]
    return rows[:limit] if limit else rows


def load_parser(catalog: Path):
    from aisle.config import settings
    from bench.nlu_eval import load_shop_parser
    from text_tools.lookups import static_tables, tables_from_products

    products = [json.loads(line) for line in catalog.read_text().splitlines() if line.strip()]
    tables = static_tables().merged(tables_from_products(
        (p.get("brand"), p.get("category"), p.get("attributes")) for p in products))
    return load_shop_parser(settings().nlu_model_dir, lookups=lambda: tables)


def run(clinc_limit: int | None) -> dict[str, Any]:
    from text_tools.encoder import encode

    read = lambda p: [json.loads(line) for line in p.read_text().splitlines() if line.strip()]  # noqa: E731
    report: dict[str, Any] = {"sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        decided: dict[str, list[Decided]] = {}
        for name in ("hardware", "demo"):
            engine = open_catalog(name, Path(tmp), encode)
            parser = load_parser(CATALOGS[name][0])
            decided[name] = decide(engine, parser, read(SETS[name]))
            split = "val" if name == "hardware" else "test"
            decided[f"clinc_{split}_{name}"] = decide(engine, parser, clinc_rows(split, clinc_limit))
    threshold, grid = choose([decided["hardware"], decided["clinc_val_hardware"]])
    for name, rows in decided.items():
        report["sets"][name] = {"baseline_nlu_only": rates(rows, None), "served": rates(rows, NEED_THRESHOLD),
                                "chosen_here": rates(rows, threshold),
                                "messages": [d.__dict__ for d in rows] if not name.startswith("clinc") else None}
    report.update(threshold_shipped=NEED_THRESHOLD, threshold_chosen=threshold, grid_on_tuning_sets=grid,
                  max_added_false_alarms=MAX_ADDED_FALSE_ALARMS, machine=machine(),
                  finished_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    return report


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = ["# Needs without product words", "",
             f"Run {report['finished_at']} by `python -m bench.needs` on {m['cpu']} "
             f"({', '.join(m['flags'])}), torch {m['torch']}.", "",
             f"Threshold on the best category's dense affinity: chosen on the hardware store's needs and "
             f"negatives plus CLINC150 val (lowest adding at most {report['max_added_false_alarms']:.0%} "
             "false alarms to the NLU alone's on each): "
             f"**{report['threshold_chosen']}**; shipped `NEED_THRESHOLD` = {report['threshold_shipped']}. "
             "The demo rows and CLINC150 test are out of sample.", "",
             "| set | system | needs | answered (right category first) | products shown | negatives "
             "| false alarms |", "|---|---|---|---|---|---|---|"]
    for name, s in report["sets"].items():
        systems = [("baseline_nlu_only", "NLU alone (before)"), ("served", "NLU + need stage (served)")]
        if report["threshold_chosen"] != report["threshold_shipped"]:
            systems.append(("chosen_here", f"NLU + need stage at the chosen {report['threshold_chosen']}"))
        for system, label in systems:
            r = {k: "–" if v is None else v for k, v in s[system].items()}
            lines.append(f"| {name} | {label} | {r['needs'] or '–'} | {r['answered']} | {r['products_shown']} "
                         f"| {r['negatives']} | {r['false_alarms']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.needs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPORTS))
    parser.add_argument("--clinc-limit", type=int, default=None, help="use only the first N CLINC messages")
    parser.add_argument("--render", action="store_true", help="only rewrite needs.md from needs.json")
    args = parser.parse_args()
    out = Path(args.out)
    if args.render:
        (out / "needs.md").write_text(markdown(json.loads((out / "needs.json").read_text())))
        return
    configure_logging("WARNING")
    report = run(args.clinc_limit)
    out.mkdir(parents=True, exist_ok=True)
    (out / "needs.json").write_text(json.dumps(report, indent=1))
    (out / "needs.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
