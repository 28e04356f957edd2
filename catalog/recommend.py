"""The recommendation scorer: one scoring function with parts you can read.

score(item) = w_collab · learnt taste (implicit-feedback ALS from the ``implicit`` library; the
              conversation's own products are folded in as a new shopper in closed form, so an
              anonymous chat gets a taste vector from what it viewed, carted and asked about)
            + w_neighbours · item–item cosine with the context items (each item's strongest neighbours,
              also the source of "often bought with X")
            + w_content · embedding similarity to the context items
            + w_need · similarity to what the shopper asked for ("a gift for a 10-year-old who likes science")
            + w_popularity · popularity prior + w_rating · rating prior (Bayesian average)
Interactions are weighted by kind (view 1, like 2, cart 3, purchase 5) and log-damped. The learnt and
neighbour parts are scaled to 0..1 per request. Then business rules: only available items, never one
already bought or the one asked about, the conversation's constraints, and diversity (each further item
from the same subcategory or brand is discounted). Every result says why, from its largest part.

Memory grows with interactions and items, never items²: item factors (items × factors), a sparse
neighbour list (items × neighbours), sparse baskets. Generic over item keys, so the benchmark runs it
unchanged on MovieLens.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import CosineRecommender
from implicit.utils import ParameterWarning
from scipy import sparse
from threadpoolctl import threadpool_limits

KIND_WEIGHTS = {"view": 1.0, "like": 2.0, "cart": 3.0, "purchase": 5.0}
# How each part of a conversation's context counts, as the interaction kind it stands for: the product
# asked about is as strong a signal as a cart line.
CONTEXT_KINDS = {"anchors": "cart", "carted": "cart", "liked": "like", "history": "purchase", "viewed": "view"}
CONTEXT_WEIGHTS = {"anchors": 1.0, "carted": 0.8, "liked": 0.6, "history": 0.5, "viewed": 0.4}
PRIOR_RATING, PRIOR_COUNT = 3.5, 10
SHORTLIST = 60
# Embedding floats kept at full width (a 6,000-item catalog at 384-d); a larger catalog keeps its
# principal axes instead, since every request reads the whole matrix and memory bandwidth sets the latency.
CONTENT_BUDGET = 6000 * 384


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    group: str  # subcategory (or genre): the unit of diversity
    brand: str | None = None
    rating: float | None = None
    rating_count: int | None = None
    available: bool = True


@dataclass(frozen=True)
class Model:
    """Hyper-parameters of the learnt parts; the defaults are what bench.recs chose on the demo
    shop's validation split (reports/recs.md)."""
    factors: int = 16
    regularization: float = 0.1
    alpha: float = 0.5  # confidence per unit of (log-damped) interaction weight
    iterations: int = 15
    neighbours: int = 10
    content_dims: int = 64  # embedding width kept for catalogs over CONTENT_BUDGET
    threads: int = 1
    seed: int = 0


@dataclass
class Weights:
    collab: float = 1.0
    neighbours: float = 0.5
    content: float = 0.2
    need: float = 1.0
    popularity: float = 0.1
    rating: float = 0.05
    same_group: float = 0.8  # score multiplier per already chosen item of the same subcategory
    same_brand: float = 0.9


PARTS = ("collab", "neighbours", "content", "need", "popularity", "rating")
# Alternatives to one product: what it is like matters most, then what people also considered.
SIMILAR_WEIGHTS = Weights(collab=0.2, neighbours=0.3, content=1.0, need=0.0, popularity=0.1, rating=0.1)


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
        """Each context item's weight for explanations and the content part (its strongest role)."""
        out: dict[str, float] = {}
        for name, weight in CONTEXT_WEIGHTS.items():
            for key in getattr(self, name):
                out[key] = max(out.get(key, 0.0), weight)
        return out

    def signal(self) -> dict[str, float]:
        """Interaction weight per item as training counts it (kinds summed, repeats included)."""
        out: dict[str, float] = defaultdict(float)
        for name, kind in CONTEXT_KINDS.items():
            for key in getattr(self, name):
                out[key] += KIND_WEIGHTS[kind]
        return out


