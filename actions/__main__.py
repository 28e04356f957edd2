"""``python -m actions``: the rasa-sdk action server on Aisle's configured host and port."""
from __future__ import annotations

from aisle.config import settings
from aisle.logs import configure_logging


def main() -> None:
    from rasa_sdk.endpoint import create_app
    from rasa_sdk.executor import ActionExecutor

    cfg = settings()
    configure_logging(cfg.log_level)
    executor = ActionExecutor()
    executor.register_package("actions")
    from actions import catalog_client

    catalog_client.warm_up()  # encoder and search index loaded before the first shopper asks
    # One process: Sanic's worker-process mode doubles memory and dies noisily on Ctrl-C.
    create_app(executor, cors_origins=None).run(
        host=cfg.host, port=cfg.action_port, single_process=True, access_log=False, motd=False
    )


if __name__ == "__main__":
    main()
