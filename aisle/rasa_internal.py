"""Rasa's side of the internal secret (runs in .venv-rasa; ``aisle.rasa_cli`` installs it before Rasa starts).

- ``InternalRestInput``: Rasa's REST channel (same URL and protocol, ``/webhooks/rest/webhook``) that
  answers only callers sending ``Authorization: Bearer <AISLE_INTERNAL_SECRET>``, i.e. the web app.
  Rasa's ``--auth-token`` protects its HTTP API but never its channels, and the stock REST channel lets
  anyone write into any conversation by naming its id.
- Rasa 3.6's HTTP NLU client ignores ``headers:`` under ``nlu:`` in endpoints.yml (it posts with a bare
  session); the patch makes it send them, so the NLU server gets the same bearer as the action server.
- Rasa compares its auth token with ``==``; the patch compares in constant time.
- Probes: ``/livez`` (200 while the server answers) and ``/readyz`` (200 once a model and the tracker
  store are loaded), beside Rasa's own ``/``, with the same bodies as the other services; ``/metrics``
  under the same scrape rule as the other services (aisle.observability): the time Rasa takes per
  message on the internal channel, and the process's own CPU and memory.
- ``AISLE_LOG_FORMAT=json``: Rasa's and Sanic's log lines become JSON lines like every other service's.
"""
from __future__ import annotations

import hmac
import logging
import time
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

from aisle import observability
from aisle.config import settings
from aisle.internal_auth import is_authorized
from aisle.logs import formatter

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
            request.ctx.started = time.perf_counter()
            return None

        @blueprint.middleware("response")
        async def measure(request: Request, _: response.HTTPResponse) -> None:
            started = getattr(request.ctx, "started", None)
            if started is not None:
                observability.STAGE_SECONDS.labels("rasa").observe(time.perf_counter() - started)

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

    @app.get("/metrics")
    async def metrics(request: Request) -> response.HTTPResponse:
        refused = observability.may_scrape(request.headers.get("Authorization"), request.ip, request.headers,
                                           settings().metrics_token)
        if refused is not None:
            return response.json({"error": observability.REFUSALS[refused]}, status=refused)
        return response.raw(observability.exposition(), content_type=observability.CONTENT_TYPE_LATEST)

    observability.STAGE_SECONDS.labels("rasa")
    if settings().log_format == "json":  # Rasa has set up its own handlers by the time it builds the app
        for name in ("", "rasa", "sanic.root", "sanic.error", "sanic.access"):
            for handler in logging.getLogger(name).handlers:
                handler.setFormatter(formatter("json"))


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
