"""Rasa's NLU HTTP protocol over aiohttp: ``POST /model/parse`` and ``GET /health``.

Every call but the health probe needs ``Authorization: Bearer <AISLE_INTERNAL_SECRET>``; an anonymous
``GET /health`` answers only whether the model is loaded.

Requests are batched greedily: while the model works on one batch, new messages queue and go
together in the next forward pass. A newly trained model (its ``meta.json`` fingerprint changes) is
loaded in the background and swapped in between batches, so no request is dropped.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from aisle import observability as obs
from aisle.config import Settings
from aisle.internal_auth import is_authorized
from aisle.memory import return_freed_memory
from nlu_models.intent_model import IntentModel, read_meta
from nlu_models.parser import DEFAULT_OPENERS, Parser
from nlu_models.spelling import Speller
from text_tools.lookups import CatalogLookups, Lookups, static_tables

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY_BYTES = 256 * 1024
MAX_BATCH = 32
RELOAD_CHECK_S = 5.0


def speller_for(model: IntentModel) -> Speller | None:
    """Corrections towards the training data's words; the encoder's whole words count as known."""
    counts = model.meta.get("vocabulary")
    if not counts:
        return None  # a model trained before spelling normalisation
    known = frozenset(w for w in model.tokenizer.get_vocab() if w.isalpha())
    return Speller(dict(counts), known)


def parser_for(model: IntentModel, threshold: float | None, max_chars: int, lookups: Any) -> Parser:
    """The parser for a loaded model: its tuned threshold (unless overridden), speller and greetings."""
    return Parser(model, model.threshold if threshold is None else threshold, max_chars, lookups,
                  speller=speller_for(model), openers=tuple(model.meta.get("greeting_openers") or DEFAULT_OPENERS))


def load_parser(settings: Settings) -> Parser:
    model = IntentModel.load(settings.nlu_model_dir, settings.nlu_precision, settings.torch_threads)
    lookups = Lookups(static_tables(), CatalogLookups(settings.database_url))
    parser = parser_for(model, settings.nlu_threshold, settings.nlu_max_chars, lookups)
    parser.parse("warm up")  # first forward pass and catalog read now, not on a shopper's message
    return_freed_memory()
    return parser


@dataclass
class NluService:
    settings: Settings
    parser: Parser | None = None
    queue: asyncio.Queue[tuple[str, asyncio.Future[dict[str, Any]]]] = field(default_factory=asyncio.Queue)

    @property
    def fingerprint(self) -> str | None:
        return None if self.parser is None else self.parser.model.meta.get("fingerprint")  # type: ignore[attr-defined]

    async def parse(self, text: str) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        with obs.STAGE_SECONDS.labels("nlu_parse").time():  # what the caller waits: queue and batch
            await self.queue.put((text, future))
            return await future

    async def run_batches(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self.queue.get_nowait())
            parser = self.parser
            assert parser is not None
            try:
                results = await asyncio.to_thread(parser.parse_many, [text for text, _ in batch])
            except Exception as exc:  # one bad batch must not kill the worker
                log.exception("parsing a batch of %d failed", len(batch))
                obs.FAILURES.labels("parse_failed").inc(len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results):
                if "fallback_reason" in result:
                    reason = obs.bounded(result["fallback_reason"], obs.FALLBACK_REASONS)
                    obs.NLU_FALLBACKS.labels(reason).inc()
                if not future.done():
                    future.set_result(result)

    async def reload_if_changed(self) -> bool:
        """Load a newly trained model in the background and swap it in; batches in flight keep the old."""
        meta = read_meta(self.settings.nlu_model_dir)
        if meta is None or meta.get("fingerprint") == self.fingerprint:
            return False
        try:
            self.parser = await asyncio.to_thread(load_parser, self.settings)
        except Exception:
            log.exception("a new NLU model was found but could not be loaded; keeping the old one")
            return False
        log.info("reloaded the NLU model (trained %s)", meta.get("trained_at"))
        return True

    async def watch_for_new_model(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_CHECK_S)
            await self.reload_if_changed()


SERVICE: web.AppKey[NluService] = web.AppKey("service", NluService)
SECRET: web.AppKey[str] = web.AppKey("internal_secret", str)
# The probes tell an anonymous caller nothing but the status; /metrics makes its own check (observability).
OPEN_PATHS = {"/health", *obs.PROBE_PATHS}


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def require_secret(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only Rasa (and the web app's tests) may parse: callers send the internal secret as a bearer token."""
    if request.path not in OPEN_PATHS and not authorized(request):
        return error(401, "send Authorization: Bearer <AISLE_INTERNAL_SECRET>")
    return await handler(request)


def authorized(request: web.Request) -> bool:
    return is_authorized(request.headers.get("Authorization"), request.app[SECRET])


async def parse(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.parser is None:
        return error(503, "the NLU model is still loading")
    try:
        body: Any = await request.json()
    except ValueError:
        return error(400, "request body must be JSON: {\"text\": \"...\"}")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return error(400, "request JSON must be an object with a string field 'text'")
    try:
        return web.json_response(await service.parse(body["text"]))
    except Exception:
        return error(500, "the NLU model failed on this message")


async def health(request: web.Request) -> web.Response:
    parser = request.app[SERVICE].parser
    if parser is None:
        return web.json_response({"status": "loading"}, status=503)
    if not authorized(request):
        return web.json_response({"status": "ok"})
    meta = parser.model.meta  # type: ignore[attr-defined]
    summary = {k: meta.get(k) for k in ("kind", "trained_at", "fingerprint", "temperature", "n_examples")}
    return web.json_response({"status": "ok", "threshold": parser.threshold, "model": summary})


def create_app(settings: Settings, parser: Parser | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[require_secret])
    service = NluService(settings, parser)
    app[SERVICE] = service
    app[SECRET] = settings.internal_secret()
    app.router.add_post("/model/parse", parse)
    app.router.add_get("/health", health)
    obs.declare("nlu", stages=("nlu_parse",), fallbacks=obs.FALLBACK_REASONS)

    async def ready() -> list[str]:
        return [] if service.parser is not None else ["nlu_model"]

    obs.add_aiohttp_routes(app, settings.metrics_token, ready)

    async def background(app: web.Application):  # type: ignore[no-untyped-def]
        if service.parser is None:
            service.parser = await asyncio.to_thread(load_parser, settings)
            log.info("NLU model loaded from %s", settings.nlu_model_dir)
        tasks = [asyncio.create_task(service.run_batches()),
                 asyncio.create_task(service.watch_for_new_model())]
        yield
        for task in tasks:
            task.cancel()

    app.cleanup_ctx.append(background)
    return app
