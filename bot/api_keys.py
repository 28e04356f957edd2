"""Chat API keys: one per integration (another channel calling ``POST /api/messages``).

Admins create and revoke keys in the console; only each key's SHA-256 is stored (the key has 256
random bits, so a plain hash cannot be brute-forced), and the key itself is shown once. Keys listed
in ``AISLE_API_KEYS`` (automation, tests) are accepted too, compared in constant time.

Each integration has its own namespace of conversations: the ``sender`` an integration chooses is
mapped to a conversation id derived from the integration and the sender, so one integration can
never reach another's conversations, nor a widget conversation (those ids are random and the widget
reaches them only with a signed token).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from aisle import audit
from aisle.models import ApiKey, as_utc

KEY_PREFIX = "aisle_"
MAX_NAME_CHARS = 64
# "last used" is for spotting dead keys, not an access log: one write a minute per key is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyError(ValueError):
    pass


@dataclass(frozen=True)
class Integration:
    """Who is calling: ``namespace`` separates its conversations from everyone else's."""

    namespace: str
    name: str

    def conversation_id(self, sender: str) -> str:
        """The conversation behind an integration's sender id ("a-" + 160 bits of SHA-256)."""
        digest = hashlib.sha256(f"{self.namespace}\n{sender}".encode()).digest()[:20]
        return "a-" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def env_integration(key: str, position: int = 0) -> Integration:
    """The integration of a key from AISLE_API_KEYS: named by the key's hash, so its conversations
    stay the same whatever order the keys are listed in."""
    return Integration(namespace="env-" + key_hash(key)[:16], name=f"AISLE_API_KEYS #{position + 1}")


def bearer(authorization: str | None) -> str | None:
    """The key from an ``Authorization: Bearer KEY`` header."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key and key.isascii() else None


@dataclass
class ApiKeys:
    sessions: sessionmaker[Session]
    env_keys: tuple[str, ...] = ()

    def create(self, name: str, user: str) -> tuple[ApiKey, str]:
        """A new key for an integration; returns the row and the key (the only time it is visible)."""
        name = name.strip()
        if not 0 < len(name) <= MAX_NAME_CHARS or not name.isprintable():
            raise ApiKeyError(f"name the integration in 1-{MAX_NAME_CHARS} printable characters")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKey(name=name, key_hash=key_hash(key), prefix=key[:12], created_by=user)
        with self.sessions() as s:
            s.add(row)
            s.flush()
            audit.record(s, user, "api_key.create", f"api_key:{row.id}", name=name, prefix=row.prefix)
            s.commit()
            s.refresh(row)
        return row, key

    def revoke(self, key_id: int, user: str) -> None:
        with self.sessions() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.revoked_at is not None:
                raise ApiKeyError("no such active key")
            row.revoked_at = datetime.now(timezone.utc)
            audit.record(s, user, "api_key.revoke", f"api_key:{row.id}", name=row.name, prefix=row.prefix)
            s.commit()

    def all(self) -> list[ApiKey]:
        with self.sessions() as s:
            return list(s.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())))

    def authenticate(self, authorization: str | None) -> Integration | None:
        """The integration a request's ``Authorization`` header belongs to; None for no valid key."""
        key = bearer(authorization)
        if not key:
            return None
        digest = key_hash(key)
        # Every configured key is compared (no early exit), so timing says nothing about which matched.
        env_match = [i for i, env_key in enumerate(self.env_keys)
                     if hmac.compare_digest(key_hash(env_key), digest)]
        if env_match:
            return env_integration(key, env_match[0])
        now = datetime.now(timezone.utc)
        with self.sessions() as s:
            row = s.scalars(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))).first()
            if row is None:
                return None
            last = as_utc(row.last_used_at)
            if last is None or now - last >= LAST_USED_RESOLUTION:
                s.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
                s.commit()
            return Integration(namespace=f"key-{row.id}", name=row.name)
