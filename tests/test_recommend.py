"""The recommendation scorer's parts on a tiny fixture: each part, the business rules, the reasons."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from actions.recommend_client import RecommenderCache
from bench.recs import evaluate, recbole_counts
from catalog.recommend import Context, Item, Model, Recommender, Weights

ITEMS = [
    Item("MAKER", "Drip Coffee Maker", "Coffee Makers", "Kaffeo", 4.5, 300),
    Item("GRIND", "Burr Grinder", "Coffee Grinders", "Kaffeo", 4.6, 120),
    Item("GRIND2", "Blade Grinder", "Coffee Grinders", "Brewhaus", 3.9, 40),
    Item("KETTLE", "Gooseneck Kettle", "Kettles", "Kaffeo", 4.8, 900),
    Item("KIT", "Chemistry Kit", "Science Kits", "Lab", 4.2, 10),
    Item("SOLD", "Sold-out Grinder", "Coffee Grinders", "Kaffeo", 5.0, 999, available=False),
]
# 2-d "embeddings": coffee things point one way, the science kit another.
VECTORS = np.array([[1, 0], [0.95, 0.31], [0.9, 0.44], [0.8, 0.6], [0, 1], [0.96, 0.28]], dtype=np.float32)
VECTORS /= np.linalg.norm(VECTORS, axis=1, keepdims=True)
INTERACTIONS = [(f"u{u}", key, "purchase") for u in range(6) for key in ("MAKER", "GRIND")] + [
    ("u9", "KETTLE", "view"), ("u8", "KETTLE", "view"), ("u7", "KETTLE", "cart"), ("u6", "GRIND2", "view")]
BASKETS = [["MAKER", "GRIND"]] * 5 + [["MAKER", "KETTLE"]]


@pytest.fixture
def rec():
    return Recommender(ITEMS, INTERACTIONS, VECTORS, BASKETS)


def test_collaborative_part_finds_what_is_bought_together(rec):
    [top] = rec.recommend(Context(carted=["MAKER"]), k=1, weights=Weights(content=0, popularity=0, rating=0))
    assert top.key == "GRIND" and top.reason == "often bought with Drip Coffee Maker"
    assert top.parts["collab"] > 0


def test_content_part_and_its_reason(rec):
    [top] = rec.recommend(Context(viewed=["GRIND2"]), k=1,
                          weights=Weights(collab=0, content=1, popularity=0, rating=0))
    assert top.key in {"GRIND", "MAKER"} and top.reason.startswith("similar to Blade Grinder")


def test_the_stated_need_part(rec):
    need = np.array([0.0, 1.0], dtype=np.float32)
    [top] = rec.recommend(Context(need=need), k=1)
    assert top.key == "KIT" and top.reason == "matches what you asked for"


def test_priors_for_a_cold_start(rec):
    picks = rec.recommend(Context(), k=3)
    assert picks[0].key in {"MAKER", "GRIND", "KETTLE"} and all(p.parts["popularity"] >= 0 for p in picks)
    rated = rec.recommend(Context(), k=1, weights=Weights(collab=0, content=0, popularity=0, rating=1))
    assert rated[0].key == "KETTLE" and rated[0].reason == "rated 4.8/5 by 900 shoppers"


def test_an_empty_catalog_recommends_nothing_instead_of_failing():
    # A new store (production mode before its first catalog import) once crashed the action server here.
    empty = Recommender([], [], None, [])
    assert empty.recommend(Context(), k=3) == []


def test_business_rules_stock_history_anchor_and_constraints(rec):
    keys = [p.key for p in rec.recommend(Context(anchors=["MAKER"], history=["GRIND"]), k=5)]
    assert "SOLD" not in keys and "MAKER" not in keys and "GRIND" not in keys
    cheap = [p.key for p in rec.recommend(Context(allowed=lambda k: k != "KETTLE"), k=5)]
    assert "KETTLE" not in cheap


def test_diversity_spreads_subcategories(rec):
    plain = [p.key for p in rec.recommend(Context(viewed=["GRIND"], diversity=False), k=3,
                                          weights=Weights(same_group=1.0))]
    diverse = [rec.items[rec.index[k]].group for k in
               (p.key for p in rec.recommend(Context(viewed=["GRIND"]), k=3, weights=Weights(same_group=0.01)))]
    assert len(set(diverse)) == 3 and len(plain) == 3


def test_similar_stays_in_the_subcategory_and_honours_limits(rec):
    assert [p.key for p in rec.similar("GRIND", 5)] == ["GRIND2"]  # SOLD is out of stock
    assert rec.similar("GRIND", 5, allowed=lambda k: k != "GRIND2") == []
    assert rec.similar("NOPE") == []


def test_frequently_bought_together(rec):
    together = rec.bought_together("MAKER", 2)
    assert [t.key for t in together] == ["GRIND", "KETTLE"] and together[0].reason == "often bought with Drip Coffee Maker"
    assert [t.key for t in rec.bought_together("MAKER", 2, exclude=["GRIND"])] == ["KETTLE"]


def test_learnt_part_folds_in_an_anonymous_conversation(rec):
    # No user row for this conversation: its views alone give it a taste vector.
    [top] = rec.recommend(Context(viewed=["GRIND"], exclude=["GRIND"]), k=1,
                          weights=Weights(neighbours=0, content=0, popularity=0, rating=0))
    assert top.key == "MAKER" and top.parts["collab"] > 0
    assert top.reason == "often bought with Burr Grinder"


def test_memory_is_sparse_and_bounded_by_the_neighbour_count():
    items = [Item(f"I{i}", f"Item {i}", f"G{i % 7}") for i in range(300)]
    rng = np.random.default_rng(0)
    events = [(f"u{u}", f"I{i}", "view") for u in range(200) for i in rng.choice(300, 15, replace=False)]
    built = Recommender(items, events, model=Model(factors=8, neighbours=10))
    assert built.neighbours.nnz <= 300 * 10 and built.item_factors.shape == (300, 8)
    assert len(built.recommend(Context(viewed=["I1", "I2"]), k=5)) == 5


def test_recbole_split_sizes_and_metrics():
    assert recbole_counts(100) == (80, 10) and recbole_counts(9) == (7, 1) and recbole_counts(5) == (3, 1)
    scores = evaluate(lambda user: ["a", "x", "b"], {"u": {"b", "c"}})
    assert scores.recall[0] == 0.5 and scores.mrr[0] == pytest.approx(1 / 3)
    assert scores.ndcg[0] == pytest.approx((1 / np.log2(4)) / (1 + 1 / np.log2(3)))


class Source:
    """A stand-in for the database: a signature to poll and builds that can be held up or fail."""

    def __init__(self) -> None:
        self.stamp, self.builds, self.fail = 1, 0, False
        self.release = threading.Event()
        self.release.set()

    def build(self) -> Recommender:
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("database gone")
        self.builds += 1
        return Recommender(ITEMS, INTERACTIONS[: self.stamp], VECTORS, BASKETS)


def test_rebuild_happens_off_the_request_path_and_swaps_whole():
    source = Source()
    cache = RecommenderCache(source.build, lambda: source.stamp, interval_s=3600)
    first = cache.get()
    assert cache.get() is first and not cache.refresh() and source.builds == 1  # nothing changed
    source.stamp, source.release = 4, threading.Event()  # new interactions; the rebuild is slow
    rebuild = threading.Thread(target=cache.refresh)
    rebuild.start()
    started = time.perf_counter()
    assert cache.get() is first and time.perf_counter() - started < 0.5  # requests keep the old scorer
    source.release.set()
    rebuild.join()
    assert cache.get() is not first and source.builds == 2
    cache.stop()


def test_a_failed_rebuild_keeps_the_previous_scorer_and_the_watcher_retries():
    source = Source()
    cache = RecommenderCache(source.build, lambda: source.stamp, interval_s=0.01)
    first = cache.get()
    source.stamp, source.fail = 2, True
    assert not cache.refresh() and cache.get() is first
    source.fail = False
    deadline = time.monotonic() + 5
    while cache.get() is first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get() is not first  # the background watcher picked the change up
    cache.stop()
