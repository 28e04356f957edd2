"""``python -m actions``: the rasa-sdk action server on Aisle's configured host and port."""
from __future__ import annotations

import os

from aisle.config import settings


def main() -> None:
    from rasa_sdk.endpoint import create_argument_parser
    from rasa_sdk.__main__ import main_from_args

    cfg = settings()
    os.environ.setdefault("SANIC_HOST", cfg.host)  # rasa-sdk reads its bind address from here
    args = create_argument_parser().parse_args(
        # --endpoints only configures tracing here; Aisle's endpoints.yml is Rasa's, so none.
        ["--actions", "actions", "--port", str(cfg.action_port), "--endpoints", ""]
    )
    main_from_args(args)


if __name__ == "__main__":
    main()
