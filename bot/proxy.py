"""Behind a TLS-terminating reverse proxy: the client's own address and scheme.

The proxy's headers (X-Forwarded-For / -Proto / -Host, or RFC 7239 ``Forwarded`` with
AISLE_PROXY_HEADERS=forwarded) are believed only on connections from AISLE_TRUSTED_PROXIES; anyone else
could send them to dodge the per-address limits. The request handlers then see the resolved values as
``request.remote``, ``request.secure`` and ``request.url``, so rate limits, the login lockout, the audit
log, order metadata, Secure cookies, HSTS and the WebSocket origin checks all follow the real client.
Parsing and the walk over the proxy chain are aiohttp-remotes'.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from typing import NoReturn

from aiohttp import web
from aiohttp_remotes import ForwardedStrict, XForwardedFiltered
from aiohttp_remotes.exceptions import UntrustedIP
from aiohttp_remotes.utils import check_ip, parse_trusted_element

log = logging.getLogger(__name__)
Response = web.StreamResponse
Handler = Callable[[web.Request], Awaitable[Response]]
Middleware = Callable[[web.Request, Handler], Awaitable[Response]]
BAD_HEADERS = "Malformed proxy headers (X-Forwarded-* / Forwarded)."


class _XForwarded(XForwardedFiltered):
    """The right-most X-Forwarded-For address that is not one of the trusted proxies is the client: what
    a client puts in the header itself sits further left and is never reached."""

    async def raise_error(self, request: web.Request) -> NoReturn:
        raise web.HTTPBadRequest(text=BAD_HEADERS)


class _Forwarded(ForwardedStrict):
    async def raise_error(self, request: web.Request) -> NoReturn:
        raise web.HTTPBadRequest(text=BAD_HEADERS)


def trusted_proxies(networks: tuple[str, ...], headers: str = "x-forwarded") -> Middleware:
    """Middleware (first in the chain, so the session and every handler see the client's values)."""
    trusted = parse_trusted_element(networks)
    x_forwarded = _XForwarded(trusted)

    def from_proxy(request: web.Request) -> bool:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if not trusted or not peer:
            return False
        try:
            check_ip(trusted, ip_address(peer[0]))
        except (UntrustedIP, ValueError):
            return False
        return True

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> Response:
        if not from_proxy(request):
            return await handler(request)
        if headers == "x-forwarded":
            return await x_forwarded.middleware(request, handler)
        hops = request.forwarded
        if not hops:
            return await handler(request)
        try:  # aiohttp-remotes fails with a 500 on a node that is not an IP address ("unknown", "_hidden")
            for hop in hops:
                ip_address(hop.get("for") or "")
        except ValueError:
            log.warning("Forwarded header from proxy %s names a client that is not an IP address: %s",
                        request.remote, request.headers.getall("Forwarded"))
            raise web.HTTPBadRequest(text=BAD_HEADERS) from None
        # Every hop after the client must itself be a trusted proxy.
        return await _Forwarded([trusted] * len(hops)).middleware(request, handler)

    return middleware