@dataclass
class Scored:
    key: str
    score: float
    parts: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def principal_axes(vectors: np.ndarray, dims: int, seed: int, sample: int = 20_000) -> np.ndarray:
    """The ``dims`` directions that keep most of the embeddings' variance (PCA on a sample)."""
    rows = np.random.default_rng(seed).choice(len(vectors), min(sample, len(vectors)), replace=False)
    part = vectors[rows].astype(np.float32)
    _, _, vt = np.linalg.svd(part - part.mean(axis=0), full_matrices=False)
    return np.ascontiguousarray(vt[:dims].T)


def interaction_matrix(interactions: Iterable[tuple[str, str, str]], index: dict[str, int],
                       n_items: int, users: dict[str, int] | None = None) -> sparse.csr_matrix:
    """Users × items, kind-weighted and log-damped: repeated views count, with diminishing returns.
    ``users`` (user → row) is filled in as users appear."""
    users = {} if users is None else users
    rows, cols, vals = [], [], []
    for user, key, kind in interactions:
        i = index.get(key)
        if i is not None:
            rows.append(users.setdefault(user, len(users)))
            cols.append(i)
            vals.append(KIND_WEIGHTS.get(kind, 1.0))
    matrix = sparse.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)),
                               shape=(max(len(users), 1), n_items), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data = np.log1p(matrix.data)
    return matrix


