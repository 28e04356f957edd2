"""Pictures for the demo catalog: one simple illustration per subcategory and colour, drawn as SVG from
the names alone (seeded by the subcategory, so the same picture every time), labelled as demo art.

The web app serves them at ``/demo-art/SLUG.svg`` (``picture_path``), and generate.py puts those paths
in the demo products' ``image_url``. Fictional products get obviously made-up pictures, never photos.
"""
from __future__ import annotations

import colorsys
import hashlib
import random
import re
from xml.sax.saxutils import escape

from catalog.demo.specs import SUBS

WIDTH, HEIGHT = 400, 300
# The demo catalog's colour names; anything else (floral, multicolour) is drawn in the scene's own hue.
COLOURS = {
    "beige": "#d8c3a5", "black": "#1f2328", "blue": "#2f6fd6", "blush": "#f2b8b5", "brass": "#b5913c",
    "brown": "#7a4b2a", "camel": "#c19a6b", "charcoal": "#3b4045", "clear": "#cfe8f3", "cream": "#f3ead3",
    "green": "#2e8b57", "grey": "#8a9099", "khaki": "#b9ad7f", "navy": "#1f2f5c", "oak": "#b98b58",
    "oatmeal": "#ddd2bf", "olive": "#6b7337", "orange": "#ee7d2b", "pink": "#e879a6", "purple": "#7e57c2",
    "red": "#d23b3b", "rust": "#b7472a", "sage": "#9cae8f", "silver": "#c0c6cc", "tan": "#d2b48c",
    "teal": "#1f8a8a", "terracotta": "#c8643b", "walnut": "#5d4030", "white": "#f8f8f6", "yellow": "#f2c94c",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


LEAVES = {slug(sub.category.split(" > ")[-1]): sub.category.split(" > ")[-1] for sub in SUBS}


def picture_path(category: str, colour: str | None) -> str:
    """The web app's path of the picture for a product of this subcategory and colour."""
    leaf = slug(category.split(" > ")[-1])
    return f"/demo-art/{leaf}-{slug(colour)}.svg" if colour and slug(colour) in COLOURS else f"/demo-art/{leaf}.svg"


def parse(name: str) -> tuple[str, str | None] | None:
    """``kettles-black`` → (Kettles, black); None for a name no demo subcategory has."""
    for leaf, title in LEAVES.items():
        if name == leaf:
            return title, None
        if name.startswith(leaf + "-") and name[len(leaf) + 1:] in COLOURS:
            return title, name[len(leaf) + 1:]
    return None


def _hsl(hue: float, saturation: float, lightness: float) -> str:
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def svg(leaf: str, colour: str | None) -> str:
    """A pastel scene in the subcategory's own hue, a few seeded shapes in the product's colour, the
    subcategory's name and a "demo picture" tag."""
    rng = random.Random(hashlib.sha256(leaf.encode()).digest())
    hue = rng.random()
    ink = COLOURS.get(colour or "", _hsl(hue, 0.45, 0.45))
    shapes = []
    for _ in range(3):
        x, y = rng.randint(90, 310), rng.randint(70, 190)
        size = rng.randint(36, 80)
        if rng.random() < 0.5:
            shapes.append(f'<circle cx="{x}" cy="{y}" r="{size // 2}"/>')
        else:
            shapes.append(f'<rect x="{x - size // 2}" y="{y - size // 2}" width="{size}" height="{size}" '
                          f'rx="{rng.randint(4, 18)}" transform="rotate({rng.randint(-20, 20)} {x} {y})"/>')
    label = escape(leaf)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="Demo picture: {label}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{_hsl(hue, 0.55, 0.92)}"/>'
        f'<circle cx="{WIDTH // 2}" cy="{HEIGHT // 2 - 20}" r="110" fill="{_hsl(hue, 0.5, 0.85)}"/>'
        f'<g fill="{ink}" stroke="#1f2328" stroke-opacity=".25" stroke-width="2">{"".join(shapes)}</g>'
        f'<text x="{WIDTH // 2}" y="262" text-anchor="middle" font-family="system-ui, sans-serif" font-size="26" '
        f'font-weight="600" fill="{_hsl(hue, 0.5, 0.25)}">{label}</text>'
        f'<rect x="12" y="12" width="96" height="24" rx="12" fill="#fff" fill-opacity=".85"/>'
        f'<text x="60" y="29" text-anchor="middle" font-family="system-ui, sans-serif" font-size="12" '
        f'fill="#4b5563">demo picture</text></svg>'
    )
