"""Container health check: ``healthcheck.py [SERVICE]`` exits 0 when that service answers its own probe.

Without an argument the service is the one the container was started with (PID 1's command line:
``tini -- python deploy/entrypoint.py SERVICE``), so the image's single HEALTHCHECK fits every service.
Each service is probed on itself only: the web app's ``/health`` also reports the other services, and a
container must not be marked unhealthy (and restarted) because a neighbour is down. Stdlib only.
"""
from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

# (port variable, default port, path): the NLU and action servers' /health needs no secret; Rasa's
# /status does, so its probe is "/" (Rasa's hello text).
PROBES = {
    "web": ("AISLE_WEB_PORT", 8000, "/static/widget.js"),
    "nlu": ("AISLE_NLU_PORT", 5006, "/health"),
    "actions": ("AISLE_ACTION_PORT", 5055, "/health"),
    "rasa": ("AISLE_RASA_PORT", 5005, "/"),
}
TIMEOUT_S = 4.0


def started_service(cmdline: Path = Path("/proc/1/cmdline")) -> str | None:
    words = cmdline.read_bytes().decode(errors="replace").split("\0")
    for i, word in enumerate(words):
        if word.endswith("entrypoint.py") and i + 1 < len(words):
            return words[i + 1]
    return None


def probe(service: str) -> tuple[bool, str]:
    variable, default, path = PROBES[service]
    url = f"http://127.0.0.1:{int(os.environ.get(variable) or default)}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status == 200, f"{url}: {response.status}"
    except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
        return False, f"{url}: {exc}"


def main(argv: list[str]) -> int:
    service = argv[0] if argv else started_service()
    if service not in PROBES:
        print(f"no probe for {service!r}: nothing long-running to check", file=sys.stderr)
        return 0  # one-shot commands (migrate, imports) have no endpoint
    ok, detail = probe(service)
    print(detail, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
