"""``python -m bench.recs_scale``: the recommender at a mid-size store's scale → reports/recs_scale.json, .md.

A synthetic catalog (100,000 items in 1,000 subcategories, 384-d unit embeddings like the search
index's) and 5,000,000 interactions (250,000 shoppers, each mostly within two subcategories of
interest, item popularity Zipf-like; views, likes, cart additions, purchases) and 200,000 orders.
A child process generates the data and builds the scorer (timed, its peak RSS recorded) and hands
it over as a file; this process loads it, as a serving process would hold it, and measures its RSS and
the latency of served-style requests (viewed and carted items, a stated need on some, a price-like
constraint on some, diversity on). One thread. Targets: build ≤ 5 min, serving RSS ≤ 1.5 GB, p95 ≤ 20 ms.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import pickle
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from threadpoolctl import threadpool_limits

from aisle.logs import configure_logging
from bench.recs import REPORTS, load_note, machine
from catalog.recommend import Context, Item, Model, Recommender

log = logging.getLogger(__name__)

KINDS = np.array(["view", "like", "cart", "purchase"])
KIND_SHARES = (0.7, 0.05, 0.15, 0.1)


@dataclass(frozen=True)
class Scale:
    items: int = 100_000
    groups: int = 1_000
    interactions: int = 5_000_000
    users: int = 250_000
    orders: int = 200_000
    dims: int = 384
    requests: int = 1_000
    seed: int = 0


def catalog(scale: Scale, rng: np.random.Generator) -> tuple[list[Item], np.ndarray]:
    group_of = np.arange(scale.items) % scale.groups
    centres = rng.standard_normal((scale.groups, scale.dims)).astype(np.float32)
    vectors = centres[group_of] + 0.7 * rng.standard_normal((scale.items, scale.dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [Item(f"SKU{i}", f"Product {i}", f"group {group_of[i]}", f"brand {i % 300}",
                  float(rng.uniform(3, 5)), int(rng.integers(0, 500)), bool(rng.random() > 0.05))
             for i in range(scale.items)]
    return items, vectors


def behaviour(scale: Scale, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, kind index) arrays: 80 % of a shopper's events in their two subcategories."""
    per_group = scale.items // scale.groups
    users = rng.integers(0, scale.users, scale.interactions)
    interests = rng.integers(0, scale.groups, (scale.users, 2))
    rank = np.minimum(rng.zipf(1.3, scale.interactions) - 1, per_group - 1)  # popular items within a group
    group = interests[users, rng.integers(0, 2, scale.interactions)]
    elsewhere = rng.random(scale.interactions) < 0.2
    group[elsewhere] = np.minimum(rng.zipf(1.2, int(elsewhere.sum())) - 1, scale.groups - 1)
    items = rank * scale.groups + group  # item i is in group i % groups
    kinds = rng.choice(len(KINDS), scale.interactions, p=KIND_SHARES)
    return users, items, kinds


