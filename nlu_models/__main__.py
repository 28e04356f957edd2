"""``python -m nlu_models train|serve`` (see ../shared/contracts/interfaces.md)."""
from __future__ import annotations

import argparse
import sys

from aisle.config import REPO_ROOT, settings
from aisle.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    cfg = settings()
    parser = argparse.ArgumentParser(prog="python -m nlu_models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train the intent classifier from data/nlu into AISLE_DATA_DIR")
    train.add_argument("--data", default=str(REPO_ROOT / "data" / "nlu"), help="NLU training folder")
    train.add_argument("--force", action="store_true", help="retrain even if nothing changed")
    train.add_argument("--out", help="model folder (default: AISLE_DATA_DIR/nlu, the one the server serves)")
    serve = sub.add_parser("serve", help="serve Rasa's NLU HTTP protocol")
    serve.add_argument("--host", default=cfg.internal_host)
    serve.add_argument("--port", type=int, default=cfg.nlu_port)
    args = parser.parse_args(argv)
    configure_logging(cfg.log_level, cfg.log_format)

    if args.command == "train":
        from pathlib import Path

        from nlu_models.data import TrainingDataError
        from nlu_models.training import train_if_stale

        try:
            train_if_stale(Path(args.data), Path(args.out) if args.out else cfg.nlu_model_dir, force=args.force)
        except TrainingDataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0

    from aiohttp import web

    from nlu_models.server import create_app

    if not (cfg.nlu_model_dir / "meta.json").exists():
        print(f"error: no trained NLU model in {cfg.nlu_model_dir}; run `python -m nlu_models train`",
              file=sys.stderr)
        return 2
    web.run_app(create_app(cfg), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
