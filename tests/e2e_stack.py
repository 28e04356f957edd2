"""Starts Aisle's real services (the Procfile's own commands) on free ports with a scratch data dir."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from aisle.config import REPO_ROOT, Settings
from aisle.internal_auth import bearer_headers
from bot.api_keys import env_integration
from tests.shopify_payloads import WEBHOOK_SECRET

START_TIMEOUT_S = 180
ADMIN, AGENT = "e2e-admin", "e2e-agent"
AGENT_DISPLAY_NAME = "Eve"  # what shoppers see for AGENT: never the login
STAFF_PASSWORD = "e2e password, long enough"
CATALOG = REPO_ROOT / "tests" / "fixtures" / "catalog_small.jsonl"
API_KEY = "e2e-chat-api-key-not-secret-0123456789"  # in AISLE_API_KEYS of every stack started here
API_AUTH = {"Authorization": f"Bearer {API_KEY}"}
# The store integration is on in every stack started here: Shopify's order webhooks and its cart link.
STORE_CART_LINK = "https://shop.example.com/cart/{variant_id}:{quantity}"


def api_conversation_id(sender: str) -> str:
    """The conversation (and Rasa sender) id behind a chat API sender sent with API_KEY."""
    return env_integration(API_KEY).conversation_id(sender)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(method: str, url: str, payload: Any = None, timeout: float = 30,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def procfile_commands() -> dict[str, str]:
    commands = {}
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = command.strip()
    return commands


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    settings: Settings
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def create(cls, data_dir: Path, catalog: Path = CATALOG, extra_env: dict[str, str] | None = None) -> "Stack":
        source = Settings.from_env()
        for artefact in (source.nlu_model_dir, source.rasa_model_dir):
            if not artefact.exists():
                raise RuntimeError(f"{artefact} is missing: run `make train` (make test does)")
            shutil.copytree(artefact, data_dir / artefact.name)
        if source.encoder_dir.exists():  # the exported encoder: saves each stack an export (torch) run
            shutil.copytree(source.encoder_dir, data_dir / source.encoder_dir.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AISLE_")}
        env.update({
            "AISLE_DATA_DIR": str(data_dir), "AISLE_RASA_PORT": str(free_port()),
            "AISLE_ACTION_PORT": str(free_port()), "AISLE_NLU_PORT": str(free_port()),
            "AISLE_WEB_PORT": str(free_port()), "RASA_TELEMETRY_ENABLED": "false", "AISLE_API_KEYS": API_KEY,
            "AISLE_SHOPIFY_WEBHOOK_SECRET": WEBHOOK_SECRET, "AISLE_CART_LINK_TEMPLATE": STORE_CART_LINK,
            "AISLE_CART_LINK_JOIN": ",", **(extra_env or {}),
        })
        stack = cls(data_dir, env, Settings.from_env(env))
        python = str(REPO_ROOT / ".venv/bin/python")
        subprocess.run([python, "-m", "aisle", "migrate"], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
        subprocess.run([python, "-m", "catalog", "import", str(catalog)], cwd=REPO_ROOT, env=env, check=True,
                       capture_output=True)
        for seed in (["knowledge", "seed-demo"], ["catalog", "seed-orders"]):
            subprocess.run([python, "-m", *seed], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
        for role, name, shown in (("admin", ADMIN, []), ("agent", AGENT, ["--display-name", AGENT_DISPLAY_NAME])):
            subprocess.run([python, "-m", "bot", "create-user", "--username", name, "--role", role, *shown],
                           cwd=REPO_ROOT, env={**env, "AISLE_ADMIN_PASSWORD": STAFF_PASSWORD}, check=True,
                           capture_output=True)
        return stack

    def start(self, name: str, label: str | None = None, env: dict[str, str] | None = None) -> None:
        """Start a Procfile service; ``label`` and ``env`` start another instance of it (other port)."""
        label = label or name
        log = open(self.data_dir / f"{label}.log", "ab")
        self.processes[label] = subprocess.Popen(
            ["bash", "-c", "exec " + procfile_commands()[name]], cwd=REPO_ROOT, env={**self.env, **(env or {})},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self, name: str) -> None:
        proc = self.processes.pop(name)
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def start_all(self) -> None:
        for name in procfile_commands():
            self.start(name)
        self.wait_until_healthy()

    @property
    def secret(self) -> str:
        """The internal secret the services generated for this data dir (or AISLE_INTERNAL_SECRET)."""
        return self.settings.internal_secret()

    def rasa_api(self, path: str) -> str:
        """A URL of Rasa's HTTP API with its auth token."""
        return f"{self.settings.rasa_url}{path}{'&' if '?' in path else '?'}token={self.secret}"

    def service_process(self, name: str) -> psutil.Process:
        """The service itself, under its keepalive wrapper (bash → keepalive → service)."""
        children = psutil.Process(self.processes[name].pid).children(recursive=True)
        if not children:
            raise RuntimeError(f"{name} has no running service under its keepalive")
        return children[0]

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def log_tail(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            try:
                status, _ = http_json("GET", f"{self.web_url}/health", timeout=5)
                rasa_status, body = http_json("GET", self.rasa_api("/status"), timeout=5)
                if status == 200 and rasa_status == 200 and body.get("model_file"):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(1)
        raise RuntimeError("services not healthy in time:\n" + "\n".join(
            f"--- {n}\n{self.log_tail(n)}" for n in self.processes))

    def wait_healthy(self, label: str, health_url: str, limit_s: float = 60) -> None:
        """Until one started service answers 200 at ``health_url``; its log tail if it exits or is late."""
        deadline = time.monotonic() + limit_s
        while True:
            try:
                if http_json("GET", health_url, timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            if self.processes[label].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{label} not healthy:\n{self.log_tail(label)}")
            time.sleep(0.5)

    def seconds_until_healthy(self, limit_s: float) -> float:
        """After a fault: how long until the web app reports every service healthy again."""
        start = time.monotonic()
        while time.monotonic() - start < limit_s:
            try:
                if http_json("GET", f"{self.web_url}/health", timeout=5)[0] == 200:
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"services not healthy {limit_s:.0f} s after the fault:\n"
                           + "\n".join(self.log_tail(n) for n in self.processes))

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def chat(self, sender: str, text: str, timeout: float = 30) -> tuple[int, Any]:
        """One message through the web app's chat API (POST /api/messages) with the stack's API key."""
        return http_json("POST", f"{self.web_url}/api/messages", {"sender": sender, "message": text}, timeout,
                         API_AUTH)

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        """One shopper message through Rasa's REST channel, as the web app sends it (with the secret)."""
        status, replies = http_json("POST", f"{self.settings.rasa_url}/webhooks/rest/webhook",
                                    {"sender": sender, "message": text}, headers=bearer_headers(self.secret))
        assert status == 200, replies
        return replies

    def tracker(self, sender: str) -> dict[str, Any]:
        status, body = http_json("GET", self.rasa_api(f"/conversations/{sender}/tracker"))
        assert status == 200, body
        return body

    @staticmethod
    def command(name: str) -> list[str]:
        return shlex.split(procfile_commands()[name])
