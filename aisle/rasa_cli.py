"""Run the Rasa CLI (in .venv-rasa) with Aisle's configuration in its environment.

``python -m aisle.rasa_cli run|train|test|data ...`` behaves like ``rasa ...`` but first exports what
endpoints.yml interpolates (tracker store URL, action and NLU server URLs, the internal secret) from
aisle.config, so Rasa shares the database and ports every other service uses. ``run`` gets Aisle's
defaults for the internal interface, port, auth token, model folder, endpoints and credentials (the
token is set in-process, so it never shows in the process list). Rasa then runs in this process, with
``aisle.rasa_speedups`` installed. Only the stdlib at module level: .venv imports this module too.
"""
from __future__ import annotations

import os
import runpy
import sys
from urllib.parse import unquote, urlsplit

from aisle.config import REPO_ROOT, settings


def rasa_database_url(url: str) -> str:
    """The same database as the app's URL, with the driver that exists in .venv-rasa (psycopg2)."""
    scheme, sep, rest = url.partition("://")
    if scheme.split("+")[0] in ("postgresql", "postgres"):
        return f"postgresql+psycopg2{sep}{rest}"
    return url


def lock_store_environment(redis_url: str | None) -> dict[str, str]:
    """What endpoints.yml's lock_store reads: Redis when several Rasa servers share conversations."""
    if not redis_url:
        return {"AISLE_RASA_LOCK_STORE": "in_memory", "AISLE_REDIS_HOST": "", "AISLE_REDIS_PORT": "0",
                "AISLE_REDIS_DB": "0", "AISLE_REDIS_PASSWORD": ""}
    parts = urlsplit(redis_url)
    return {
        "AISLE_RASA_LOCK_STORE": "redis",
        "AISLE_REDIS_HOST": parts.hostname or "localhost",
        "AISLE_REDIS_PORT": str(parts.port or 6379),
        "AISLE_REDIS_DB": parts.path.strip("/") or "0",
        "AISLE_REDIS_PASSWORD": unquote(parts.password or ""),
    }


def rasa_environment(env: dict[str, str]) -> dict[str, str]:
    cfg = settings()
    out = dict(env)
    out.setdefault("RASA_TELEMETRY_ENABLED", "false")
    out.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")  # Rasa 3.6 pins SQLAlchemy 1.4
    out["AISLE_RASA_TRACKER_URL"] = rasa_database_url(cfg.database_url)
    out["AISLE_ACTION_URL"] = cfg.action_url
    out["AISLE_NLU_URL"] = cfg.nlu_url
    out["AISLE_INTERNAL_SECRET"] = cfg.internal_secret()  # endpoints.yml: bearer for the action and NLU servers
    out.update(lock_store_environment(cfg.redis_url))
    return out


def rasa_arguments(args: list[str]) -> list[str]:
    cfg = settings()
    if args[:1] == ["run"] and len(args) == 1:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        # The HTTP API (tracker inspection) needs the internal secret as its token; no CORS at all: only
        # the web app and operators' tools call Rasa, never a browser. Bound to the internal interface.
        # "--auth-token=…" in one word: a generated secret may start with "-", which argparse would
        # otherwise take for an option (Rasa then exits with "expected one argument").
        return [
            "run", "--enable-api", f"--auth-token={cfg.internal_secret()}", "--interface", cfg.internal_host,
            "--port", str(cfg.rasa_port), "--model", str(cfg.rasa_model_dir), "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml",
        ]
    return args


def main() -> None:
    args = rasa_arguments(sys.argv[1:])
    os.chdir(REPO_ROOT)
    os.environ.update(rasa_environment(dict(os.environ)))
    from aisle import rasa_internal, rasa_speedups  # import Rasa: only here, so .venv can import this module

    rasa_speedups.install()
    rasa_internal.install()
    sys.argv = ["rasa", *args]
    runpy.run_module("rasa", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
