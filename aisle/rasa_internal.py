"""Rasa's side of the internal secret (runs in .venv-rasa; ``aisle.rasa_cli`` installs it before Rasa starts).

- ``InternalRestInput``: Rasa's REST channel (same URL and protocol, ``/webhooks/rest/webhook``) that
  answers only callers sending ``Authorization: Bearer <AISLE_INTERNAL_SECRET>``, i.e. the web app.
  Rasa's ``--auth-token`` protects its HTTP API but never its channels, and the stock REST channel lets
  anyone write into any conversation by naming its id.
- Rasa 3.6's HTTP NLU client ignores ``headers:`` under ``nlu:`` in endpoints.yml (it posts with a bare
  session); the patch makes it send them, so the NLU server gets the same bearer as the action server.
- Rasa compares its auth token with ``==``; the patch compares in constant time.
- Probes: ``/livez`` (200 while the server answers) and ``/readyz`` (200 once a model and the tracker
  store are loaded), beside Rasa's own ``/``, with the same bodies as the other services. No ``/metrics``:
  prometheus-client is not in .venv-rasa (locks/rasa.lock); the web app measures the Rasa round trip
  and Rasa's failures instead.
"""
from __future__ import annotations

import hmac
from functools import wraps
from http import HTTPStatus
from inspect import isawaitable
from typing import Any, Awaitable, Callable

import aiohttp
import rasa.server
from rasa.core import constants
from rasa.core.channels import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.http_interpreter import RasaNLUHttpInterpreter
from rasa.utils.endpoints import EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request

from aisle.config import settings
from aisle.internal_auth import is_authorized

UNAUTHORIZED = {"error": "send Authorization: Bearer <AISLE_INTERNAL_SECRET>"}


class InternalRestInput(RestInput):
    """The REST channel for the web app only (credentials.yml names this class)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    @classmethod
    def name(cls) -> str:
        return "rest"  # same URL as Rasa's REST channel: /webhooks/rest/webhook

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "InternalRestInput":
        return cls(settings().internal_secret())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def require_secret(request: Request) -> response.HTTPResponse | None:
            if not is_authorized(request.headers.get("Authorization"), self.secret):
                return response.json(UNAUTHORIZED, status=HTTPStatus.UNAUTHORIZED)
            return None

        return blueprint


def _interpreter_init(self: RasaNLUHttpInterpreter, endpoint_config: EndpointConfig | None = None) -> None:
    self.endpoint_config = endpoint_config or EndpointConfig(constants.DEFAULT_SERVER_URL)
    self.session = aiohttp.ClientSession(headers=self.endpoint_config.headers)


_rasa_add_root_route = rasa.server.add_root_route


def add_root_route(app: Any) -> None:
    """Rasa's ``/`` and the probes (rasa.server.create_app calls this for every app it builds)."""
    _rasa_add_root_route(app)

    @app.get("/livez")
    async def livez(request: Request) -> response.HTTPResponse:
        return response.json({"status": "live"})

    @app.get("/readyz")
    async def readyz(request: Request) -> response.HTTPResponse:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or not agent.is_ready():
            return response.json({"status": "not ready", "failing": ["rasa_model"]}, status=503)
        return response.json({"status": "ready"})


_rasa_requires_auth = rasa.server.requires_auth


def requires_auth(app: Any, token: str | None = None) -> Callable[[Any], Any]:
    """Rasa's HTTP API auth (``?token=``), with the token compared in constant time."""
    if token is None:
        return _rasa_requires_auth(app, token)

    def decorator(handler: Any) -> Any:
        @wraps(handler)
        async def decorated(request: Request, *args: Any, **kwargs: Any) -> Any:
            provided = request.args.get("token") or ""
            if not hmac.compare_digest(provided.encode(), token.encode()):
                raise rasa.server.ErrorResponse(HTTPStatus.UNAUTHORIZED, "NotAuthenticated",
                                                "User is not authenticated.")
            result = handler(request, *args, **kwargs)
            return await result if isawaitable(result) else result

        return decorated

    return decorator


def install() -> None:
    RasaNLUHttpInterpreter.__init__ = _interpreter_init  # type: ignore[method-assign]
    rasa.server.requires_auth = requires_auth
    rasa.server.add_root_route = add_root_route
