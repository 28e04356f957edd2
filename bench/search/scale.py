"""Index build time, memory and query latency at 1k, 100k and 1M products.

The demo catalog is scaled up synthetically: each synthetic product is a demo product's real MiniLM
vector plus small seeded noise (dense side) and its text with a variant suffix (lexical side).
"""
from __future__ import annotations

import logging
import resource
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from catalog.documents import ProductView
from catalog.index import APPROXIMATE_ABOVE, FTS_COLUMNS, build_ivf, fts_search
from catalog.search import Weights, combine_scores

log = logging.getLogger(__name__)
CHUNK = 50_000
NOISE = 0.04


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def synthetic_vectors(base: np.ndarray, start: int, stop: int, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed + start)
    idx = np.arange(start, stop) % len(base)
    v = base[idx] + rng.normal(0, NOISE, (stop - start, base.shape[1])).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def build_dense(base: np.ndarray, n: int) -> tuple[Any, float]:
    import faiss

    started = time.perf_counter()
    if n <= APPROXIMATE_ABOVE:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(base.shape[1]))
        for s in range(0, n, CHUNK):
            e = min(n, s + CHUNK)
            index.add_with_ids(synthetic_vectors(base, s, e), np.arange(s, e, dtype=np.int64))
    else:
        sample_n = min(n, 200_000)
        index = build_ivf(synthetic_vectors(base, 0, sample_n), np.arange(sample_n, dtype=np.int64))
        for s in range(sample_n, n, CHUNK):
            e = min(n, s + CHUNK)
            index.add_with_ids(synthetic_vectors(base, s, e), np.arange(s, e, dtype=np.int64))
    return index, time.perf_counter() - started


def build_lexical(views: Sequence[ProductView], n: int, folder: Path) -> tuple[sqlite3.Connection, float]:
    conn = sqlite3.connect(folder / f"lexical-{n}.db")
    conn.execute(f"CREATE VIRTUAL TABLE docs USING fts5({', '.join(FTS_COLUMNS)}, "
                 "tokenize='porter unicode61 remove_diacritics 2')")
    fields = [list(v.lexical_fields().values()) for v in views]
    started = time.perf_counter()
    with conn:
        for s in range(0, n, CHUNK):
            rows = []
            for i in range(s, min(n, s + CHUNK)):
                f = fields[i % len(fields)]
                rows.append((i, f"{f[0]} v{i // len(fields)}", *f[1:]))
            conn.executemany(f"INSERT INTO docs (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{', ?' * len(FTS_COLUMNS)})",
                             rows)
    return conn, time.perf_counter() - started


def bench_scale(views: Sequence[ProductView], encode: Any, queries: list[str], q_words: list[list[str]],
                sizes: Sequence[int], weights: Weights) -> list[dict]:
    """``q_words``: each query's words as the search engine prepares them for the lexical index."""
    base = encode([v.embedding_text() for v in views])
    q_vectors = encode(queries)
    single = []
    for q in queries[:50]:  # one query at a time, as a shopper's message arrives
        t0 = time.perf_counter()
        encode([q])
        single.append((time.perf_counter() - t0) * 1000)
    embed_ms = float(np.median(single))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            before = rss_mb()
            index, dense_s = build_dense(base, n)
            after_dense = rss_mb()
            conn, lexical_s = build_lexical(views, n, Path(tmp))
            dense_ms, lexical_ms, total_ms = [], [], []
            k = 1000 if n > 10_000 else min(n, 1000)
            for vec, words in zip(q_vectors, q_words):
                t1 = time.perf_counter()
                scores, ids = index.search(vec.reshape(1, -1), k)
                dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]
                t2 = time.perf_counter()
                lexical = fts_search(conn, words, k)
                t3 = time.perf_counter()
                combine_scores(dense, lexical, lambda i: views[i % len(views)].category, weights)
                t4 = time.perf_counter()
                dense_ms.append((t2 - t1) * 1000)
                lexical_ms.append((t3 - t2) * 1000)
                total_ms.append((t4 - t1) * 1000 + embed_ms)
            row = {
                "products": n, "dense_index": type(index).__name__, "dense_build_s": round(dense_s, 1),
                "lexical_build_s": round(lexical_s, 1),
                "dense_index_rss_mb": round(after_dense - before, 1), "process_rss_mb": rss_mb(),
                "lexical_db_mb": round((Path(tmp) / f"lexical-{n}.db").stat().st_size / 2**20, 1),
                "query_embedding_ms_median": round(embed_ms, 2),
                "dense_search_ms": _pct(dense_ms), "lexical_search_ms": _pct(lexical_ms),
                "query_total_ms": _pct(total_ms),
            }
            log.warning("scale %s", row)
            results.append(row)
            conn.close()
            del index
    return results


def _pct(values: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2)}
