"""What the web app's JSON chat endpoints share (``/api/messages``, the Rasa-compatible REST webhook):
the API key check, bounded body reading, the error shape, and the HTTP status of each gateway refusal."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.api_keys import Integration
from bot.appkeys import API_KEYS, SETTINGS
from bot.gateway import max_body_bytes

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


async def authenticated_json(request: web.Request) -> tuple[Integration, dict[str, Any]] | web.Response:
    """The calling integration and the JSON object it sent, or the error to answer: 401 before the body
    is read, 413 for a body longer than the longest valid message needs, 400 for anything but an object."""
    integration = request.app[API_KEYS].authenticate(request.headers.get("Authorization"))
    if integration is None:
        return web.json_response({"error": "a valid API key is required: send 'Authorization: Bearer KEY' "
                                           "(keys are created by an admin in the console)"},
                                 status=401, headers={"WWW-Authenticate": 'Bearer realm="aisle"'})
    max_chars = request.app[SETTINGS].max_message_chars
    raw = await read_limited(request, max_body_bytes(max_chars))
    if raw is None:
        return json_error(413, f"request body too large: a message may have up to {max_chars} characters")
    try:
        body = json.loads(raw)
    except ValueError:
        return json_error(400, "request body must be JSON: {\"sender\": \"...\", \"message\": \"...\"}")
    if not isinstance(body, dict):
        return json_error(400, "request JSON must be an object")
    return integration, body
