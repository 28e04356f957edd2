"""What the web app's JSON chat endpoints share (``/api/messages``, the Rasa-compatible REST webhook):
bounded body reading, the error shape, and the HTTP status of each gateway refusal."""
from __future__ import annotations

from aiohttp import web

ERROR_STATUS = {"too_long": 413, "rate_limited": 429}


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` (read no further than that)."""
    if (request.content_length or 0) > limit:
        return None
    raw = bytearray()
    async for chunk in request.content.iter_any():  # also bounds a chunked body without a Content-Length
        raw += chunk
        if len(raw) > limit:
            return None
    return bytes(raw)
