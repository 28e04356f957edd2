"""Container health check: ``healthcheck.py [SERVICE]`` exits 0 when that service is ready (``/readyz``).

Without an argument the service is the one the container was started with (PID 1's command line:
``tini -- python deploy/entrypoint.py SERVICE``), so the image's single HEALTHCHECK fits every service.
Each service answers for itself and what it cannot work without: the NLU server for its model, the action
server and the web app for the database, the web app also for Rasa (it cannot answer a chat without one),
Rasa for its model. The broader ``/health`` of the web app, which also asks the NLU and action servers, is
not used, so compose's ``service_healthy`` waits only for what a service needs. Stdlib only.
"""
from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

# (port variable, default port) of each service; every one answers /livez and /readyz without a secret.
PORTS = {
    "web": ("AISLE_WEB_PORT", 8000),
    "nlu": ("AISLE_NLU_PORT", 5006),
    "actions": ("AISLE_ACTION_PORT", 5055),
    "rasa": ("AISLE_RASA_PORT", 5005),
}
# Kubernetes asks LIVE_PATH for liveness and start-up (deploy/k8s); containers and readiness READY_PATH.
LIVE_PATH, READY_PATH = "/livez", "/readyz"
TIMEOUT_S = 4.0


def started_service(cmdline: Path = Path("/proc/1/cmdline")) -> str | None:
    words = cmdline.read_bytes().decode(errors="replace").split("\0")
    for i, word in enumerate(words):
        if word.endswith("entrypoint.py") and i + 1 < len(words):
            return words[i + 1]
    return None


def probe(service: str) -> tuple[bool, str]:
    variable, default = PORTS[service]
    url = f"http://127.0.0.1:{int(os.environ.get(variable) or default)}{READY_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:  # 503: not ready, and the body says what is missing
        return False, f"{url}: {exc.code} {exc.read(200).decode(errors='replace')}"
    except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
        return False, f"{url}: {exc}"


def main(argv: list[str]) -> int:
    service = argv[0] if argv else started_service()
    if service not in PORTS:
        print(f"no probe for {service!r}: nothing long-running to check", file=sys.stderr)
        return 0  # one-shot commands (migrate, imports) have no endpoint
    ok, detail = probe(service)
    print(detail, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
