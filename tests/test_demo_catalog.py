"""The shipped demo catalog: valid, big and varied enough, and exactly what the generator makes."""
from __future__ import annotations

import json
from collections import defaultdict

from catalog.demo.generate import OUT, products
from catalog.records import validate_file


def test_demo_catalog_is_valid_and_varied():
    report = validate_file(OUT)
    assert report.ok, report.errors[:5]
    rows = report.records
    assert len(rows) >= 600
    subcategories: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        top, leaf = r.category.split(" > ")
        subcategories[top].add(leaf)
    assert len(subcategories) >= 14
    assert all(2 <= len(leaves) <= 4 for leaves in subcategories.values()), subcategories
    assert all(len(r.description.split()) >= 30 for r in rows)
    assert len({r.description for r in rows}) == len(rows)
    assert 0 < sum(r.stock == 0 for r in rows) < len(rows) // 5
    assert all(r.rating is not None and r.attributes.get("color") for r in rows)


def test_committed_file_matches_the_generator():
    expected = [json.dumps(p, ensure_ascii=False) for p in products()]
    assert OUT.read_text(encoding="utf-8").splitlines() == expected


def test_every_demo_product_has_a_picture_a_page_and_its_model():
    from catalog.demo import art

    rows = validate_file(OUT).records
    assert all(r.image_url and r.url == f"/products/{r.sku}" for r in rows)
    names = {r.image_url.removeprefix("/demo-art/").removesuffix(".svg") for r in rows}
    assert all(art.parse(name) is not None for name in names)  # every picture is one the web app serves
    models = defaultdict(set)
    for r in rows:
        models[r.group_key].add(r.title.split(",")[0])
    assert all(len(titles) == 1 for titles in models.values())  # a group is one model's colours or sizes
    assert sum(len(titles) for titles in models.values()) < len(rows) // 2  # most models have variants


def test_demo_pictures_are_deterministic_labelled_svg():
    from xml.etree import ElementTree

    from catalog.demo import art

    picture = art.svg("Kettles", "black")
    assert picture == art.svg("Kettles", "black") != art.svg("Kettles", "red") != art.svg("Rugs", "red")
    root = ElementTree.fromstring(picture)
    assert root.get("aria-label") == "Demo picture: Kettles" and "demo picture" in picture
    assert art.parse("kettles-black") == ("Kettles", "black") and art.parse("kettles") == ("Kettles", None)
    assert art.parse("kettles-<script>") is None and art.parse("../etc/passwd") is None