def build(scale: Scale, path: str) -> dict[str, Any]:
    """In the child: generate, build (timed), write the scorer to ``path``."""
    configure_logging()
    rng = np.random.default_rng(scale.seed)
    with threadpool_limits(1):
        items, vectors = catalog(scale, rng)
        users, item_ids, kinds = behaviour(scale, rng)
        keys = [item.key for item in items]
        buyers = item_ids[kinds == 3]
        baskets = [[keys[i] for i in buyers[o * 2:o * 2 + 2]] for o in range(min(scale.orders, len(buyers) // 2))]
        start = time.perf_counter()
        interactions = ((f"u{u}", keys[i], KINDS[k]) for u, i, k in zip(users.tolist(), item_ids.tolist(),
                                                                          kinds.tolist()))
        recommender = Recommender(items, interactions, vectors, baskets, model=Model(threads=1))
        build_s = time.perf_counter() - start
    with open(path, "wb") as out:
        pickle.dump(recommender, out, protocol=pickle.HIGHEST_PROTOCOL)
    return {"build_s": build_s, "build_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "neighbour_entries": int(recommender.neighbours.nnz), "factors": recommender.model.factors}


def requests(recommender: Recommender, scale: Scale) -> list[float]:
    rng = np.random.default_rng(scale.seed + 1)
    keys = [item.key for item in recommender.items]
    popular = np.argsort(-recommender.popularity)[:20_000]  # shoppers mostly look at what others look at
    latencies = []
    for r in range(scale.requests):
        viewed = [keys[i] for i in rng.choice(popular, int(rng.integers(1, 10)))]
        carted = [keys[i] for i in rng.choice(popular, int(rng.integers(0, 3)))]
        need = None
        if r % 3 == 0:  # an encoded request, in the full embedding space
            need = rng.standard_normal(scale.dims).astype(np.float32)
            need /= np.linalg.norm(need)
        allowed = (lambda key: int(key[3:]) % 2 == 0) if r % 5 == 0 else None  # half the catalog fits
        context = Context(viewed=viewed, carted=carted, need=need, allowed=allowed)
        start = time.perf_counter()
        picks = recommender.recommend(context, 5)
        latencies.append((time.perf_counter() - start) * 1000)
        assert len(picks) == 5, "a request got fewer than five suggestions"
    return latencies


def write_reports(result: dict[str, Any]) -> None:
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "recs_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    s, m = result["scale"], result["machine"]
    ok = {"build": result["build_s"] <= 300, "rss": result["serving_rss_mb"] <= 1536, "p95": result["p95_ms"] <= 20}
    lines = ["# Recommender at scale", "",
             f"`python -m bench.recs_scale` on {m['cpu']} ({', '.join(m['flags_relevant'])}), 1 thread; "
             + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()) + f". {load_note(m)}", "",
             f"Synthetic: {s['items']:,} items in {s['groups']:,} subcategories ({s['dims']}-d embeddings), "
             f"{s['interactions']:,} interactions from {s['users']:,} shoppers, {s['orders']:,} orders; "
             f"{s['requests']:,} requests (1–9 viewed, 0–2 carted items; a stated need on a third, a constraint "
             "on a fifth; diversity on; five suggestions each).", "",
             "| measure | value | target | met |", "|---|---|---|---|",
             f"| build (ALS {result['factors']} factors + k-NN + priors) | {result['build_s']:.1f} s | ≤ 300 s | {ok['build']} |",
             f"| serving process RSS, scorer loaded | {result['serving_rss_mb']:.0f} MB | ≤ 1536 MB | {ok['rss']} |",
             f"| request p50 / p95 / p99 | {result['p50_ms']:.2f} / {result['p95_ms']:.2f} / {result['p99_ms']:.2f} ms "
             f"| p95 ≤ 20 ms | {ok['p95']} |",
             f"| build process peak RSS (data generation included) | {result['build_peak_rss_mb']:.0f} MB | — | — |",
             f"| neighbour entries kept | {result['neighbour_entries']:,} | — | — |", ""]
    (REPORTS / "recs_scale.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recs_scale", description=__doc__)
    parser.add_argument("--items", type=int, default=Scale.items)
    parser.add_argument("--interactions", type=int, default=Scale.interactions)
    parser.add_argument("--no-report", action="store_true", help="print the numbers only (smaller trial runs)")
    args = parser.parse_args()
    configure_logging()
    load = os.getloadavg()[0]  # first: the load after this is ours
    scale = Scale(items=args.items, interactions=args.interactions,
                  users=max(1, args.interactions // 20), orders=max(1, args.interactions // 25),
                  groups=max(1, args.items // 100))
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "scorer.pickle")
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            built = pool.submit(build, scale, path).result()
        log.info("built in %.1f s", built["build_s"])
        with open(path, "rb") as stored:
            recommender = pickle.load(stored)
    gc.collect()
    rss_mb = psutil.Process().memory_info().rss / 2**20
    with threadpool_limits(1):
        latencies = np.array(requests(recommender, scale))
    # Described last: it imports torch, which would count in the serving RSS above.
    info = {**machine(), "load_average_1m": load}
    result = {"scale": asdict(scale), "machine": info, **built, "serving_rss_mb": rss_mb,
              "p50_ms": float(np.percentile(latencies, 50)), "p95_ms": float(np.percentile(latencies, 95)),
              "p99_ms": float(np.percentile(latencies, 99))}
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    if not args.no_report:
        write_reports(result)


if __name__ == "__main__":
    main()
