"""Admin console: canned replies (create, edit, delete); agents insert them in the inbox's reply box."""
from __future__ import annotations

from aiohttp import web
from yarl import URL

from aisle.models import Role
from bot.agent.canned import CannedError, CannedReplies
from bot.console.security import DB, render, requires, username

PAGE = "/admin/canned"


def replies(request: web.Request) -> CannedReplies:
    return CannedReplies(request.app[DB])


async def page(request: web.Request, error: str = "", draft: dict[str, str] | None = None,
               status: int = 200) -> web.Response:
    """The list with its forms; after bad input the admin's text comes back in the form, not lost."""
    return await render(request, "agent/canned.html", {
        "replies": replies(request).all(), "error": error or request.query.get("error", ""),
        "message": request.query.get("message", ""), "draft": draft or {}}, status=status)


@requires(Role.admin)
async def list_replies(request: web.Request) -> web.Response:
    return await page(request)


def done(message: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(str(URL(PAGE).with_query(message=message)))


@requires(Role.admin)
async def create_reply(request: web.Request) -> web.Response:
    form = await request.post()
    shortcut, text = str(form.get("shortcut", "")), str(form.get("text", ""))
    try:
        made = replies(request).create(shortcut, text, await username(request))
    except CannedError as exc:
        return await page(request, str(exc), {"id": "new", "shortcut": shortcut, "text": text}, status=400)
    raise done(f"Saved /{made.shortcut}.")


@requires(Role.admin)
async def update_reply(request: web.Request) -> web.Response:
    form = await request.post()
    reply_id = request.match_info["reply_id"]
    shortcut, text = str(form.get("shortcut", "")), str(form.get("text", ""))
    try:
        made = replies(request).update(int(reply_id), shortcut, text, await username(request))
    except CannedError as exc:
        return await page(request, str(exc), {"id": reply_id, "shortcut": shortcut, "text": text}, status=400)
    raise done(f"Saved /{made.shortcut}.")


@requires(Role.admin)
async def delete_reply(request: web.Request) -> web.StreamResponse:
    try:
        replies(request).delete(int(request.match_info["reply_id"]), await username(request))
    except CannedError as exc:
        raise web.HTTPSeeOther(str(URL(PAGE).with_query(error=str(exc)))) from None
    raise done("Deleted.")


def add_routes(app: web.Application) -> None:
    app.router.add_get(PAGE, list_replies)
    app.router.add_post(PAGE, create_reply)
    app.router.add_post(PAGE + "/{reply_id:\\d+}", update_reply)
    app.router.add_post(PAGE + "/{reply_id:\\d+}/delete", delete_reply)
