"""Run by tests/test_rasa_project.py with .venv-rasa's Python: Aisle's tracker store, as endpoints.yml
configures it, writes exactly the rows Rasa's stock SQLTrackerStore writes and reads back the same trackers.

    .venv-rasa/bin/python -m tests.check_rasa_tracker_store SCRATCH_FOLDER
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.utils.endpoints import read_endpoint_config

from aisle.rasa_cli import rasa_environment
from aisle.rasa_tracker_store import AisleSQLTrackerStore

REPO_ROOT = Path(__file__).resolve().parent.parent


START = time.time()  # the first action_listen of a new tracker is stamped now; the rest follow it


def turn(text: str, intent: str, offset: float) -> list:
    at = START + offset
    return [UserUttered(text, {"name": intent, "confidence": 0.9}, timestamp=at),
            SlotSet("product_query", text, timestamp=at),
            ActionExecuted("action_search_products", timestamp=at + 0.1),
            BotUttered(f"results for {text}", timestamp=at + 0.2),
            ActionExecuted("action_listen", timestamp=at + 0.3)]


async def conversation(store, sender: str) -> list[dict]:
    """Two turns, a second session, a turn in it, and a tracker from elsewhere (not loaded by the store)."""
    def add(tracker, events: list) -> None:
        tracker.update_with_events(events, store.domain, override_timestamp=False)

    tracker = await store.get_or_create_tracker(sender)
    add(tracker, turn("headphones", "search_product", 100.0))
    await store.save(tracker)
    tracker = await store.retrieve(sender)
    add(tracker, turn("cheaper", "refine_search", 200.0))
    await store.save(tracker)
    await store.save(tracker)  # saved twice in one turn: nothing written twice
    tracker = await store.retrieve(sender)
    add(tracker, [ActionExecuted("action_session_start", timestamp=START + 300.0),
                  SessionStarted(timestamp=START + 300.1),
                  ActionExecuted("action_listen", timestamp=START + 300.2)])
    await store.save(tracker)
    tracker = await store.retrieve(sender)
    add(tracker, turn("a gift", "recommend", 400.0))
    await store.save(tracker)
    copy = (await store.retrieve(sender)).copy()
    add(copy, turn("in black", "refine_search", 500.0))
    await store.save(copy)
    full = await store.retrieve_full_tracker(sender)
    return [untimed(e.as_dict()) for e in full.events]


def untimed(event: dict) -> dict:
    """The two stores' first events (a new tracker's action_listen) are stamped a moment apart."""
    return {k: v for k, v in event.items() if k != "timestamp"}


def rows(url: str) -> list[tuple]:
    with sa.create_engine(url).connect() as conn:
        return [(*r[:-1], untimed(json.loads(r[-1]))) for r in conn.execute(sa.text(
            "SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id"))]


async def main(scratch: Path) -> None:
    domain = Domain.load(str(REPO_ROOT / "domain.yml"))
    ours_url, stock_url = f"sqlite:///{scratch / 'ours.db'}", f"sqlite:///{scratch / 'stock.db'}"
    os.environ.update(AISLE_DATABASE_URL=ours_url, AISLE_DATA_DIR=str(scratch))
    os.environ.update(rasa_environment(dict(os.environ)))  # what endpoints.yml interpolates
    config = read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "tracker_store")
    store = create_tracker_store(config, domain)
    inner = getattr(store, "_tracker_store", store)
    inner = getattr(inner, "_tracker_store", inner)  # AwaitableTrackerStore(FailSafeTrackerStore(...))
    assert isinstance(inner, AisleSQLTrackerStore), f"endpoints.yml gave {type(inner).__name__}"
    stock = SQLTrackerStore(domain, host=stock_url)
    ours_events = await conversation(store, "shopper-1")
    stock_events = await conversation(stock, "shopper-1")
    assert ours_events == stock_events, "the trackers read back differ"
    assert rows(ours_url) == rows(stock_url), "the stored rows differ"
    assert len(rows(ours_url)) == 24, len(rows(ours_url))
    # SQLite: pooled connections set up like the app's (no new connection, no fsync per read or write)
    assert isinstance(inner.engine.pool, sa.pool.QueuePool), type(inner.engine.pool).__name__
    with inner.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
