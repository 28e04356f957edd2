"""The recommendation scorer as the actions see it: built from the catalog, the search index's
product embeddings, shoppers' interactions and orders; rebuilt when any of them changes."""
from __future__ import annotations

import threading
from collections import defaultdict
from functools import lru_cache

import numpy as np
from sqlalchemy import func, select

from actions import catalog_client
from aisle.config import settings
from aisle.db import products_signature, session_factory
from aisle.models import Customer, Interaction, Order, OrderLine, Product
from catalog.recommend import Item, Recommender, Weights

# Popularity as chosen by catalog.recbench on the demo shop's validation split (reports/recs.md); the
# content part is kept (0.2, the runner-up there) so a conversation with no history still gets
# "similar to what you looked at".
SERVED_WEIGHTS = Weights(content=0.2, popularity=0.4)


class RecommenderCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._recommender: Recommender | None = None

    def _signature_now(self) -> tuple:
        with session_factory()() as s:  # one round trip: this runs on every recommendation
            activity = tuple(s.execute(select(select(func.count(Interaction.id)).scalar_subquery(),
                                              select(func.max(Interaction.id)).scalar_subquery(),
                                              select(func.count(Order.id)).scalar_subquery())).one())
        return (products_signature(settings().database_url), activity)

    def get(self) -> Recommender:
        signature = self._signature_now()
        with self._lock:
            if self._recommender is None or signature != self._signature:
                self._recommender = build()
                self._signature = signature
            return self._recommender


def build() -> Recommender:
    engine = catalog_client.engine()
    engine.refresh()
    views = sorted(engine.views.values(), key=lambda v: v.id)
    items = [Item(v.sku, v.title, v.category_leaf, v.brand, v.rating, v.rating_count, v.stock > 0) for v in views]
    vectors = np.stack([engine.dense.index.reconstruct(v.id) for v in views]) if views else None
    with session_factory()() as s:
        # A conversation whose shopper never proved who they are is a user of its own.
        interactions = [(f"c{customer}" if customer is not None else f"s{conversation}", sku, kind.value)
                        for customer, conversation, sku, kind in s.execute(
            select(Interaction.customer_id, Interaction.conversation_id, Product.sku, Interaction.kind)
            .join(Product, Product.id == Interaction.product_id))]
        baskets: dict[int, list[str]] = defaultdict(list)
        for order_id, sku in s.execute(select(OrderLine.order_id, Product.sku).join(Product)):
            baskets[order_id].append(sku)
    return Recommender(items, interactions, vectors, baskets.values(), SERVED_WEIGHTS)


@lru_cache(maxsize=1)
def cache() -> RecommenderCache:
    return RecommenderCache()


def recommender() -> Recommender:
    return cache().get()


def purchased(email: str | None) -> list[str]:
    """Skus the verified customer has bought (their history: never recommended again)."""
    if not email:
        return []
    with session_factory()() as s:
        return list(s.scalars(select(Product.sku).join(OrderLine, OrderLine.product_id == Product.id)
                              .join(Order, Order.id == OrderLine.order_id).join(Customer)
                              .where(func.lower(Customer.email) == email.lower()).distinct()))
