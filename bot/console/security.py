"""Who is logged in, what their role allows, CSRF tokens and security headers for console pages."""
from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.orm import Session, sessionmaker

from aisle.models import Role, User
from bot.appkeys import SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DB: web.AppKey[sessionmaker[Session]] = web.AppKey("console_db", sessionmaker)
CONSOLE_PREFIXES = ("/admin", "/agent", "/console", "/login", "/logout")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CONSOLE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
USER_KEY: web.RequestKey["User | None"] = web.RequestKey("console_user", object)
# Before login there is no stored session: the login form's CSRF token is a double-submit cookie, so an
# anonymous visit to /login stores nothing (a stored row per visit let anyone fill the sessions table).
LOGIN_CSRF_COOKIE = "aisle_login_csrf"
LOGIN_CSRF_KEY: web.RequestKey[str] = web.RequestKey("login_csrf", str)
MIN_TOKEN_CHARS = 32


def is_console(path: str) -> bool:
    return path.startswith(CONSOLE_PREFIXES)


async def current_user(request: web.Request) -> User | None:
    if USER_KEY in request:
        return request[USER_KEY]
    session = await get_session(request)
    user = None
    if isinstance(session.get("user_id"), int):
        with request.app[DB]() as s:
            user = s.get(User, session["user_id"])
        if user is not None and not user.active:
            user = None
    request[USER_KEY] = user
    return user


async def username(request: web.Request) -> str:
    """The logged-in user's name, in handlers that ``requires`` a role (so there is one)."""
    user = await current_user(request)
    assert user is not None
    return user.username


async def csrf_token(request: web.Request) -> str:
    """The session's token once logged in; before that, the login cookie's (made on first need)."""
    session = await get_session(request)
    if isinstance(session.get(CSRF_FIELD), str):
        return session[CSRF_FIELD]
    if "user_id" not in session:
        if LOGIN_CSRF_KEY not in request:
            request[LOGIN_CSRF_KEY] = login_cookie_token(request) or secrets.token_urlsafe(32)
        return request[LOGIN_CSRF_KEY]
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def login_cookie_token(request: web.Request) -> str | None:
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    return token if token and len(token) >= MIN_TOKEN_CHARS else None


async def expected_csrf_token(request: web.Request) -> str | None:
    session = await get_session(request)
    if isinstance(session.get(CSRF_FIELD), str):
        return session[CSRF_FIELD]
    return login_cookie_token(request) if "user_id" not in session else None


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Only logged-in users with one of these roles; others go to the login page or get 403."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = await current_user(request)
            if user is None:
                if request.method in SAFE_METHODS:
                    raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs)}")
                raise web.HTTPUnauthorized(text="Log in first.")
            if user.role not in roles:
                return await render(request, "console/forbidden.html", {}, status=403)
            return await handler(request)

        return guarded

    return wrap


async def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    context = {"user": await current_user(request), "csrf_token": await csrf_token(request), "request": request,
               **context}
    return aiohttp_jinja2.render_template(template, request, context, status=status)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing console request carries the session's token (form field or header)."""
    if request.method not in SAFE_METHODS and is_console(request.path):
        expected = await expected_csrf_token(request)
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
            raise web.HTTPForbidden(text="The form's security token is missing or out of date: reload the page "
                                         "and try again.")
    response = await handler(request)
    token = request.get(LOGIN_CSRF_KEY)
    if token and token != request.cookies.get(LOGIN_CSRF_COOKIE):
        secure = request.app[SETTINGS].cookie_secure or request.secure
        response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/login", httponly=True, samesite="Strict", secure=secure)
    if is_console(request.path):
        response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    return response
