"""``python -m catalog import FILE``: validate the whole file, then upsert by sku in one transaction."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aisle.models import Product
from catalog.records import ProductRecord

log = logging.getLogger(__name__)
CHUNK = 500  # SQLite allows a limited number of bound parameters per statement


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {self.unchanged} unchanged"


def _differs(product: Product, record: ProductRecord) -> bool:
    return any(getattr(product, k) != v for k, v in record.as_row().items())


def upsert(factory: sessionmaker[Session], records: Iterable[ProductRecord]) -> ImportResult:
    """All or nothing: one transaction for the whole file."""
    records = list(records)
    result = ImportResult()
    with factory.begin() as session:
        for start in range(0, len(records), CHUNK):
            chunk = records[start:start + CHUNK]
            existing = {p.sku: p for p in session.scalars(
                select(Product).where(Product.sku.in_([r.sku for r in chunk])))}
            for record in chunk:
                product = existing.get(record.sku)
                if product is None:
                    session.add(Product(**record.as_row()))
                    result.created.append(record.sku)
                elif _differs(product, record):
                    for key, value in record.as_row().items():
                        setattr(product, key, value)
                    result.updated.append(record.sku)
                else:
                    result.unchanged += 1
    log.info("catalog import: %s", result.summary())
    return result
