"""Engine and session factory for Aisle's SQL database (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from aisle import sqlite_settings
from aisle.config import settings
from aisle.models import Product


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":  # SQLAlchemy's default is psycopg2; .venv has psycopg 3
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args=sqlite_settings.CONNECT_ARGS)
    event.listen(engine, "connect", sqlite_settings.configure_connection)
    return engine


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    """One engine per database URL per process (an explicit cache)."""
    return make_engine(url)


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url or settings().database_url), expire_on_commit=False)


def products_signature(url: str) -> tuple | None:
    """(row count, newest update) of the products table: it changes whenever the catalog does.
    None while the table does not exist yet (before the first migration)."""
    try:
        with engine_for(url).connect() as conn:
            return tuple(conn.execute(select(func.count(Product.id), func.max(Product.updated_at))).one())
    except (OperationalError, ProgrammingError):
        return None


def database_reachable(url: str) -> bool:
    """Whether the database answers a trivial query now (the readiness probes)."""
    try:
        with engine_for(url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False
