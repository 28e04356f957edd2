"""Real PostgreSQL and Redis servers from Debian's packages, started on loopback in a scratch folder.

`scripts/ensure_servers.sh` installs them (make test runs it); where they are missing the tests that
need them are skipped with a message that says how to get them.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e_stack import free_port

START_TIMEOUT_S = 60
MISSING = "is not installed, so the scale-out tests are skipped: run `sudo scripts/ensure_servers.sh` (Debian: postgresql, redis-server)"


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def redis_bin() -> str | None:
    return shutil.which("redis-server")


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; Debian's package creates the `postgres` user for it."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _wait(check, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start in {START_TIMEOUT_S} s:\n{log.read_text(errors='replace')[-2000:]}")


@dataclass
class LocalServer:
    """A server process on a loopback port with its scratch folder; ``stop`` removes both."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _launch(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


class PostgresServer(LocalServer):
    @classmethod
    def start(cls) -> "PostgresServer":
        """A new cluster in its own temporary folder (outside pytest's, which `postgres` cannot enter)."""
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise FileNotFoundError(f"PostgreSQL {MISSING}")
        folder = Path(tempfile.mkdtemp(prefix="aisle-pg-"))
        data, sockets = folder / "data", folder / "sockets"
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            shutil.chown(sockets, "postgres")
        initdb = subprocess.run(_as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                                                   "--auth=trust", "--no-sync", "-E", "UTF8"]), capture_output=True)
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed: {initdb.stderr.decode(errors='replace')[-1000:]}")
        port, log = free_port(), folder / "postgres.log"
        process = _launch(_as_postgres_user([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                             "-k", str(sockets), "-c", "listen_addresses=127.0.0.1",
                                             "-c", "fsync=off", "-c", "max_connections=200"]), log)
        server = cls(folder, port, process)
        ready = [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        _wait(lambda: subprocess.run(ready, capture_output=True).returncode == 0, "PostgreSQL", log)
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "aisle"],
                       check=True, capture_output=True)
        return server

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/aisle"


class RedisServer(LocalServer):
    @classmethod
    def start(cls) -> "RedisServer":
        """An empty, non-persistent Redis in its own temporary folder."""
        binary = redis_bin()
        if binary is None:
            raise FileNotFoundError(f"Redis {MISSING}")
        folder = Path(tempfile.mkdtemp(prefix="aisle-redis-"))
        port, log = free_port(), folder / "redis.log"
        process = _launch([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", str(folder)], log)
        server = cls(folder, port, process)
        cli = shutil.which("redis-cli")
        _wait(lambda: cli is not None and subprocess.run([cli, "-p", str(port), "ping"], capture_output=True)
              .stdout.strip() == b"PONG", "Redis", log)
        return server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
