"""The two search indexes, persisted in ``AISLE_DATA_DIR/search`` and updated incrementally.

- dense: MiniLM embeddings in FAISS, exact inner product (IndexFlatIP) for small catalogs and an IVF
  index above ``APPROXIMATE_ABOVE`` products; ids are product ids, so changed products are replaced
  in place;
- lexical: SQLite FTS5 (BM25 ranking, Porter stemming), rowid = product id.

Each index records the fingerprint of every product it holds; ``sync`` re-indexes only products whose
fingerprint changed and drops the ones that left the catalog.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from catalog.documents import ProductView

log = logging.getLogger(__name__)
Encoder = Callable[[list[str]], np.ndarray]
APPROXIMATE_ABOVE = 50_000  # see reports/search.md: exact search stays fast enough below this
IVF_NPROBE = 16
ENOUGH_AND_HITS = 20  # fewer documents with every query word than this: fall back to any word
LEXICAL_BUDGET_MS = 15.0
EMBED_BATCH = 256
LEGACY_ENCODER = "minilm-l6-v2 fp32"
FTS_COLUMNS = ("title", "brand", "category", "tags", "attributes", "description")
FTS_WEIGHTS = (10.0, 6.0, 4.0, 3.0, 3.0, 1.0)
TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def _atomic_write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


@dataclass
class DenseIndex:
    folder: Path
    index: object | None = None
    fingerprints: dict[int, str] = field(default_factory=dict)
    # Which encoder made the vectors; an index made by another one is rebuilt (None: not checked).
    # Indexes from before this was recorded were made by the torch encoder, which fp32 ONNX matches.
    encoder_id: str | None = None

    @property
    def _index_path(self) -> Path:
        return self.folder / "dense.faiss"

    @property
    def _meta_path(self) -> Path:
        return self.folder / "dense.json"

    @property
    def _encoder_path(self) -> Path:
        return self.folder / "dense.encoder"

    def load(self) -> None:
        import faiss

        if self.encoder_id is not None and self._index_path.exists():
            path = self._encoder_path
            made_by = path.read_text().strip() if path.exists() else LEGACY_ENCODER
            if made_by != self.encoder_id:
                log.info("dense index was made by %s, queries use %s: re-embedding every product", made_by,
                         self.encoder_id)
                return
        if self._index_path.exists() and self._meta_path.exists():
            self.index = faiss.read_index(str(self._index_path))
            self.fingerprints = {int(k): v for k, v in json.loads(self._meta_path.read_text()).items()}

    def __len__(self) -> int:
        return len(self.fingerprints)

    def sync(self, views: Sequence[ProductView], encode: Encoder) -> int:
        import faiss

        current = {v.id: v.fingerprint for v in views}
        gone = [i for i, fp in self.fingerprints.items() if current.get(i) != fp]
        todo = [v for v in views if self.fingerprints.get(v.id) != current[v.id]]
        if not gone and not todo and self.index is not None:
            return 0
        dim = encode(["probe"]).shape[1]
        if self.index is None:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if gone:
            self.index.remove_ids(np.array(gone, dtype=np.int64))
            for i in gone:
                self.fingerprints.pop(i, None)
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start:start + EMBED_BATCH]
            vectors = encode([v.embedding_text() for v in batch]).astype(np.float32)
            self.index.add_with_ids(vectors, np.array([v.id for v in batch], dtype=np.int64))
            self.fingerprints.update({v.id: current[v.id] for v in batch})
            if len(todo) > EMBED_BATCH:
                log.info("embedded %d/%d products", min(start + EMBED_BATCH, len(todo)), len(todo))
        self._choose_kind(dim)
        self.save()
        return len(todo) + len(gone)

    def _choose_kind(self, dim: int) -> None:
        """Exact search while it is fast enough; an IVF index (trained on the catalog) above that."""
        import faiss

        approximate = isinstance(self.index, faiss.IndexIVF)
        if approximate or len(self) <= APPROXIMATE_ABOVE:
            return
        ids = np.array(sorted(self.fingerprints), dtype=np.int64)
        vectors = np.vstack([self.index.reconstruct(int(i)) for i in ids]).astype(np.float32)
        self.index = build_ivf(vectors, ids)
        log.info("dense index switched to IVF at %d products", len(ids))

    def save(self) -> None:
        import faiss

        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._index_path.with_suffix(".tmp")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, self._index_path)
        _atomic_write_json(self._meta_path, self.fingerprints)
        if self.encoder_id is not None:
            tmp = self._encoder_path.with_suffix(".tmp")
            tmp.write_text(self.encoder_id)
            os.replace(tmp, self._encoder_path)

    def vector(self, product_id: int) -> np.ndarray | None:
        """The stored embedding of an indexed product, exact in the flat index (the IVF one keeps 8-bit
        codes and no id map: None there, the caller encodes)."""
        import faiss

        if not isinstance(self.index, faiss.IndexIDMap2) or product_id not in self.fingerprints:
            return None
        return self.index.reconstruct(product_id)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.index is None or len(self) == 0:
            return []
        scores, ids = self.index.search(vector.reshape(1, -1).astype(np.float32), min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]


def build_ivf(vectors: np.ndarray, ids: np.ndarray, train_sample: int = 200_000, seed: int = 7):
    """IVF with 8-bit scalar quantisation: a quarter of the flat index's memory, recall kept high."""
    import faiss

    dim = vectors.shape[1]
    nlist = int(4 * math.sqrt(len(ids)))
    ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                        faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = vectors if len(vectors) <= train_sample else vectors[rng.choice(len(vectors), train_sample, replace=False)]
    ivf.train(sample)
    ivf.add_with_ids(vectors, ids)
    ivf.nprobe = IVF_NPROBE
    return ivf


