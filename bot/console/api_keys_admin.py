"""Admin console: chat API keys, one per integration (create, see when last used, revoke)."""
from __future__ import annotations

from aiohttp import web
from yarl import URL

from aisle.models import Role
from bot.api_keys import ApiKeyError
from bot.appkeys import API_KEYS
from bot.console.security import render, requires, username


async def page(request: web.Request, created: tuple[str, str] | None = None, error: str = "",
               status: int = 200) -> web.Response:
    return await render(request, "console/api_keys.html", {
        "keys": request.app[API_KEYS].all(), "created": created, "error": error or request.query.get("error", ""),
        "env_keys": len(request.app[API_KEYS].env_keys)}, status=status)


@requires(Role.admin)
async def list_keys(request: web.Request) -> web.Response:
    return await page(request)


@requires(Role.admin)
async def create_key(request: web.Request) -> web.Response:
    """The new key is shown on this response only: it is never stored, nor shown again."""
    form = await request.post()
    try:
        row, key = request.app[API_KEYS].create(str(form.get("name", "")), await username(request))
    except ApiKeyError as exc:
        return await page(request, error=str(exc), status=400)
    return await page(request, created=(row.name, key))


@requires(Role.admin)
async def revoke_key(request: web.Request) -> web.StreamResponse:
    try:
        request.app[API_KEYS].revoke(int(request.match_info["key_id"]), await username(request))
    except (ValueError, ApiKeyError) as exc:
        raise web.HTTPSeeOther(str(URL("/admin/api-keys").with_query(error=str(exc)))) from None
    raise web.HTTPSeeOther("/admin/api-keys")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/api-keys", list_keys)
    app.router.add_post("/admin/api-keys", create_key)
    app.router.add_post("/admin/api-keys/{key_id:\\d+}/revoke", revoke_key)
