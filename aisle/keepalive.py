"""``python -m aisle.keepalive -- COMMAND...``: run a service and start it again whenever it dies.

The Procfile wraps every service in this, because honcho starts processes but never restarts them: a
crashed or killed (-9) service comes back after a short, growing pause (1 s, 2 s, 4 s... at most 10 s;
back to 1 s once it has run for a minute). SIGTERM/SIGINT stop it for good: they are passed on to
the service and nothing is restarted. Stdlib only, so either virtual environment can run it.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

MAX_PAUSE_S = 10.0
HEALTHY_AFTER_S = 60.0


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m aisle.keepalive -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pause = 1.0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping:
            return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
        if time.monotonic() - started > HEALTHY_AFTER_S:
            pause = 1.0
        print(f"keepalive: {command[0]} ... exited with {code}; starting it again in {pause:.0f} s",
              file=sys.stderr, flush=True)
        time.sleep(pause)
        if stopping:
            return 0
        pause = min(pause * 2, MAX_PAUSE_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