@dataclass
class LexicalIndex:
    folder: Path
    _conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.folder / "lexical.db", check_same_thread=False)
            self._conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5({', '.join(FTS_COLUMNS)}, "
                "tokenize='porter unicode61 remove_diacritics 2')")
            self._conn.execute("CREATE TABLE IF NOT EXISTS fingerprints (id INTEGER PRIMARY KEY, fp TEXT)")
        return self._conn

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0])

    def sync(self, views: Sequence[ProductView]) -> int:
        current = {v.id: v.fingerprint for v in views}
        known = dict(self.conn.execute("SELECT id, fp FROM fingerprints").fetchall())
        gone = [i for i, fp in known.items() if current.get(i) != fp]
        todo = [v for v in views if known.get(v.id) != current[v.id]]
        if not gone and not todo:
            return 0
        with self.conn:  # one transaction
            self.conn.executemany("DELETE FROM docs WHERE rowid = ?", [(i,) for i in gone])
            self.conn.executemany("DELETE FROM fingerprints WHERE id = ?", [(i,) for i in gone])
            self.conn.executemany(
                f"INSERT INTO docs (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{', ?' * len(FTS_COLUMNS)})",
                [(v.id, *v.lexical_fields().values()) for v in todo])
            self.conn.executemany("INSERT INTO fingerprints (id, fp) VALUES (?, ?)",
                                  [(v.id, current[v.id]) for v in todo])
        return len(todo) + len(gone)

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """BM25 over documents holding all the terms; over any of them when that finds too few.

        FTS5 scores every matching document before it sorts, so the narrower AND query keeps large
        catalogs fast; the OR query keeps recall for wordy or partly misspelt queries.
        """
        return fts_search(self.conn, terms, k)


def fts_search(conn: sqlite3.Connection, terms: Sequence[str], k: int,
               budget_ms: float = LEXICAL_BUDGET_MS) -> list[tuple[int, float]]:
    """Past ``budget_ms`` the lexical list is given up (the dense list still answers): on very large
    catalogs a query of common words would otherwise make every search slow."""
    quoted = ['"' + t.replace('"', "") + '"' for t in dict.fromkeys(terms)]
    if not quoted:
        return []
    weights = ", ".join(str(w) for w in FTS_WEIGHTS)
    sql = f"SELECT rowid, bm25(docs, {weights}) AS s FROM docs WHERE docs MATCH ? ORDER BY s LIMIT ?"
    deadline = time.perf_counter() + budget_ms / 1000
    conn.set_progress_handler(lambda: int(time.perf_counter() > deadline), 2000)
    try:
        rows = conn.execute(sql, (" AND ".join(quoted), k)).fetchall() if len(quoted) > 1 else []
        if len(rows) < min(k, ENOUGH_AND_HITS):
            rows = conn.execute(sql, (" OR ".join(quoted), k)).fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" not in str(exc):
            raise
        log.debug("lexical search over budget for %s", terms)
        return []
    finally:
        conn.set_progress_handler(None, 0)
    return [(int(i), -float(s)) for i, s in rows]


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())
