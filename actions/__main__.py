"""``python -m actions``: the rasa-sdk action server on Aisle's internal host and port.

Only Rasa (and the web app's "try a question" and similar-entry check) may call it: every route but
the probes (``GET /health``, ``/livez``, ``/readyz``) and ``/metrics`` (its own check, aisle.observability)
needs ``Authorization: Bearer <AISLE_INTERNAL_SECRET>``.
"""
from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (ActionExecutionRejection, ActionMissingDomainException,
                                 ActionNotFoundException)
from threadpoolctl import threadpool_limits

from aisle import observability as obs
from aisle.config import settings
from aisle.db import database_reachable
from aisle.internal_auth import is_authorized
from aisle.logs import configure_logging
from aisle.memory import return_freed_memory


MAX_QUESTION_CHARS = 2000


async def faq_answer(request):  # type: ignore[no-untyped-def]
    """``POST /faq/answer {"text"}``: what the bot would answer (the admin console's "try a question")."""
    from sanic.response import json as json_response

    from actions import knowledge_client

    body = request.json if request.content_type == "application/json" else None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUESTION_CHARS:
        return json_response({"error": f"'text' must be 1-{MAX_QUESTION_CHARS} characters"}, status=400)
    return json_response(knowledge_client.answer(text).as_dict())


async def faq_similar(request):  # type: ignore[no-untyped-def]
    """``POST /faq/similar {"texts": [...], "exclude_id"?}``: the published entries closest to an entry an
    admin is writing (its question and alternatives), with the bot's own scores and the bar above which
    the console asks for confirmation."""
    from sanic.response import json as json_response

    from actions import knowledge_client
    from knowledge.records import MAX_ITEMS
    from knowledge.retrieval import DUPLICATE_AT

    body = request.json if request.content_type == "application/json" else None
    texts = body.get("texts") if isinstance(body, dict) else None
    exclude = body.get("exclude_id") if isinstance(body, dict) else None
    if (not isinstance(texts, list) or not 0 < len(texts) <= MAX_ITEMS + 1
            or not all(isinstance(t, str) and 0 < len(t) <= MAX_QUESTION_CHARS for t in texts)):
        return json_response({"error": f"'texts' must be 1-{MAX_ITEMS + 1} texts of 1-{MAX_QUESTION_CHARS} "
                                       "characters"}, status=400)
    if exclude is not None and (not isinstance(exclude, int) or isinstance(exclude, bool)):
        return json_response({"error": "'exclude_id' must be an entry id"}, status=400)
    matches = knowledge_client.retriever().similar(texts, exclude)
    return json_response({"threshold": DUPLICATE_AT, "matches": [m.__dict__ for m in matches]})


OPEN_PATHS = {"/health", *obs.PROBE_PATHS}  # rasa-sdk's {"status": "ok"}, the probes and /metrics
# What rasa-sdk answers with a 4xx of its own: a bad call from Rasa, not an action that broke.
REFUSED_CALLS = (ActionExecutionRejection, ActionMissingDomainException, ActionNotFoundException)


class TimedExecutor(ActionExecutor):
    """rasa-sdk's executor, timing every action run and counting the ones that raise."""

    async def run(self, action_call: dict[str, Any]) -> Any:
        try:
            with obs.STAGE_SECONDS.labels("action").time():
                return await super().run(action_call)
        except REFUSED_CALLS:
            raise
        except Exception:
            obs.FAILURES.labels("action_failed").inc()
            raise


def add_probe_routes(app: Any, token: str | None, database_url: str) -> None:
    """``/metrics``, ``/livez`` and ``/readyz`` on the Sanic app (the aiohttp services get the same from
    aisle.observability). The models are loaded before the server listens; readiness adds the database."""
    from sanic.response import json as json_response, raw

    async def metrics(request):  # type: ignore[no-untyped-def]
        # request.ip is the socket's peer (Sanic reads forwarding headers only into remote_addr)
        refused = obs.may_scrape(request.headers.get("Authorization"), request.ip, request.headers, token)
        if refused is not None:
            return json_response({"error": obs.REFUSALS[refused]}, status=refused)
        return raw(await asyncio.to_thread(obs.exposition), content_type=obs.CONTENT_TYPE_LATEST)

    async def livez(request):  # type: ignore[no-untyped-def]
        return json_response(obs.LIVE)

    async def readyz(request):  # type: ignore[no-untyped-def]
        reachable = await asyncio.to_thread(database_reachable, database_url)
        status, body = obs.readiness_body([] if reachable else ["database"])
        return json_response(body, status=status)

    app.add_route(metrics, "/metrics", methods=["GET"])
    app.add_route(livez, "/livez", methods=["GET"])
    app.add_route(readyz, "/readyz", methods=["GET"])


def require_secret(app: Any, secret: str) -> None:
    """Refuse every call without the internal secret, before rasa-sdk sees it."""
    from sanic.response import json as json_response

    async def check(request):  # type: ignore[no-untyped-def]
        if request.path not in OPEN_PATHS and not is_authorized(request.headers.get("Authorization"), secret):
            return json_response({"error": "send Authorization: Bearer <AISLE_INTERNAL_SECRET>"}, status=401)
        return None

    app.on_request(check, priority=100)  # before any other middleware


def limit_native_threads(threads: int) -> None:
    """faiss's OpenMP and numpy's/scipy's OpenBLAS each start a thread per core: on a busy 2-core box a
    tiny search then waits for a second thread the OS has not scheduled, and spins while it waits (the
    action server's CPU per turn fell by a third under load with one thread)."""
    threadpool_limits(threads)


def main() -> None:
    from rasa_sdk.endpoint import create_app

    cfg = settings()
    configure_logging(cfg.log_level, cfg.log_format)
    executor = TimedExecutor()
    executor.register_package("actions")
    from actions import catalog_client, knowledge_client, recommend_client

    catalog_client.warm_up()  # encoder and search index loaded before the first shopper asks
    knowledge_client.warm_up()
    recommend_client.recommender()
    limit_native_threads(cfg.torch_threads)  # after the warm-ups: it limits the libraries loaded by then
    return_freed_memory()
    app = create_app(executor, cors_origins=None)
    require_secret(app, cfg.internal_secret())
    app.add_route(faq_answer, "/faq/answer", methods=["POST"])
    app.add_route(faq_similar, "/faq/similar", methods=["POST"])
    obs.declare("actions", stages=("action", "search"))
    add_probe_routes(app, cfg.metrics_token, cfg.database_url)
    # One process: Sanic's worker-process mode doubles memory and dies noisily on Ctrl-C.
    app.run(host=cfg.internal_host, port=cfg.action_port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
