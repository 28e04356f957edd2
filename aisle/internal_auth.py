"""The bearer check every internal service (action server, NLU server, Rasa's REST channel) makes.

Stdlib only: the Rasa venv imports this too.
"""
from __future__ import annotations

import hmac


def bearer_headers(secret: str) -> dict[str, str]:
    """What a caller of an internal service sends."""
    return {"Authorization": f"Bearer {secret}"}


def is_authorized(authorization: str | None, secret: str) -> bool:
    """Whether an ``Authorization`` header carries the shared secret, compared in constant time."""
    return hmac.compare_digest((authorization or "").encode(), f"Bearer {secret}".encode())
