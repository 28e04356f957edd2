"""The recommendation scorer: one scoring function with parts you can read.

score(item) = w_collab · co-occurrence with the context items (item–item cosine over shoppers'
              weighted interactions: view 1, like 2, cart 3, purchase 5; each item's 50 strongest
              neighbours; scaled to 0..1 per request)
            + w_content · embedding similarity to the context items
            + w_need · similarity to what the shopper asked for ("a gift for a 10-year-old who likes science")
            + w_popularity · popularity prior + w_rating · rating prior (Bayesian average)
then business rules: only available items, never one already bought or the one asked about, and
diversity (each further item from the same subcategory or brand is discounted). The context is the
conversation's own products (the one asked about, carted, liked, shown) and the verified customer's
purchase history. Every result says why, from its largest part: "often bought with X", "similar to Y
you looked at", "matches what you asked for", "popular in Z", "rated 4.8/5".

Generic over item keys, so the benchmark runs it unchanged on MovieLens. The item–item matrix is dense:
fine for the few thousand items of a store's catalog; a catalog of 100k+ items would keep top-k
neighbours instead.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

KIND_WEIGHTS = {"view": 1.0, "like": 2.0, "cart": 3.0, "purchase": 5.0}
CONTEXT_WEIGHTS = {"anchors": 1.0, "carted": 0.8, "liked": 0.6, "history": 0.5, "viewed": 0.4}
PRIOR_RATING, PRIOR_COUNT = 3.5, 10
SHORTLIST = 60
NEIGHBOURS = 50


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    group: str  # subcategory (or genre): the unit of diversity
    brand: str | None = None
    rating: float | None = None
    rating_count: int | None = None
    available: bool = True


@dataclass
class Weights:
    collab: float = 1.0
    content: float = 0.35
    need: float = 1.0
    popularity: float = 0.25
    rating: float = 0.05
    same_group: float = 0.8  # score multiplier per already chosen item of the same subcategory
    same_brand: float = 0.9


# Alternatives to one product: what it is like matters most, then what people also considered.
SIMILAR_WEIGHTS = Weights(collab=0.3, content=1.0, need=0.0, popularity=0.1, rating=0.1)


@dataclass
class Context:
    anchors: Sequence[str] = ()
    carted: Sequence[str] = ()
    liked: Sequence[str] = ()
    history: Sequence[str] = ()
    viewed: Sequence[str] = ()
    need: np.ndarray | None = None  # unit-length embedding of the stated need
    allowed: Callable[[str], bool] | None = None  # the conversation's constraints (cheaper, colour...)
    diversity: bool = True
    exclude: Sequence[str] = ()

    def weighted(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, weight in CONTEXT_WEIGHTS.items():
            for key in getattr(self, name):
                out[key] = max(out.get(key, 0.0), weight)
        return out


@dataclass
class Scored:
    key: str
    score: float
    parts: dict[str, float] = field(default_factory=dict)
    reason: str = ""


class Recommender:
    def __init__(self, items: Sequence[Item], interactions: Iterable[tuple[str, str, str]],
                 vectors: np.ndarray | None = None, baskets: Iterable[Sequence[str]] = (),
                 weights: Weights | None = None) -> None:
        """``interactions``: (user, item key, kind); ``vectors``: unit rows aligned with ``items``;
        ``baskets``: item keys bought together in one order."""
        self.items = list(items)
        self.index = {item.key: i for i, item in enumerate(self.items)}
        self.weights = weights or Weights()
        self.vectors = vectors
        n = len(self.items)
        users: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for user, key, kind in interactions:
            if key in self.index:
                rows.append(users.setdefault(user, len(users)))
                cols.append(self.index[key])
                vals.append(KIND_WEIGHTS.get(kind, 1.0))
        matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(max(len(users), 1), n), dtype=np.float32)
        matrix.data = np.log1p(matrix.data)  # repeated views count, but with diminishing returns
        gram = (matrix.T @ matrix).toarray()
        norms = np.sqrt(np.maximum(np.diag(gram), 1e-9))
        self.similarity = gram / norms[:, None] / norms[None, :]
        np.fill_diagonal(self.similarity, 0.0)
        if n > NEIGHBOURS:  # keep each item's strongest neighbours only: the rest is mostly noise
            cutoff = np.partition(self.similarity, n - NEIGHBOURS, axis=1)[:, n - NEIGHBOURS][:, None]
            self.similarity = np.where(self.similarity >= cutoff, self.similarity, 0.0)
        together = np.zeros((n, n), dtype=np.float32)
        for basket in baskets:
            ids = [self.index[k] for k in set(basket) if k in self.index]
            for a in ids:
                for b in ids:
                    if a != b:
                        together[a, b] += 1
        self.together = together
        activity = np.asarray(matrix.sum(axis=0)).ravel()
        self.popularity = np.log1p(activity) / max(float(np.log1p(activity).max(initial=0.0)), 1e-9)
        ratings = np.array([item.rating if item.rating is not None else PRIOR_RATING for item in self.items])
        counts = np.array([item.rating_count or 0 for item in self.items], dtype=float)
        bayes = (ratings * counts + PRIOR_RATING * PRIOR_COUNT) / (counts + PRIOR_COUNT)
        self.rating_prior = np.clip((bayes - 1) / 4, 0, 1)
        self.available = np.array([item.available for item in self.items])

    def _parts(self, context: Context) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        weighted = {k: w for k, w in context.weighted().items() if k in self.index}
        n = len(self.items)
        parts = {name: np.zeros(n) for name in ("collab", "content", "need")}
        if weighted:
            ids = np.array([self.index[k] for k in weighted])
            w = np.array(list(weighted.values()))[:, None]
            collab = (w * self.similarity[ids]).sum(axis=0)
            parts["collab"] = collab / max(float(collab.max()), 1e-9)  # 0..1 whatever the history's length
            if self.vectors is not None:
                alike = self.vectors[ids] @ self.vectors.T
                alike[np.arange(len(ids)), ids] = 0.0  # an item is not "similar to itself"
                parts["content"] = np.clip((w * alike).sum(axis=0) / w.sum(), 0, 1)
        if context.need is not None and self.vectors is not None:
            parts["need"] = np.clip(self.vectors @ context.need, 0, 1)
        parts["popularity"] = self.popularity
        parts["rating"] = self.rating_prior
        return parts, weighted

    def recommend(self, context: Context, k: int = 5, weights: Weights | None = None) -> list[Scored]:
        parts, weighted = self._parts(context)
        w = weights or self.weights
        total = (w.collab * parts["collab"] + w.content * parts["content"] + w.need * parts["need"]
                 + w.popularity * parts["popularity"] + w.rating * parts["rating"])
        # What the shopper is asking about and what they own are never suggested; things they only
        # looked at or carted earlier still may be (they are often what gets bought next).
        blocked = set(context.anchors) | set(context.history) | set(context.exclude)
        order = np.argsort(-total)
        shortlist: list[int] = []
        for i in order:
            key = self.items[i].key
            if key in blocked or not self.available[i] or (context.allowed and not context.allowed(key)):
                continue
            shortlist.append(int(i))
            if len(shortlist) >= max(SHORTLIST, k):
                break
        chosen = self._diversify(shortlist, total, k, w) if context.diversity else shortlist[:k]
        return [self._explain(i, float(total[i]), parts, weighted, w) for i in chosen]

    def _diversify(self, shortlist: list[int], total: np.ndarray, k: int, w: Weights) -> list[int]:
        chosen: list[int] = []
        groups: dict[str, int] = {}
        brands: dict[str, int] = {}
        pool = list(shortlist)
        while pool and len(chosen) < k:
            def adjusted(i: int) -> float:
                item = self.items[i]
                return float(total[i]) * w.same_group ** groups.get(item.group, 0) * (
                    w.same_brand ** brands.get(item.brand, 0) if item.brand else 1.0)
            best = max(pool, key=adjusted)
            pool.remove(best)
            chosen.append(best)
            groups[self.items[best].group] = groups.get(self.items[best].group, 0) + 1
            if self.items[best].brand:
                brands[self.items[best].brand] = brands.get(self.items[best].brand, 0) + 1
        return chosen

    def _explain(self, i: int, score: float, parts: dict[str, np.ndarray], weighted: dict[str, float],
                 w: Weights) -> Scored:
        contributions = {"collab": w.collab * parts["collab"][i], "content": w.content * parts["content"][i],
                         "need": w.need * parts["need"][i], "popularity": w.popularity * parts["popularity"][i],
                         "rating": w.rating * parts["rating"][i]}
        item = self.items[i]
        main = max(contributions, key=contributions.get)  # type: ignore[arg-type]
        reason = f"popular in {item.group}"
        if main in ("collab", "content") and weighted:
            ids = [self.index[k] for k in weighted]
            if main == "collab":
                j = max(ids, key=lambda x: weighted[self.items[x].key] * self.similarity[x, i])
                reason = f"often bought with {self.items[j].title}"
            else:
                assert self.vectors is not None
                j = max((x for x in ids if x != i), key=lambda x: float(self.vectors[x] @ self.vectors[i]),
                        default=ids[0])
                reason = f"similar to {self.items[j].title} you looked at"
        elif main == "need":
            reason = "matches what you asked for"
        elif main == "rating" and item.rating:
            reason = f"rated {item.rating:.1f}/5 by {item.rating_count or 0} shoppers"
        return Scored(item.key, score, {k: round(float(v), 4) for k, v in contributions.items()}, reason)

    def similar(self, key: str, k: int = 5, allowed: Callable[[str], bool] | None = None) -> list[Scored]:
        """Alternatives to ``key``: the same subcategory, ranked by the scorer with content first."""
        if key not in self.index:
            return []
        group = self.items[self.index[key]].group
        same_group = {item.key for item in self.items if item.group == group}
        return self.recommend(Context(anchors=[key], allowed=lambda k2: k2 in same_group and (
            allowed is None or allowed(k2)), diversity=False), k, SIMILAR_WEIGHTS)

    def bought_together(self, key: str, k: int = 3, exclude: Sequence[str] = ()) -> list[Scored]:
        """Items most often in the same order as ``key`` (available ones), for after add-to-cart."""
        if key not in self.index:
            return []
        i = self.index[key]
        counts = self.together[i]
        blocked = set(exclude) | {key}
        out = []
        for j in np.argsort(-counts):
            if counts[j] <= 0 or len(out) >= k:
                break
            if self.available[j] and self.items[j].key not in blocked:
                out.append(Scored(self.items[j].key, float(counts[j]), {"together": float(counts[j])},
                                  f"often bought with {self.items[i].title}"))
        return out
