"""Checks every service Aisle runs and reports them together: name, up or down, and why, never where
(the internal addresses are nobody's business on a public page)."""
from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass

import aiohttp

from aisle.config import Settings

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=3)


@dataclass
class ServiceHealth:
    name: str
    ok: bool
    detail: str


def service_urls(settings: Settings) -> dict[str, str]:
    action_base = settings.action_url.rsplit("/webhook", 1)[0]
    rasa = {f"rasa-{i + 1}" if i else "rasa": f"{url}/" for i, url in enumerate(settings.rasa_urls)}
    return {**rasa, "actions": f"{action_base}/health", "nlu": f"{settings.nlu_url}/health"}


async def probe(session: aiohttp.ClientSession, name: str, url: str) -> ServiceHealth:
    try:
        async with session.get(url, timeout=PROBE_TIMEOUT) as resp:
            return ServiceHealth(name, resp.status == 200, f"HTTP {resp.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return ServiceHealth(name, False, f"unreachable: {exc.__class__.__name__}")


async def check_all(session: aiohttp.ClientSession, settings: Settings) -> list[dict[str, object]]:
    results = await asyncio.gather(
        *(probe(session, name, url) for name, url in service_urls(settings).items())
    )
    return [asdict(r) for r in results]
