"""How products reach the shopper: a custom payload for widgets, plain text for text-only channels."""
from __future__ import annotations

import json
from typing import Any, Sequence

from catalog.documents import ProductView

MAX_VARIANTS = 12  # choices on one card; a model with more is better explored by asking
LOW_STOCK = 5  # "Only 3 left" on a card at or below this


def money(amount: float, currency: str = "USD") -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def button(title: str, intent: str, sku: str) -> dict[str, str]:
    return {"title": title, "payload": f"/{intent}{json.dumps({'sku': sku})}"}


def card(p: ProductView | dict[str, Any]) -> dict[str, Any]:
    """A product card: picture, title (linking to the product page when the shop has one), price,
    rating, stock and its buttons; a search result's colour/size variants become choices on it, each
    with its own price, stock, picture and buttons."""
    d = p.as_result(0.0) if isinstance(p, ProductView) else p
    stock = d.get("stock") or 0
    out = {
        "sku": d["sku"], "title": d["title"], "price": d["price"], "currency": d.get("currency", "USD"),
        "rating": d.get("rating"), "image_url": d.get("image_url"), "url": d.get("url"), "in_stock": stock > 0,
        "buttons": [button("Details", "product_details", d["sku"]),
                    button("Add to cart", "add_to_cart", d["sku"]),
                    button("Similar", "similar_products", d["sku"])],
    }
    if 0 < stock <= LOW_STOCK:
        out["stock_left"] = stock
    if variants := d.get("variants"):
        out["variants"] = [dict(card(variant), label=variant["label"]) for variant in variants[:MAX_VARIANTS]]
    return out


def product_line(rank: int, d: dict[str, Any]) -> str:
    rating = f", rated {d['rating']:.1f}/5" if d.get("rating") else ""
    stock = "" if (d.get("stock") or 0) > 0 else " (out of stock)"
    others = [v["label"] for v in d.get("variants") or [] if v["sku"] != d["sku"]]
    also = f"; also in {', '.join(others[:4])}{' and more' if len(others) > 4 else ''}" if others else ""
    return f"{rank}. {d['title']}: {money(d['price'], d.get('currency', 'USD'))}{rating}{stock}{also}"


def results_message(intro: str, items: Sequence[dict[str, Any]], first_rank: int = 1,
                    reasons: Sequence[str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``dispatcher.utter_message``: text for every channel, cards for the widget.
    ``reasons`` (recommendations) say why each item is there."""
    why = list(reasons) if reasons else [""] * len(items)
    lines = [product_line(first_rank + i, d) + (f" ({r})" if r else "") for i, (d, r) in enumerate(zip(items, why))]
    cards = [dict(card(d), **({"reason": r} if r else {})) for d, r in zip(items, why)]
    return {"text": "\n".join([intro, *lines]),
            "json_message": {"type": "product_cards", "intro": intro, "products": cards}}
