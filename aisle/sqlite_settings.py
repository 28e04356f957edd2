"""How every Aisle process opens the SQLite database file (stdlib only: the Rasa tracker store, which runs
in .venv-rasa with SQLAlchemy 1.4, applies the same settings as the app's engine in aisle.db)."""
from __future__ import annotations

from typing import Any

BUSY_TIMEOUT_MS = 10_000
CONNECT_ARGS: dict[str, Any] = {"timeout": BUSY_TIMEOUT_MS / 1000}


def configure_connection(dbapi_conn: Any, _record: Any = None) -> None:
    """SQLAlchemy "connect" listener."""
    cursor = dbapi_conn.cursor()
    # WAL lets the Rasa tracker store, the action server and the web app share one file.
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: no fsync per commit; a killed process loses nothing, only a power cut could lose
    # the last moments. The default FULL costs a disk flush on every chat message.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()
