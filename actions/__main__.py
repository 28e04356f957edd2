"""``python -m actions``: the rasa-sdk action server on Aisle's configured host and port."""
from __future__ import annotations

from aisle.config import settings
from aisle.logs import configure_logging


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


def main() -> None:
    from rasa_sdk.endpoint import create_app
    from rasa_sdk.executor import ActionExecutor

    import torch

    cfg = settings()
    configure_logging(cfg.log_level)
    torch.set_num_threads(cfg.torch_threads)
    executor = ActionExecutor()
    executor.register_package("actions")
    from actions import catalog_client, knowledge_client, recommend_client

    catalog_client.warm_up()  # encoder and search index loaded before the first shopper asks
    knowledge_client.warm_up()
    recommend_client.recommender()
    app = create_app(executor, cors_origins=None)
    app.add_route(faq_answer, "/faq/answer", methods=["POST"])
    # One process: Sanic's worker-process mode doubles memory and dies noisily on Ctrl-C.
    app.run(host=cfg.host, port=cfg.action_port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
