"""Container entrypoint: run one Aisle service, named as in the Procfile, in the foreground.

``entrypoint.py web|nlu|actions|rasa`` runs that Procfile entry's command; ``entrypoint.py migrate``
upgrades the database schema; anything else (``.venv/bin/python -m catalog import FILE``) runs as given.
The Procfile is read at start, so the image always runs exactly what ``make run`` runs, minus
``aisle.keepalive``: in a container the orchestrator restarts a crashed service (with its own back-off
and visible restart counts), so a second restart loop inside would only hide crashes from it.
Stdlib only, besides aisle.logs: its start-up lines look like the service's (AISLE_LOG_FORMAT=json too).
"""
from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from deploy/

from aisle.logs import configure_logging  # noqa: E402

PROCFILE = ROOT / "Procfile"
KEEPALIVE = "aisle.keepalive"
# Outside the Procfile: one-shot jobs the deployment runs (compose's migrate service, the Kubernetes Job).
EXTRA = {"migrate": [".venv/bin/python", "-m", "aisle", "migrate"]}
# deploy/k8s/secret.yaml and compose's defaults ship with this marker: never start with them.
PLACEHOLDER = "CHANGE-ME"

log = logging.getLogger("aisle.entrypoint")


def procfile_commands(path: Path = PROCFILE) -> dict[str, list[str]]:
    """Each Procfile entry's command, without the keepalive wrapper and without leading VAR=value words
    (containers take configuration from their environment)."""
    commands: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep:
            raise ValueError(f"{path}: not a Procfile line: {line!r}")
        words = shlex.split(command)
        if KEEPALIVE in words:
            words = words[words.index("--", words.index(KEEPALIVE)) + 1:]
        while words and "=" in words[0] and not words[0].startswith(("-", ".", "/")):
            words = words[1:]
        commands[name.strip()] = words
    return commands


def service_commands() -> dict[str, list[str]]:
    return {**procfile_commands(), **EXTRA}


def placeholders(env: dict[str, str]) -> list[str]:
    return sorted(name for name, value in env.items() if name.startswith("AISLE_") and PLACEHOLDER in value)


def main(argv: list[str]) -> int:
    # Read here, not through aisle.config: a bad value must still let this say why it refuses to start.
    configure_logging(os.environ.get("AISLE_LOG_LEVEL", "INFO").upper(),
                      "json" if os.environ.get("AISLE_LOG_FORMAT", "").strip().lower() == "json" else "text")
    if not argv:
        log.error("usage: entrypoint.py SERVICE (one of %s) or a command", ", ".join(service_commands()))
        return 2
    unset = placeholders(dict(os.environ))
    if unset:
        log.error("refusing to start: %s still hold the %s placeholder; set real values (docs/production.md: "
                  "\"Containers and Kubernetes\")", ", ".join(unset), PLACEHOLDER)
        return 78  # EX_CONFIG
    commands = service_commands()
    command = commands[argv[0]] + argv[1:] if argv[0] in commands else argv
    os.chdir(ROOT)
    log.info("starting %s: %s", argv[0], shlex.join(command))
    os.execvp(command[0], command)
    return 0  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
