"""aiohttp-session storage in the database: the cookie carries only a random key, so logout (or an
admin disabling the account) ends the session everywhere, and every app instance shares sessions."""
from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta, timezone

from aiohttp import web
from aiohttp_session import AbstractStorage, Session
from sqlalchemy import delete
from sqlalchemy.orm import Session as DbSession, sessionmaker

from aisle.models import ConsoleSession
from aisle.models import as_utc

COOKIE = "aisle_console"
MAX_AGE_S = 12 * 3600


class SqlSessionStorage(AbstractStorage):
    """``secure``: the cookie is always ``Secure`` (AISLE_COOKIE_SECURE, behind a TLS proxy); a request
    that came over HTTPS gets a ``Secure`` cookie anyway."""

    def __init__(self, sessions: sessionmaker[DbSession], *, secure: bool = False) -> None:
        super().__init__(cookie_name=COOKIE, max_age=MAX_AGE_S, httponly=True, samesite="Strict", secure=secure,
                         encoder=json.dumps, decoder=json.loads)
        self._sessions = sessions

    async def load_session(self, request: web.Request) -> Session:
        key = self.load_cookie(request)
        if key:
            with self._sessions() as s:
                row = s.get(ConsoleSession, key)
                if row is not None and as_utc(row.expires_at) > datetime.now(timezone.utc):
                    return Session(key, data=row.data, new=False, max_age=self.max_age)
        return Session(None, data=None, new=True, max_age=self.max_age)

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        key = session.identity
        with self._sessions() as s:
            if session.empty:
                if key:
                    s.execute(delete(ConsoleSession).where(ConsoleSession.key == key))
                    s.commit()
                self.save_cookie(response, "", max_age=session.max_age)
                return
            if key is None:
                key = secrets.token_urlsafe(32)
            now = datetime.now(timezone.utc)
            s.merge(ConsoleSession(key=key, data=dict(self._get_session_data(session)),
                                   expires_at=now + timedelta(seconds=self.max_age or MAX_AGE_S)))
            s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            s.commit()
        self.save_request_cookie(request, response, key, max_age=session.max_age)

    def save_request_cookie(self, request: web.Request, response: web.StreamResponse, key: str,
                            max_age: int | None) -> None:
        """aiohttp-session's ``save_cookie``, with ``Secure`` also whenever this request came over HTTPS."""
        params = {**self.cookie_params, "secure": self.cookie_params["secure"] or request.secure}
        if max_age is not None:
            params["max_age"] = max_age
            params["expires"] = time.strftime("%a, %d-%b-%Y %T GMT", time.gmtime(time.time() + max_age))
        response.set_cookie(self.cookie_name, key, **params)
