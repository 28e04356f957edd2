"""What the search indexes see of a product, and the in-memory view of the catalog search filters on."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

DESCRIPTION_WORDS_FOR_EMBEDDING = 60  # MiniLM reads 256 tokens at most; the opening says the most
# Kept for cards and lookups, but numbers no shopper describes a product with: not search text.
UNSEARCHED_ATTRIBUTES = {"compare_at_price", "gtin"}


def category_leaf(category: str) -> str:
    """The last part of a category path: "Home & Kitchen > Kettles" → "Kettles"."""
    return re.split(r"\s*>\s*", category)[-1]


@dataclass(frozen=True)
class ProductView:
    id: int
    sku: str
    title: str
    description: str
    category: str
    brand: str | None
    price: float
    currency: str
    attributes: dict[str, Any]
    tags: tuple[str, ...]
    rating: float | None
    rating_count: int | None
    stock: int
    image_url: str | None
    url: str | None = None
    group_key: str | None = None  # variants of one model share it (see catalog.formats)

    @property
    def category_leaf(self) -> str:
        return category_leaf(self.category)

    def attribute_text(self) -> str:
        parts = []
        for key, value in sorted(self.attributes.items()):
            if key in UNSEARCHED_ATTRIBUTES:
                continue
            values = value if isinstance(value, list) else [value]
            parts.append(f"{key.replace('_', ' ')} " + ", ".join(str(v) for v in values))
        return "; ".join(parts)

    def lexical_fields(self) -> dict[str, str]:
        return {"title": self.title, "brand": self.brand or "", "category": self.category.replace(">", " "),
                "tags": " ".join(self.tags), "attributes": self.attribute_text(), "description": self.description}

    def embedding_text(self) -> str:
        opening = " ".join(self.description.split()[:DESCRIPTION_WORDS_FOR_EMBEDDING])
        head = " ".join(p for p in (self.title, self.brand or "", self.category_leaf) if p)
        return f"{head}. {self.attribute_text()}. {opening}"

    @cached_property
    def fingerprint(self) -> str:
        """Changes exactly when what the indexes hold for this product changes (computed once: both
        indexes compare it on every sync)."""
        text = self.embedding_text() + "\x00" + "\x00".join(self.lexical_fields().values())
        return hashlib.sha1(text.encode()).hexdigest()

    def as_result(self, score: float) -> dict[str, Any]:
        return {"sku": self.sku, "title": self.title, "price": self.price, "currency": self.currency,
                "score": round(score, 6), "brand": self.brand, "category": self.category,
                "rating": self.rating, "stock": self.stock, "image_url": self.image_url,
                "url": self.url}


def view_of(product: Any) -> ProductView:
    return ProductView(
        id=product.id, sku=product.sku, title=product.title, description=product.description,
        category=product.category, brand=product.brand, price=float(product.price),
        currency=product.currency, attributes=dict(product.attributes or {}), tags=tuple(product.tags or ()),
        rating=product.rating, rating_count=product.rating_count, stock=product.stock,
        image_url=product.image_url, url=product.url, group_key=product.group_key,
    )
