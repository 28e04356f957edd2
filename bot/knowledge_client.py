"""The action server's knowledge-base answers, as the admin console's "try a question" box sees them,
and the existing entries closest to one an admin is writing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from aisle.internal_auth import bearer_headers

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


class KnowledgeUnavailable(RuntimeError):
    pass


@dataclass
class KnowledgeClient:
    action_url: str  # the action server's webhook URL, as Rasa is configured with it
    session: aiohttp.ClientSession
    secret: str  # AISLE_INTERNAL_SECRET: the action server refuses calls without it

    async def answer(self, question: str) -> dict[str, Any]:
        return await self._post("/faq/answer", {"text": question})

    async def similar(self, texts: list[str], exclude_id: int | None = None) -> dict[str, Any]:
        """``{"threshold", "matches": [{"entry_id", "question", "answer", "score"}]}``, closest first."""
        return await self._post("/faq/similar", {"texts": texts, "exclude_id": exclude_id})

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = self.action_url.rsplit("/webhook", 1)[0] + path
        try:
            async with self.session.post(url, json=payload, headers=bearer_headers(self.secret),
                                         timeout=TIMEOUT) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200:
                    raise KnowledgeUnavailable(str(body.get("error") if isinstance(body, dict) else resp.status))
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise KnowledgeUnavailable(f"the action server at {url} did not answer ({exc!r})") from exc
