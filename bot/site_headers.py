"""Security headers for the public side: HSTS, and a Content-Security-Policy with ``frame-ancestors``
for the store page and the widget's files (console pages have their own, in bot/console/security.py).

Who may frame Aisle's pages: Aisle itself and the store sites in AISLE_WIDGET_ORIGINS (the sites that
embed the widget). The widget is loaded by a ``<script>`` tag, which no header of ours can restrict; its
files still refuse to be framed by anyone else and are never content-sniffed.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from aisle.config import Settings
from bot.appkeys import SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HSTS = "max-age=31536000"  # a year; no includeSubDomains: the shop's other hosts are not ours to commit
WIDGET_FILES = ("/static/widget.js", "/static/widget.css")
STORE_PAGES = ("/products/", "/demo-art/")


def frame_ancestors(settings: Settings) -> str:
    return " ".join(("frame-ancestors", "'self'", *settings.widget_origins))


def store_csp(settings: Settings) -> str:
    """The demo store's pages: only Aisle's own scripts, styles and socket; product images from anywhere
    over HTTPS (a catalog's image_url)."""
    return ("default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            + frame_ancestors(settings))


def widget_csp(settings: Settings) -> str:
    return f"default-src 'none'; {frame_ancestors(settings)}"


def served_over_https(request: web.Request, settings: Settings) -> bool:
    """HTTPS to this process, or (AISLE_COOKIE_SECURE) to the TLS proxy in front of it."""
    return request.secure or settings.cookie_secure


@web.middleware
async def site_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    response = await handler(request)
    if served_over_https(request, settings):
        # Browsers ignore HSTS over plain HTTP, so loopback development over http:// is unaffected.
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    store_page = request.path == "/" or request.path.startswith(STORE_PAGES)
    if store_page:
        response.headers.setdefault("Content-Security-Policy", store_csp(settings))
    elif request.path in WIDGET_FILES:
        response.headers.setdefault("Content-Security-Policy", widget_csp(settings))
    if store_page or request.path in WIDGET_FILES:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response
