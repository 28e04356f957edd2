"""Rasa's NLU HTTP protocol over aiohttp: ``POST /model/parse`` and ``GET /health``."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from aisle.config import Settings
from nlu_models import encoder
from nlu_models.classifier import IntentClassifier
from nlu_models.parser import Parser

log = logging.getLogger(__name__)
PARSER: web.AppKey[Parser] = web.AppKey("parser", Parser)
MAX_BODY_BYTES = 256 * 1024


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def parse(request: web.Request) -> web.Response:
    parser = request.app.get(PARSER)
    if parser is None:
        return error(503, "the NLU model is still loading")
    try:
        body: Any = await request.json()
    except ValueError:
        return error(400, "request body must be JSON: {\"text\": \"...\"}")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return error(400, "request JSON must be an object with a string field 'text'")
    result = await asyncio.to_thread(parser.parse, body["text"])
    return web.json_response(result)


async def health(request: web.Request) -> web.Response:
    parser = request.app.get(PARSER)
    if parser is None:
        return web.json_response({"status": "loading"}, status=503)
    return web.json_response({"status": "ok", "model": parser.classifier.meta})


def load_parser(settings: Settings) -> Parser:
    model = IntentClassifier.load(settings.nlu_model_dir)
    encoder.encode(["warm up"])  # load the weights now, not on the first shopper message
    return Parser(model, encoder.encode, settings.nlu_threshold, settings.nlu_max_chars)


def create_app(settings: Settings, parser: Parser | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/model/parse", parse)
    app.router.add_get("/health", health)

    async def load_model(app: web.Application) -> None:
        app[PARSER] = await asyncio.to_thread(load_parser, settings)
        log.info("NLU model loaded from %s", settings.nlu_model_dir)

    if parser is not None:
        app[PARSER] = parser
    else:
        app.on_startup.append(load_model)
    return app
