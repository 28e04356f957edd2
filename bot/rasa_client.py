"""The Rasa server, as the web app sees it: send a shopper message, read the replies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=30, connect=3)


class RasaUnavailable(RuntimeError):
    """The Rasa server could not be reached or answered with an error."""


@dataclass
class RasaClient:
    base_url: str
    session: aiohttp.ClientSession

    async def send(self, sender: str, text: str) -> list[dict[str, Any]]:
        """Post one shopper message to Rasa's REST channel; returns the bot's messages in order."""
        url = f"{self.base_url}/webhooks/rest/webhook"
        try:
            async with self.session.post(
                url, json={"sender": sender, "message": text}, timeout=TIMEOUT
            ) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status}")
                replies = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"cannot reach Rasa at {self.base_url}: {exc}") from exc
        if not isinstance(replies, list):
            raise RasaUnavailable("Rasa answered with something other than a list of messages")
        return replies
