"""The demo store's product listing at ``/``: the catalog as a shop page, with the chat widget on it."""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from aisle.db import session_factory
from aisle.models import Product
from bot.appkeys import SETTINGS

PAGE_SIZE = 24


def top_category(path: str) -> str:
    return path.split(">")[0].strip()


@aiohttp_jinja2.template("store.html")
async def store_page(request: web.Request) -> dict[str, Any]:
    category = request.query.get("category", "").strip()[:200]
    try:
        page = max(1, min(int(request.query.get("page", "1")), 10_000))
    except ValueError:
        page = 1
    sessions = session_factory(request.app[SETTINGS].database_url)
    try:
        with sessions() as s:
            paths = s.scalars(select(Product.category).distinct()).all()
            query = select(Product)
            if category:
                query = query.where(Product.category.startswith(category))
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            products = s.scalars(query.order_by(Product.rating_count.desc().nulls_last(), Product.sku)
                                 .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    except (OperationalError, ProgrammingError):  # no catalog yet: migrations not run
        paths, total, products = [], 0, []
    return {
        "products": products, "category": category, "page": page, "total": total,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "categories": sorted({top_category(p) for p in paths}),
    }
