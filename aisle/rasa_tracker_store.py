"""Rasa's SQL tracker store without its two per-turn overheads (runs in .venv-rasa; endpoints.yml names it).

Same table, same rows, same conversation-session rules as Rasa's ``SQLTrackerStore``; the web app reads that
table for transcripts. Profiling Aisle's Rasa server under load (py-spy) put about half its CPU in the
tracker store: every ``save`` counted the conversation's stored events with a query to find the new ones,
every ``retrieve`` built its ORM query anew and an ORM object per row to read one column of it, and every
``save`` added one ORM object per new event. On SQLite, Rasa's engine (SQLAlchemy 1.4's default NullPool)
also opened a new connection, with fsync on every commit, for each read and write: here connections are
pooled and set up like the app's (``aisle.sqlite_settings``).
"""
from __future__ import annotations

import itertools
import json
import weakref
from typing import Any, Iterator

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from aisle import sqlite_settings


class AisleSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self.engine.dispose()
            self.engine = sqlite_engine(self.engine.url)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        # Events of a live tracker object already in the table (it was loaded or saved here), by id():
        # a turn's tracker is loaded, changed and saved under Rasa's per-conversation lock, so its next
        # save needs to write only what came after. Trackers are unhashable; finalize drops the entry.
        self._stored: dict[int, int] = {}
        self._event_data = event_data_queries(self.SQLEvent.__table__)

    def _remember(self, tracker: DialogueStateTracker) -> None:
        key = id(tracker)
        if key not in self._stored:
            weakref.finalize(tracker, self._stored.pop, key, None)
        self._stored[key] = len(tracker.events)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        tracker = await super().retrieve(sender_id)
        if tracker is not None:  # the events of the latest session: what the stock save would count
            self._remember(tracker)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save, with the new events written by one multi-row INSERT instead of one ORM object
        each (the unit of work was the largest part of a save)."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            new = self._additional_events(session, tracker)
            rows = [event_row(tracker.sender_id, event) for event in new]
            if rows:
                session.execute(sa.insert(self.SQLEvent.__table__), rows)
                session.commit()
        self._remember(tracker)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        stored = self._stored.get(id(tracker))
        if stored is None:  # a tracker from elsewhere: count its stored events as Rasa does
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def _retrieve(self, sender_id: str,
                        fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            query = self._event_data[fetch_events_from_all_sessions]
            events = [json.loads(data) for (data,) in session.execute(query, {"sender_id": sender_id})]
        if not self.domain or not events:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)


def event_data_queries(events: sa.Table) -> dict[bool, Any]:
    """Rasa's ``_event_query`` (by all sessions or not) as statements built once, reading only ``data``."""
    sender = events.c.sender_id == sa.bindparam("sender_id")
    session_start = (sa.select(sa.func.max(events.c.timestamp))
                     .where(sender, events.c.type_name == SessionStarted.type_name).scalar_subquery())
    all_sessions = sa.select(events.c.data).where(sender).order_by(events.c.id)
    latest = all_sessions.where(sa.or_(events.c.timestamp >= session_start, session_start.is_(None)))
    return {True: all_sessions, False: latest}


def sqlite_engine(url: Any) -> sa.engine.Engine:
    """A pooled engine: Rasa calls the store from its event loop thread, one session at a time, so a
    connection may be reused by whichever thread runs the next one."""
    engine = sa.create_engine(url, poolclass=sa.pool.QueuePool,
                              connect_args={**sqlite_settings.CONNECT_ARGS, "check_same_thread": False})
    sa.event.listen(engine, "connect", sqlite_settings.configure_connection)
    return engine


def event_row(sender_id: str, event: Event) -> dict[str, Any]:
    """The events table's row for one event, as Rasa's SQLTrackerStore.save writes it."""
    data = event.as_dict()
    return {"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"), "data": json.dumps(data)}
