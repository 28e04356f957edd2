"""The Rasa server, as the web app sees it: send a shopper message, read what the bot understood and did.

Replies come from Rasa's REST channel (aisle.rasa_channel: it needs the internal secret as a bearer); with several Rasa servers (sharing the tracker store and a
Redis lock store) turns go round-robin, and a server that refuses connections is skipped. What the
NLU understood and which actions ran are read from Rasa's SQL tracker store (its ``events`` table
lives in Aisle's database), newest events only, so a turn costs one indexed query instead of
re-reading the whole tracker over HTTP.
"""
from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from aisle.internal_auth import bearer_headers

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 3
# Rasa's internal actions, not worth showing in a transcript.
QUIET_ACTIONS = {"action_listen", "action_session_start", "action_extract_slots"}

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent), read-only here.
RASA_EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


class RasaUnavailable(RuntimeError):
    """No Rasa server could be reached, one answered with an error, or the answer took too long."""

    def __init__(self, message: str, timed_out: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.refused = refused  # no server took the connection

    @property
    def kind(self) -> str:
        """The error kind the web app's metrics count it under."""
        return "rasa_timeout" if self.timed_out else "rasa_unreachable" if self.refused else "rasa_error"


@dataclass
class RasaAnswer:
    server: str
    replies: list[dict[str, Any]]


@dataclass
class TurnTrace:
    """What one shopper message did inside Rasa."""

    last_event_id: int
    nlu: dict[str, Any] | None = None
    actions: list[str] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    server: str | None = None  # the Rasa server that took the turn

    @property
    def turn(self) -> dict[str, Any]:
        return {"actions": self.actions, "slots": self.slots, "server": self.server}


class RasaClient:
    def __init__(self, base_urls: tuple[str, ...], session: aiohttp.ClientSession, timeout_s: float,
                 secret: str) -> None:
        self.base_urls, self.session = base_urls, session
        self.headers = bearer_headers(secret)  # Rasa's REST channel is Aisle's own: it refuses other callers
        # A bounded wait: a slow NLU, action server or Rasa ends in an honest notice, not a hung chat.
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=CONNECT_TIMEOUT_S)
        self._order = itertools.cycle(range(len(base_urls)))

    async def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> RasaAnswer:
        """Post one shopper message to Rasa's REST channel; returns the bot's messages in order.
        ``metadata`` reaches the actions as the message's metadata (Rasa stores it with the event)."""
        first = next(self._order)
        refused: list[str] = []
        for i in range(len(self.base_urls)):
            base = self.base_urls[(first + i) % len(self.base_urls)]
            try:
                return RasaAnswer(base, await self._post(base, sender, text, metadata))
            except aiohttp.ClientConnectorError as exc:  # never delivered, so another server may take it
                refused.append(f"{base}: {exc.__class__.__name__}")
        raise RasaUnavailable("cannot reach Rasa: " + "; ".join(refused), refused=True)

    async def _post(self, base: str, sender: str, text: str,
                    metadata: dict[str, Any] | None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        try:
            async with self.session.post(f"{base}/webhooks/rest/webhook", json=body, headers=self.headers,
                                         timeout=self.timeout) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa at {base} answered HTTP {resp.status}")
                replies = await resp.json()
        except aiohttp.ClientConnectorError:
            raise
        except TimeoutError as exc:
            raise RasaUnavailable(f"Rasa at {base} did not answer within {self.timeout.total} s",
                                  timed_out=True) from exc
        except aiohttp.ClientError as exc:
            raise RasaUnavailable(f"Rasa at {base} failed: {exc!r}") from exc
        if not isinstance(replies, list):
            raise RasaUnavailable("Rasa answered with something other than a list of messages")
        return replies


def read_turn(engine: Engine, sender: str, after_event_id: int) -> TurnTrace:
    """The NLU result of the newest user event, the actions run and slots set, after ``after_event_id``."""
    query = (select(RASA_EVENTS.c.id, RASA_EVENTS.c.type_name, RASA_EVENTS.c.action_name, RASA_EVENTS.c.data)
             .where(RASA_EVENTS.c.sender_id == sender, RASA_EVENTS.c.id > after_event_id)
             .order_by(RASA_EVENTS.c.id))
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except (OperationalError, ProgrammingError) as exc:  # no tracker table yet: Rasa never ran here
        log.warning("cannot read Rasa's tracker events: %s", exc.__class__.__name__)
        return TurnTrace(after_event_id)
    trace = TurnTrace(rows[-1].id if rows else after_event_id)
    for row in rows:
        data = json.loads(row.data or "{}")
        if row.type_name == "user":
            parse = data.get("parse_data") or {}
            trace.nlu = {
                "intent": (parse.get("intent") or {}).get("name"),
                "confidence": (parse.get("intent") or {}).get("confidence"),
                "intent_ranking": parse.get("intent_ranking") or [],
                "entities": [{k: e.get(k) for k in ("entity", "value", "start", "end")}
                             for e in parse.get("entities") or []],
            }
        elif row.type_name == "action" and row.action_name not in QUIET_ACTIONS:
            trace.actions.append(row.action_name)
        elif row.type_name == "slot":
            trace.slots[data.get("name")] = data.get("value")
    return trace
