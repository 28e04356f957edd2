"""The demo store: the catalog as a shop page at ``/``, a page per product at ``/products/SKU`` and the
demo catalog's generated pictures at ``/demo-art/NAME.svg``, with the chat widget on every page."""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from aisle.db import session_factory
from aisle.models import Product
from bot.appkeys import SETTINGS
from catalog.demo import art

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


@aiohttp_jinja2.template("product.html")
async def product_page(request: web.Request) -> dict[str, Any]:
    sku = request.match_info["sku"]
    try:
        with session_factory(request.app[SETTINGS].database_url)() as s:
            product = s.scalar(select(Product).where(Product.sku == sku))
            variants = s.scalars(select(Product).where(Product.group_key == product.group_key)
                                 .order_by(Product.sku)).all() if product and product.group_key else []
    except (OperationalError, ProgrammingError):
        product = None
    if product is None:
        raise web.HTTPNotFound(text="No such product in this store.")
    return {"p": product, "variants": [v for v in variants if v.sku != sku]}


async def demo_picture(request: web.Request) -> web.Response:
    found = art.parse(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound(text="No such demo picture.")
    return web.Response(text=art.svg(*found), content_type="image/svg+xml", headers={
        "Cache-Control": "public, max-age=86400",
        # Shown with <img> (no scripts run there); opened on its own, it may load nothing either.
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    })


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", store_page)
    app.router.add_get("/products/{sku}", product_page)
    app.router.add_get("/demo-art/{name}.svg", demo_picture)
