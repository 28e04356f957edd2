"""``python -m bot serve``: run the web app."""
from __future__ import annotations

import argparse
import dataclasses

from aiohttp import web

from aisle.config import settings
from aisle.logs import configure_logging
from bot.app import create_app


def main() -> None:
    cfg = settings()
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the chat page, chat API and health page")
    serve.add_argument("--host", default=cfg.host)
    serve.add_argument("--port", type=int, default=cfg.web_port)
    args = parser.parse_args()
    configure_logging(cfg.log_level)
    cfg = dataclasses.replace(cfg, host=args.host, web_port=args.port)
    web.run_app(create_app(cfg), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
