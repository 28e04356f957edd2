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
