"""What app instances must share: one turn at a time per conversation, live fan-out, rate-limit counters.

One instance (``make run``) keeps all of it in process. With ``AISLE_REDIS_URL`` several instances behind
a load balancer share it through Redis: a conversation's messages may arrive at any instance, and a
socket on one instance sees what another instance wrote (handoff notices, agent messages).
"""
from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from bot.hub import Hub

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "aisle:hub:"
LOCK_PREFIX = "aisle:turn:"
RECONNECT_S = 1.0
MAX_OUTBOX = 10_000  # live events waiting for Redis; beyond this (Redis down for long) the oldest go


class TurnBusy(RuntimeError):
    """The conversation's previous turn did not finish in time (another instance still holds it)."""


def limits_storage_uri(redis_url: str | None) -> str:
    """Storage for the `limits` counters: shared through Redis in production mode."""
    return redis_url or "memory://"


class TurnLocks:
    """Per-conversation turn locks: an asyncio lock keeps arrival order within this instance; with Redis,
    a lock that expires by itself (a crashed holder cannot block a conversation) spans instances."""

    def __init__(self, redis: aioredis.Redis | None, hold_s: float) -> None:
        self._redis, self._hold_s = redis, hold_s
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        local = self._local.get(conversation_id)
        if local is None:
            local = self._local[conversation_id] = asyncio.Lock()
        async with local:
            if self._redis is None:
                yield
                return
            lock = self._redis.lock(LOCK_PREFIX + conversation_id, timeout=self._hold_s,
                                    blocking_timeout=self._hold_s, sleep=0.01)
            if not await lock.acquire():
                raise TurnBusy(f"conversation {conversation_id} is busy on another instance")
            try:
                yield
            finally:
                try:
                    await lock.release()
                except LockError:  # it expired while we held it: the turn took longer than hold_s
                    log.warning("turn lock of %s expired before release", conversation_id)


class RedisHub(Hub):
    """The in-process hub, fed through Redis pub/sub so every instance's sockets see every event.

    ``publish`` stays synchronous (it is called from database code): events queue up in order and one
    task sends them; one listener task hands what arrives to this instance's local subscribers.
    """

    def __init__(self, redis: aioredis.Redis) -> None:
        super().__init__()
        self._redis = redis
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        # Live events only: everything is in the database, and a client that reconnects reloads it.
        if self._outbox.qsize() >= MAX_OUTBOX:
            self._outbox.get_nowait()
            log.warning("Redis unreachable for long: dropping the oldest live event")
        self._outbox.put_nowait((topic, event))

    async def start(self) -> None:
        ready = asyncio.Event()
        self._tasks = [asyncio.create_task(self._listen(ready)), asyncio.create_task(self._send())]
        await asyncio.wait_for(ready.wait(), timeout=10)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send(self) -> None:
        while True:
            topic, event = await self._outbox.get()
            while True:
                try:
                    await self._redis.publish(CHANNEL_PREFIX + topic, json.dumps(event))
                    break
                except RedisError as exc:  # keep order: retry this event before the next one
                    log.warning("cannot publish to Redis (%s); retrying", exc)
                    await asyncio.sleep(RECONNECT_S)

    async def _listen(self, ready: asyncio.Event) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                    ready.set()
                    async for message in pubsub.listen():
                        if message["type"] != "pmessage":
                            continue
                        channel = message["channel"]
                        topic = (channel.decode() if isinstance(channel, bytes) else channel)[len(CHANNEL_PREFIX):]
                        super().publish(topic, json.loads(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning("Redis subscription lost (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_S)
