"""Live fan-out of conversation events to every open socket (shopper tabs, agent consoles).

In-process: one app instance. Topics are conversation ids, plus ``QUEUE_TOPIC`` for handoff queue
changes that agent consoles watch.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)
QUEUE_TOPIC = "handoff-queue"
# A subscriber that falls this far behind is dropped rather than growing memory without bound;
# its socket closes and the client reconnects, reloading the history from the database.
MAX_PENDING = 500


class SubscriberTooSlow(RuntimeError):
    pass


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)

    async def start(self) -> None:
        """Nothing to connect in process (the Redis-fed hub connects here)."""

    async def close(self) -> None:
        """Nothing to disconnect in process."""

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            if queue.qsize() >= MAX_PENDING:
                log.warning("dropping a subscriber of %s: %d events behind", topic, queue.qsize())
                self._subscribers[topic].discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator["Subscription"]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._subscribers[topic].add(queue)
        try:
            yield Subscription(queue)
        finally:
            self._subscribers[topic].discard(queue)
            if not self._subscribers[topic]:
                del self._subscribers[topic]


class Subscription:
    def __init__(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._queue = queue

    async def next(self) -> dict[str, Any]:
        event = await self._queue.get()
        if event is None:
            raise SubscriberTooSlow("subscriber fell behind and was dropped")
        return event