class Recommender:
    def __init__(self, items: Sequence[Item], interactions: Iterable[tuple[str, str, str]],
                 vectors: np.ndarray | None = None, baskets: Iterable[Sequence[str]] = (),
                 weights: Weights | None = None, model: Model | None = None) -> None:
        """``interactions``: (user, item key, kind); ``vectors``: unit rows aligned with ``items``;
        ``baskets``: item keys bought together in one order."""
        self.items = list(items)
        self.index = {item.key: i for i, item in enumerate(self.items)}
        self.weights = weights or Weights()
        self.model = model or Model()
        self.projection: np.ndarray | None = None  # embedding space → the kept principal axes
        if vectors is not None and vectors.size > CONTENT_BUDGET and vectors.shape[1] > self.model.content_dims:
            self.projection = principal_axes(vectors, self.model.content_dims, self.model.seed)
            vectors = unit_rows(vectors @ self.projection)
        self.vectors = None if vectors is None else np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(self.items)
        matrix = interaction_matrix(interactions, self.index, n)
        self.item_factors = np.zeros((n, self.model.factors), dtype=np.float32)
        self.neighbours = sparse.csr_matrix((n, n), dtype=np.float32)
        if matrix.nnz:
            self.item_factors, similarity = self._fit(matrix)
            similarity = similarity.astype(np.float32)
            similarity.setdiag(0.0)  # an item is not its own neighbour
            similarity.eliminate_zeros()
            self.neighbours = similarity
        # The fold-in's fixed part (YᵀY + λI), once, so a request only adds its own few items.
        self.gram = (self.item_factors.T @ self.item_factors
                     + self.model.regularization * np.eye(self.model.factors, dtype=np.float32))
        self.together = self._baskets(baskets, n)
        activity = np.asarray(matrix.sum(axis=0)).ravel()
        self.popularity = (np.log1p(activity) / max(float(np.log1p(activity).max(initial=0.0)), 1e-9)
                           ).astype(np.float32)
        ratings = np.array([item.rating if item.rating is not None else PRIOR_RATING for item in self.items])
        counts = np.array([item.rating_count or 0 for item in self.items], dtype=float)
        bayes = (ratings * counts + PRIOR_RATING * PRIOR_COUNT) / (counts + PRIOR_COUNT)
        self.rating_prior = np.clip((bayes - 1) / 4, 0, 1).astype(np.float32)
        self.available = np.array([item.available for item in self.items], dtype=bool)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(self.items):
            groups[item.group].append(i)
        self.groups = {g: np.array(ids) for g, ids in groups.items()}

    def _fit(self, matrix: sparse.csr_matrix) -> tuple[np.ndarray, sparse.csr_matrix]:
        # implicit runs its own threads; BLAS threads on top of them only contend (implicit warns).
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ParameterWarning)  # its k-NN converts its own transpose to CSR
            als = AlternatingLeastSquares(factors=self.model.factors, regularization=self.model.regularization,
                                          alpha=self.model.alpha, iterations=self.model.iterations,
                                          num_threads=self.model.threads, random_state=self.model.seed)
            als.fit(matrix, show_progress=False)
            knn = CosineRecommender(K=self.model.neighbours + 1, num_threads=self.model.threads)
            knn.fit(matrix, show_progress=False)
        return np.ascontiguousarray(als.item_factors, dtype=np.float32), knn.similarity.tocsr()

    def _baskets(self, baskets: Iterable[Sequence[str]], n: int) -> sparse.csr_matrix:
        rows, cols = [], []
        for b, basket in enumerate(baskets):
            for key in set(basket):
                if key in self.index:
                    rows.append(b)
                    cols.append(self.index[key])
        orders = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                   shape=(max(rows, default=0) + 1, n))
        together = (orders.T @ orders).tocsr()
        together.setdiag(0.0)
        together.eliminate_zeros()
        return together

    def taste(self, signal: dict[str, float]) -> np.ndarray:
        """The context as a new shopper's factors: implicit's ALS user step, solved for this one row."""
        ids = np.array([self.index[k] for k in signal], dtype=np.int64)
        confidence = self.model.alpha * np.log1p(np.array(list(signal.values()), dtype=np.float32))
        y = self.item_factors[ids]
        a = self.gram + (y.T * (confidence - 1.0)) @ y
        b = confidence @ y
        return np.linalg.solve(a, b).astype(np.float32)

    def parts(self, context: Context) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Every part's score for every item (0..1), and the context items with their weights."""
        weighted = {k: w for k, w in context.weighted().items() if k in self.index}
        n = len(self.items)
        zeros = np.zeros(n, dtype=np.float32)
        parts = {"collab": zeros, "neighbours": zeros, "content": zeros, "need": zeros,
                 "popularity": self.popularity, "rating": self.rating_prior}
        signal = {k: v for k, v in context.signal().items() if k in self.index}
        if signal and n:
            collab = np.maximum(self.item_factors @ self.taste(signal), 0.0)
            parts["collab"] = collab / max(float(collab.max()), 1e-9)
            ids = np.array([self.index[k] for k in signal])
            row = sparse.csr_matrix((np.log1p(np.array(list(signal.values()), dtype=np.float32)),
                                     (np.zeros(len(ids), dtype=np.int64), ids)), shape=(1, n))
            near = (row @ self.neighbours).toarray().ravel()
            parts["neighbours"] = near / max(float(near.max()), 1e-9)
        if self.vectors is None:
            return parts, weighted
        # Both embedding parts in one pass over the matrix: its read is the request's largest cost.
        queries: dict[str, np.ndarray] = {}
        if weighted:
            ids = np.array([self.index[k] for k in weighted])
            w = np.array(list(weighted.values()), dtype=np.float32)
            queries["content"] = (w @ self.vectors[ids]) / w.sum()
        if context.need is not None:
            need = context.need.astype(np.float32)
            queries["need"] = need if self.projection is None else unit_rows(need @ self.projection)
        if queries:
            sims = self.vectors @ np.stack(list(queries.values()), axis=1)
            if weighted:  # an item is not "similar to itself" (unit rows: its self-similarity is its weight)
                np.subtract.at(sims[:, 0], ids, w / w.sum())  # content is the first column when present
            for col, name in enumerate(queries):
                parts[name] = np.clip(sims[:, col], 0, 1)
        return parts, weighted

    @staticmethod
    def total(parts: dict[str, np.ndarray], w: Weights) -> np.ndarray:
        return sum(getattr(w, name) * parts[name] for name in PARTS)  # type: ignore[return-value]

    def _candidates(self, total: np.ndarray, blocked: set[str]) -> Iterator[int]:
        """Available, unblocked items best first; sorts only the head unless rules filter deeply."""
        score = np.where(self.available, total, -np.inf)
        for key in blocked:
            if key in self.index:
                score[self.index[key]] = -np.inf
        head = min(len(score), 4 * SHORTLIST)
        top = np.argpartition(-score, head - 1)[:head] if head < len(score) else np.arange(len(score))
        top = top[np.argsort(-score[top], kind="stable")]
        yield from (int(i) for i in top if score[i] > -np.inf)
        if head < len(score):
            rest = np.setdiff1d(np.arange(len(score)), top, assume_unique=True)
            yield from (int(i) for i in rest[np.argsort(-score[rest], kind="stable")] if score[i] > -np.inf)

    def recommend(self, context: Context, k: int = 5, weights: Weights | None = None) -> list[Scored]:
        if not self.items:
            return []
        parts, weighted = self.parts(context)
        w = weights or self.weights
        total = self.total(parts, w)
        chosen = self.rank(total, context, k, w)
        links = self._links(weighted, chosen)
        return [self._explain(i, float(total[i]), parts, weighted, links[:, col], w) for col, i in enumerate(chosen)]

    def rank(self, total: np.ndarray, context: Context, k: int, w: Weights) -> list[int]:
        """The business rules over a total score: the indices of the ``k`` items to show."""
        # What the shopper is asking about and what they own are never suggested; things they only
        # looked at or carted earlier still may be (they are often what gets bought next).
        blocked = set(context.anchors) | set(context.history) | set(context.exclude)
        shortlist: list[int] = []
        for i in self._candidates(total, blocked):
            if context.allowed and not context.allowed(self.items[i].key):
                continue
            shortlist.append(i)
            if len(shortlist) >= max(SHORTLIST, k):
                break
        return self._diversify(shortlist, total, k, w) if context.diversity else shortlist[:k]

    def _links(self, weighted: dict[str, float], chosen: list[int]) -> np.ndarray:
        """Context item × chosen item: neighbour similarity times the context item's weight (one
        sparse slice per request, not one lookup per pair)."""
        ids = [self.index[k] for k in weighted]
        if not ids or not chosen:
            return np.zeros((len(ids), len(chosen)), dtype=np.float32)
        return self.neighbours[ids][:, chosen].toarray() * np.array(list(weighted.values()))[:, None]

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
                 links: np.ndarray, w: Weights) -> Scored:
        contributions = {name: float(getattr(w, name) * parts[name][i]) for name in PARTS}
        item = self.items[i]
        main = max(contributions, key=contributions.get)  # type: ignore[arg-type]
        reason = f"popular in {item.group}"
        ids = [self.index[k] for k in weighted]
        if main in ("collab", "neighbours") and ids:
            # Name the context item most often chosen with this one; a learnt taste with no such
            # neighbour still says whose choices it follows.
            best = int(np.argmax(links))
            reason = (f"often bought with {self.items[ids[best]].title}" if links[best] > 0
                      else "chosen by shoppers with a taste like yours")
        elif main == "content" and ids and self.vectors is not None:
            j = max((x for x in ids if x != i), key=lambda x: float(self.vectors[x] @ self.vectors[i]),
                    default=ids[0])
            reason = f"similar to {self.items[j].title} you looked at"
        elif main == "need":
            reason = "matches what you asked for"
        elif main == "rating" and item.rating:
            reason = f"rated {item.rating:.1f}/5 by {item.rating_count or 0} shoppers"
        return Scored(item.key, score, {k: round(v, 4) for k, v in contributions.items()}, reason)

    def similar(self, key: str, k: int = 5, allowed: Callable[[str], bool] | None = None) -> list[Scored]:
        """Alternatives to ``key``: the same subcategory, ranked by the scorer with content first."""
        if key not in self.index:
            return []
        group = self.items[self.index[key]].group
        same_group = {self.items[i].key for i in self.groups[group]}
        return self.recommend(Context(anchors=[key], allowed=lambda k2: k2 in same_group and (
            allowed is None or allowed(k2)), diversity=False), k, SIMILAR_WEIGHTS)

    def bought_together(self, key: str, k: int = 3, exclude: Sequence[str] = ()) -> list[Scored]:
        """Items most often in the same order as ``key`` (available ones), for after add-to-cart."""
        if key not in self.index:
            return []
        i = self.index[key]
        row = self.together.getrow(i)
        blocked = set(exclude) | {key}
        out = []
        for j, count in sorted(zip(row.indices, row.data), key=lambda p: (-p[1], p[0])):
            if len(out) >= k:
                break
            if self.available[j] and self.items[j].key not in blocked:
                out.append(Scored(self.items[j].key, float(count), {"together": float(count)},
                                  f"often bought with {self.items[i].title}"))
        return out
