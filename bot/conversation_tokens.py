"""Widget conversation tokens: the only way a browser gets back to a conversation.

The server issues ``<conversation id>.<HMAC-SHA256 of it>`` in the welcome frame; a hello with a
token that does not verify starts a fresh conversation, exactly as a hello without one does, so a
guessed or forged id (or one seen through the chat API) reveals nothing and reaches nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

PURPOSE = b"aisle widget conversation\n"  # a signature made for anything else never verifies here
MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class ConversationTokens:
    key: bytes

    def _signature(self, conversation_id: str) -> str:
        mac = hmac.new(self.key, PURPOSE + conversation_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, conversation_id: str) -> str:
        return f"{conversation_id}.{self._signature(conversation_id)}"

    def verify(self, token: object) -> str | None:
        """The conversation id a token was issued for; None for anything else."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        conversation_id, sep, signature = token.rpartition(".")
        if not sep or not conversation_id:
            return None
        return conversation_id if hmac.compare_digest(signature, self._signature(conversation_id)) else None
