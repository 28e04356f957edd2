"""Expand specs.py into the demo catalog, ``catalog/demo/products.jsonl`` (seeded, reproducible):

    .venv/bin/python -m catalog.demo.generate

Each model becomes one product per colour (near-duplicates that differ in one attribute); single-colour
subcategories with sizes get one product per size instead. Prices, ratings and stock vary per variant,
and about one product in twelve is out of stock. Variants of a model share a ``group_key``; each product
has a generated demo picture (catalog/demo/art.py) and a page on the demo store. Fictional demo data.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any, Iterator

from catalog.demo.art import picture_path
from catalog.demo.specs import SUBS, M, Sub

OUT = Path(__file__).resolve().parent / "products.jsonl"
SEED = 2026
MIN_WORDS = 30
FEATURES = ("It comes with {a}, {b} and {c}.", "Highlights include {a}, {b} and {c}.",
            "You get {a}, {b} and {c}.", "Details that matter here: {a}, {b} and {c}.",
            "Look for {a}, {b} and {c}.", "Among its strengths are {a}, {b} and {c}.")
VARIANT = ("This listing is the {v} version.", "Shown here in {v}.", "The {v} option is the one on this page.",
           "This one comes in {v}.", "You are looking at the {v} edition.")
USE = ("Made for {u}.", "A good pick for {u}.", "Ideal for {u}.", "Best suited to {u}.",
       "Customers buy it for {u}.", "Designed with {u} in mind.")
SIZES = ("Sizes in stock: {s}.", "Available in sizes {s}.", "Choose from sizes {s}.")


def code(text: str, n: int = 3) -> str:
    """Initials first, then letters of the last word: "Coffee Makers" -> "CMA", "Kettles" -> "KET"."""
    words = re.findall(r"[A-Za-z]+", text.upper())
    initials = "".join(w[0] for w in words)
    return (initials + words[-1][1:])[:n].ljust(n, "X") if words else "X" * n


def describe(rng: random.Random, sub: Sub, model: M, variant: str, kind: str) -> str:
    a, b, c = model.features
    parts = [model.hook, rng.choice(FEATURES).format(a=a, b=b, c=c),
             rng.choice(VARIANT).format(v=f"size {variant}" if kind == "size" else variant)]
    if sub.sizes and kind == "color":
        parts.append(rng.choice(SIZES).format(s=", ".join(sub.sizes)))
    parts += [rng.choice(USE).format(u=model.use), rng.choice(sub.care) if sub.care else ""]
    return " ".join(p for p in parts if p)


def products() -> Iterator[dict[str, Any]]:
    rng = random.Random(SEED)
    for sub in SUBS:
        leaf = sub.category.split(" > ")[-1]
        by_size = len(sub.colors) == 1 and bool(sub.sizes)
        variants = [("size", s) for s in sub.sizes] if by_size else [("color", c) for c in sub.colors]
        for m_index, model in enumerate(sub.models, start=1):
            popularity = rng.uniform(0.2, 1.0)
            base_rating = rng.uniform(3.4, 4.9)
            for v_index, (kind, value) in enumerate(variants, start=1):
                attributes: dict[str, Any] = dict(model.attrs)
                if kind == "color":
                    attributes["color"] = value
                    if sub.sizes:
                        attributes["size"] = list(sub.sizes)
                else:
                    attributes["color"] = sub.colors[0]
                    attributes["size"] = value
                if sub.material and "material" not in attributes:
                    attributes["material"] = sub.material
                price = model.price * (1 + 0.35 * (v_index - 1) / max(1, len(variants) - 1)) if kind == "size" \
                    else model.price * rng.choice((1.0, 1.0, 1.0, 1.05, 0.95))
                title_variant = value.title() if kind == "color" else f"Size {value.title()}"
                noun_word = sub.noun.split()[-1].lower().rstrip("s") if sub.noun else ""
                name = model.model if noun_word in model.model.lower() else f"{model.model} {sub.noun}"
                model_key = f"{code(sub.category.split(' > ')[0], 2)}{code(leaf)}-{code(model.brand, 2)}{m_index}"
                sku = f"{model_key}{v_index:02d}"
                yield {
                    "sku": sku,
                    "title": f"{model.brand} {name}, {title_variant}",
                    "description": describe(rng, sub, model, value, kind),
                    "category": sub.category,
                    "brand": model.brand,
                    "price": round(price, 0) - 0.01 if price >= 20 else round(price, 2),
                    "currency": "USD",
                    "attributes": attributes,
                    "tags": sorted({leaf.lower(), sub.category.split(" > ")[0].lower()}),
                    "rating": round(min(5.0, max(1.0, base_rating + rng.uniform(-0.15, 0.15))), 1),
                    "rating_count": int(popularity * rng.randint(20, 2500)),
                    "stock": 0 if rng.random() < 1 / 12 else rng.randint(1, 120),
                    "image_url": picture_path(sub.category, attributes["color"]),
                    "url": f"/products/{sku}",  # the demo store's product page
                    "group_key": model_key,
                }


def main() -> None:
    rows = list(products())
    skus = [r["sku"] for r in rows]
    assert len(skus) == len(set(skus)), "duplicate sku"
    short = [r["sku"] for r in rows if len(r["description"].split()) < MIN_WORDS]
    assert not short, f"descriptions under {MIN_WORDS} words: {short}"
    descriptions = [r["description"] for r in rows]
    assert len(descriptions) == len(set(descriptions)), "two products share a description"
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} products in {len({r['category'] for r in rows})} subcategories to {OUT}")


if __name__ == "__main__":
    main()
