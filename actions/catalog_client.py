"""The catalog as the actions see it: search, products by sku, the conversation's cart, what the
shopper did with products (interactions for the recommender).

One search engine per action-server process, created on first use (loading the encoder at import
time would break rasa-sdk's Sanic start-up).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from aisle import observability as obs
from aisle.config import settings
from aisle.db import session_factory
from aisle.models import InteractionKind, Product
from catalog import cart, interactions
from catalog.documents import ProductView, view_of
from catalog.search import SHOWN_WITHIN, CatalogSearch, Constraints, SearchResponse

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def engine() -> CatalogSearch:
    return CatalogSearch(settings())


def warm_up() -> None:
    """Load the encoder and indexes before the first shopper asks."""
    engine().refresh()
    engine().encode(["warm up"])


def search(query: str, limit: int, offset: int = 0, context: Constraints | None = None,
           newest: Sequence[str] = (), close_only: bool = True) -> SearchResponse:
    """One result per model, with its colour/size variants as choices on its card, and (``close_only``)
    no product that falls far behind the best one."""
    with obs.STAGE_SECONDS.labels("search").time():
        return engine().search(query, limit=limit, offset=offset, context=context, newest=newest,
                               one_per_model=True, within=SHOWN_WITHIN if close_only else None)


def similar(sku: str, limit: int, context: Constraints | None = None) -> SearchResponse:
    return engine().similar(sku, limit=limit, context=context)


def products(skus: list[str]) -> list[ProductView]:
    """Current data for these skus, in the given order (unknown skus are skipped)."""
    if not skus:
        return []
    with session_factory()() as session:
        found = {p.sku: view_of(p) for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}
    return [found[s] for s in skus if s in found]


def add_to_cart(conversation_id: str, sku: str, quantity: int, replace: bool = False) -> cart.CartSummary:
    return cart.add(session_factory(), conversation_id, sku, quantity, replace=replace)


def remove_from_cart(conversation_id: str, sku: str) -> cart.CartSummary:
    return cart.remove(session_factory(), conversation_id, sku)


def cart_summary(conversation_id: str) -> cart.CartSummary:
    return cart.summary(session_factory(), conversation_id)


def record(kind: InteractionKind, items: list[interactions.Seen], conversation_id: str, email: str | None) -> None:
    """Note what the shopper did for the recommender. A failed write is logged, never shown: the
    shopper's answer does not depend on it."""
    try:
        interactions.record(session_factory(), kind, items, conversation_id, email)
    except SQLAlchemyError:
        logger.exception("could not record %s interactions for conversation %s", kind.value, conversation_id)


def attribute_interactions(conversation_id: str, email: str) -> None:
    """The shopper proved ``email``: the conversation's earlier interactions are that customer's."""
    try:
        interactions.attribute(session_factory(), conversation_id, email)
    except SQLAlchemyError:
        logger.exception("could not attribute the interactions of conversation %s", conversation_id)
