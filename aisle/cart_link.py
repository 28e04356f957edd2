"""The store's cart link (AISLE_CART_LINK_TEMPLATE): hands a chat cart to the shop's own checkout.

The template is a URL with placeholders for one item: ``{variant_id}`` (the store's id for the
variant) or ``{sku}``, and ``{quantity}``. Shopify's cart permalink takes many items, repeated with a
separator (AISLE_CART_LINK_JOIN=","):
``https://shop.example.com/cart/{variant_id}:{quantity}`` → ``/cart/4401:2,4402:1``.
The item part that repeats runs from the first placeholder to the last. WooCommerce's
``https://shop.example.com/?add-to-cart={variant_id}&quantity={quantity}`` takes one item, so without
a separator a link carries one item and a cart of several items gets one link per item.

Stdlib only: read by aisle/config.py in both virtual environments.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import quote, urlsplit

FIELDS = ("variant_id", "sku", "quantity")
ID_FIELDS = ("variant_id", "sku")


@dataclass(frozen=True)
class CartItem:
    sku: str
    variant_id: str | None
    quantity: int


@dataclass(frozen=True)
class CartLinkTemplate:
    prefix: str
    item: str
    suffix: str
    join: str | None  # None: the store takes one item per link

    @classmethod
    def parse(cls, template: str, join: str | None = None) -> "CartLinkTemplate":
        """Raises ValueError saying what is wrong with the template."""
        template = template.strip()
        parts = urlsplit(template.replace("{", "").replace("}", ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL like https://shop.example.com/cart/{{variant_id}}:{{quantity}}, "
                             f"got {template!r}")
        try:
            fields = [(literal, name, spec, conversion)
                      for literal, name, spec, conversion in string.Formatter().parse(template)]
        except ValueError as exc:
            raise ValueError(f"has unbalanced braces ({exc}): {template!r}") from None
        names = [name for _, name, _, _ in fields if name is not None]
        unknown = sorted({n for n in names if n not in FIELDS})
        if unknown or any(spec or conversion for _, name, spec, conversion in fields if name is not None):
            raise ValueError(f"may only use the placeholders {', '.join('{' + f + '}' for f in FIELDS)}, "
                             f"got {template!r}")
        if not any(n in ID_FIELDS for n in names):
            raise ValueError(f"needs {{variant_id}} or {{sku}} to say which item: {template!r}")
        if join is not None and (not join or "{" in join or "}" in join):
            raise ValueError(f"AISLE_CART_LINK_JOIN must be a separator like \",\", got {join!r}")
        first, last = template.index("{"), template.rindex("}") + 1
        return cls(template[:first], template[first:last], template[last:], join)

    @property
    def needs_variant_id(self) -> bool:
        return "{variant_id}" in self.item

    def _item(self, item: CartItem) -> str | None:
        if self.needs_variant_id and not item.variant_id:
            return None
        return self.item.format(variant_id=quote(item.variant_id or "", safe=""), sku=quote(item.sku, safe=""),
                                quantity=item.quantity)

    def render(self, items: Iterable[CartItem]) -> str | None:
        """One link for the whole cart; None when the cart is empty, when an item lacks the store's id,
        or when the store takes one item per link and the cart has several."""
        parts = [self._item(item) for item in items]
        if not parts or None in parts or (self.join is None and len(parts) > 1):
            return None
        return self.prefix + (self.join or "").join(p for p in parts if p) + self.suffix

    def render_each(self, item: CartItem) -> str | None:
        """A link that adds this one item (None when it lacks the store's id)."""
        part = self._item(item)
        return None if part is None else self.prefix + part + self.suffix
