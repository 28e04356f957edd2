"""Login, logout and the console home page."""
from __future__ import annotations

import logging

from aiohttp import web
from aiohttp_session import get_session, new_session

from aisle import audit
from aisle.models import Role
from bot.appkeys import SETTINGS
from bot.console.accounts import LoginThrottle, authenticate, canonical_username
from bot.console.security import DB, current_user, render, requires
from bot.coordination import limits_storage_uri
from bot.websocket import client_ip

log = logging.getLogger(__name__)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle", LoginThrottle)


def safe_next(target: str | None) -> str:
    """Only same-site paths: no open redirect through ?next=. Browsers drop tabs and newlines from a
    URL ("/\t/evil.example" becomes "//evil.example"), so any control character or space refuses it."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)):
        return target
    return "/console"


async def login_page(request: web.Request) -> web.Response:
    return await render(request, "console/login.html", {"next": safe_next(request.query.get("next"))})


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    throttle, ip = request.app[THROTTLE], client_ip(request)
    if not throttle.allowed(username, ip):
        return await render(request, "console/login.html", {
            "next": target, "username": username,
            "error": "Too many failed attempts. Wait 15 minutes, or ask an admin to check your account."},
            status=429)
    user = authenticate(request.app[DB], username, password)
    if user is None:
        throttle.failed(username, ip)
        log.warning("failed console login for %r from %s", username, ip)
        with request.app[DB]() as s:
            audit.record(s, canonical_username(username)[:64] or "-", "user.login_failed",
                         f"user:{canonical_username(username)[:64]}", ip=ip)
            s.commit()
        return await render(request, "console/login.html", {
            "next": target, "username": username, "error": "Wrong username or password."}, status=401)
    session = await new_session(request)  # a fresh session id at login: no session fixation
    session["user_id"] = user.id
    with request.app[DB]() as s:
        audit.record(s, user.username, "user.login", f"user:{user.username}", ip=ip)
        s.commit()
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    session = await get_session(request)
    session.invalidate()
    if user is not None:
        with request.app[DB]() as s:
            audit.record(s, user.username, "user.logout", f"user:{user.username}")
            s.commit()
    raise web.HTTPSeeOther("/login")


@requires(Role.admin, Role.agent)
async def home(request: web.Request) -> web.Response:
    return await render(request, "console/home.html", {})


def add_routes(app: web.Application) -> None:
    app[THROTTLE] = LoginThrottle(storage_uri=limits_storage_uri(app[SETTINGS].redis_url))
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/console", home)
