"""The catalog importer: whole-file validation with line numbers, one-transaction upsert by sku."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from aisle import migrate
from aisle.config import Settings
from aisle.db import session_factory
from aisle.models import Product
from catalog.__main__ import main as catalog_cli
from catalog.importer import upsert
from catalog.records import ImportFileError, validate_file

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_small.jsonl"
GOOD = {"sku": "A-1", "title": "Mug", "description": "A mug.", "category": "Kitchen > Mugs", "price": 9.5}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AISLE_DATA_DIR", str(tmp_path))
    from aisle import config

    config.settings.cache_clear()
    settings = Settings.from_env()
    migrate.upgrade(settings.database_url)
    yield settings
    config.settings.cache_clear()


def count(settings: Settings) -> int:
    with session_factory(settings.database_url)() as s:
        return s.scalar(select(func.count(Product.id)))


def jsonl(tmp_path: Path, rows: list, name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_good_file_imports_and_keeps_unknown_fields_as_attributes(tmp_path):
    report = validate_file(jsonl(tmp_path, [{**GOOD, "warranty": "2 years", "attributes": {"color": "red"}}]))
    assert report.ok
    record = report.records[0]
    assert record.attributes == {"warranty": "2 years", "color": "red"}
    assert (record.currency, record.stock, str(record.price)) == ("USD", 0, "9.5")


@pytest.mark.parametrize("row, message", [
    ({k: v for k, v in GOOD.items() if k != "title"}, "title is required"),
    ({**GOOD, "price": -1}, "price must be ≥ 0"),
    ({**GOOD, "price": "cheap"}, "price must be a number"),
    ({**GOOD, "rating": 7}, "rating must be between 0 and 5"),
    ({**GOOD, "stock": 2.5}, "stock must be a whole number"),
    ({**GOOD, "currency": "dollars"}, "currency must be a 3-letter ISO 4217 code"),
    ({**GOOD, "tags": "a,b"}, "tags must be a list of strings"),
    ({**GOOD, "attributes": [1, 2]}, "attributes must be an object"),
    ('{"sku": "broken", ', "not valid JSON"),
    ("[1, 2, 3]", "a line must be a JSON object"),
])
def test_every_bad_row_is_reported_with_its_line(tmp_path, row, message):
    report = validate_file(jsonl(tmp_path, [GOOD | {"sku": "OK-1"}, row]))
    assert not report.ok
    assert [e.line for e in report.errors] == [2]
    assert message in report.errors[0].message


def test_duplicate_skus_are_an_error(tmp_path):
    report = validate_file(jsonl(tmp_path, [GOOD, GOOD]))
    assert [str(e) for e in report.errors] == ["line 2: sku 'A-1' already appears on line 1"]


def test_csv_quirks(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        'sku,title,description,category,price,tags,attributes\n'
        'C-1,"Mug, large","Holds ""a lot"" of tea,\nand it is dishwasher safe",Kitchen > Mugs,12,tea|gift,"{""color"": ""blue""}"\n'
        'C-2,Crème brûlée torch,Caramelises sugar — fast.,Kitchen > Tools,25.00,,\n',
        encoding="utf-8")
    report = validate_file(path)
    assert report.ok, report.errors
    mug, torch = report.records
    assert mug.title == "Mug, large" and '"a lot"' in mug.description and "\n" in mug.description
    assert mug.tags == ["tea", "gift"] and mug.attributes == {"color": "blue"}
    assert torch.title == "Crème brûlée torch"


def test_csv_bad_rows_and_header(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("sku,title,description,category,price\nX-1,T,D,C,1\nX-2,T,D,C,abc\n", encoding="utf-8")
    assert [e.line for e in validate_file(path).errors] == [3]
    path.write_text("sku,title\nX,Y\n", encoding="utf-8")
    assert "lacks required column(s): description, category, price" in str(validate_file(path).errors[0])


def test_unreadable_files_fail_clearly(tmp_path):
    with pytest.raises(ImportFileError, match="no such file"):
        validate_file(tmp_path / "missing.jsonl")
    (tmp_path / "x.xml").write_text("<a/>")
    with pytest.raises(ImportFileError, match="unknown format"):
        validate_file(tmp_path / "x.xml")
    (tmp_path / "latin1.csv").write_bytes("sku,title\ncaf\xe9,x\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match="not UTF-8"):
        validate_file(tmp_path / "latin1.csv")


def test_reimport_is_idempotent_and_updates_by_sku(store, tmp_path):
    records = validate_file(FIXTURE).records
    factory = session_factory(store.database_url)
    first = upsert(factory, records)
    assert (len(first.created), len(first.updated)) == (15, 0)
    again = upsert(factory, records)
    assert (len(again.created), len(again.updated), again.unchanged) == (0, 0, 15)
    changed = validate_file(jsonl(tmp_path, [{**json.loads(FIXTURE.read_text().splitlines()[0]), "price": 29.99}])).records
    result = upsert(factory, changed)
    assert result.updated == ["KET-100"] and count(store) == 15


def test_cli_writes_nothing_when_any_row_is_bad(store, tmp_path, capsys):
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    rows[7]["price"] = "free"
    path = jsonl(tmp_path, rows)
    assert catalog_cli(["import", str(path), "--no-index"]) == 2
    assert "line 8: price must be a number" in capsys.readouterr().err
    assert count(store) == 0


def test_failed_transaction_leaves_the_catalog_as_it_was(store):
    records = validate_file(FIXTURE).records
    factory = session_factory(store.database_url)
    upsert(factory, records[:5])
    poisoned = list(records[5:]) + [records[5]]  # the same new sku twice: a unique violation at commit
    with pytest.raises(IntegrityError):
        upsert(factory, poisoned)
    assert count(store) == 5
