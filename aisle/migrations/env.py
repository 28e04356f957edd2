"""Alembic environment: runs Aisle's migrations against the URL given by aisle.migrate."""
from __future__ import annotations

from alembic import context

from aisle.db import engine_for
from aisle.models import Base

# Rasa's tracker store keeps its own table in the same database; it is not ours to migrate.
FOREIGN_TABLES = {"events"}


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    with engine_for(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            render_as_batch=True,  # SQLite can only ALTER tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
