"""How products reach the shopper: a custom payload for widgets, plain text for text-only channels."""
from __future__ import annotations

import json
from typing import Any, Sequence

from catalog.documents import ProductView


def money(amount: float, currency: str = "USD") -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def button(title: str, intent: str, sku: str) -> dict[str, str]:
    return {"title": title, "payload": f"/{intent}{json.dumps({'sku': sku})}"}


def card(p: ProductView | dict[str, Any]) -> dict[str, Any]:
    d = p.as_result(0.0) if isinstance(p, ProductView) else p
    return {
        "sku": d["sku"], "title": d["title"], "price": d["price"], "currency": d.get("currency", "USD"),
        "rating": d.get("rating"), "image_url": d.get("image_url"), "in_stock": (d.get("stock") or 0) > 0,
        "buttons": [button("Details", "product_details", d["sku"]),
                    button("Add to cart", "add_to_cart", d["sku"]),
                    button("Similar", "similar_products", d["sku"])],
    }


def product_line(rank: int, d: dict[str, Any]) -> str:
    rating = f", rated {d['rating']:.1f}/5" if d.get("rating") else ""
    stock = "" if (d.get("stock") or 0) > 0 else " (out of stock)"
    return f"{rank}. {d['title']}: {money(d['price'], d.get('currency', 'USD'))}{rating}{stock}"


def results_message(intro: str, items: Sequence[dict[str, Any]], first_rank: int = 1,
                    reasons: Sequence[str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``dispatcher.utter_message``: text for every channel, cards for the widget.
    ``reasons`` (recommendations) say why each item is there."""
    why = list(reasons) if reasons else [""] * len(items)
    lines = [product_line(first_rank + i, d) + (f" ({r})" if r else "") for i, (d, r) in enumerate(zip(items, why))]
    cards = [dict(card(d), **({"reason": r} if r else {})) for d, r in zip(items, why)]
    return {"text": "\n".join([intro, *lines]),
            "json_message": {"type": "product_cards", "intro": intro, "products": cards}}
