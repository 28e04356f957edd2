"""The Rasa project itself, checked by Rasa (in .venv-rasa): data validation and test stories."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from aisle.config import REPO_ROOT, Settings

RASA = [str(REPO_ROOT / ".venv-rasa" / "bin" / "python"), "-m", "aisle.rasa_cli"]
# Responses that only custom actions or forms utter; Rasa's validator cannot see that and warns.
UTTERED_BY_ACTIONS = {"utter_ask_rephrase", "utter_english_only", "utter_offer_human", "utter_human_declined",
                      "utter_default", "utter_ask_order_number", "utter_ask_order_email", "utter_ask_return_reason",
                      "utter_ask_return_resolution", "utter_out_of_scope"}


def rasa(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    return subprocess.run([*RASA, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_rasa_data_validate():
    result = rasa("data", "validate")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "No story structure conflicts found" in output
    # Rasa's validator reports through rasa.shared.utils.io.raise_warning.
    warnings = [line for line in output.splitlines() if "utils/io.py" in line and "UserWarning:" in line]
    unexpected = [
        line for line in warnings
        if not re.search(r"The utterance '(\w+)' is not used in any story or rule", line)
        or re.search(r"'(\w+)'", line).group(1) not in UTTERED_BY_ACTIONS  # type: ignore[union-attr]
    ]
    assert not unexpected, unexpected


def test_rasa_test_stories_pass(tmp_path: Path):
    model_dir = Settings.from_env().rasa_model_dir
    assert (model_dir / "dialogue.tar.gz").exists(), "no dialogue model: run `make train` (make test does)"
    result = rasa("test", "core", "--stories", "tests/stories", "--model", str(model_dir),
                  "--out", str(tmp_path), "--fail-on-prediction-errors")
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text() if failed.exists() else result.stderr[-3000:]
    assert result.returncode == 0, detail
    assert "None of the test stories failed" in failed.read_text()


SPEEDUP_CHECK = """
import jsonschema
from aisle import rasa_speedups
from rasa.core.actions.action import RemoteAction

RESPONSES = [
    {"events": [], "responses": [{"text": "hi"}]},
    {"events": [{"event": "slot", "name": "product_query", "value": "boots", "timestamp": None},
                {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0},
                {"event": "bot", "text": "hello", "metadata": {}}, {"event": "followup", "name": "x"},
                {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 1}}},
                {"event": "active_loop", "name": None}, {"event": "reset_slots"}]},
    {},
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": "product_query"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "missing event key"}]},
    {"events": [{"event": 3}]},
    {"events": [{"event": "action", "confidence": "high"}]},
    {"events": [{"event": "user", "parse_data": {"entities": [{"entity": "color"}]}}]},
    {"events": [], "responses": ["not an object"]},
    {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": "yesterday"}]},
]
stock = RemoteAction("action_x", None)
expected = []
for response in RESPONSES:
    try:
        expected.append(stock._validate_action_result(response))
    except jsonschema.ValidationError:
        expected.append(False)
assert expected.count(True) == 3, expected
rasa_speedups.install()
action = RemoteAction("action_x", None)
for response, verdict in zip(RESPONSES, expected):
    try:
        assert action._validate_action_result(response) and verdict, response
    except jsonschema.ValidationError as error:
        assert not verdict, response
        assert "Failed to validate Action server response" in error.message
print("ok")
"""


def test_the_action_response_check_is_still_a_check():
    # aisle.rasa_speedups replaces how Rasa validates action server responses (built once, not per call,
    # and one event kind per event): it accepts and refuses exactly what Rasa's own check does.
    result = subprocess.run([RASA[0], "-c", SPEEDUP_CHECK], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


CONNECTION_CHECK = """
import asyncio
from aiohttp import web
from aisle import rasa_speedups
from rasa.utils.endpoints import EndpointConfig

async def main():
    peers = set()
    async def echo(request):
        peers.add(request.transport.get_extra_info("peername"))
        return web.json_response({"seen": request.headers.get("Authorization")})
    app = web.Application()
    app.router.add_post("/webhook", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer s"})
    answers = [await endpoint.request(json={"n": n}) for n in range(3)]
    assert answers == [{"seen": "Bearer s"}] * 3, answers
    await runner.cleanup()
    return len(peers)

print(asyncio.run(main()))
rasa_speedups.install()
print(asyncio.run(main()))
"""


def test_action_server_calls_keep_their_connection():
    # Rasa 3.6 opens a new connection per action call; aisle.rasa_speedups keeps one session per endpoint.
    result = subprocess.run([RASA[0], "-c", CONNECTION_CHECK], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["3", "1"], result.stdout  # stock Rasa: 3 connections; now 1


def test_the_graph_runner_predicts_what_dask_predicts():
    # aisle.rasa_speedups runs the policy graph without dask; the check compares both on the trained model.
    model = Settings.from_env().rasa_model_dir / "dialogue.tar.gz"
    assert model.exists(), "no dialogue model: run `make train` (make test does)"
    result = subprocess.run([RASA[0], "-m", "tests.check_rasa_graph_runner", str(model)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=180,
                            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_the_tracker_store_writes_what_rasas_own_writes(tmp_path: Path):
    # endpoints.yml names aisle.rasa_tracker_store (Rasa would fall back to memory, silently, if it could
    # not import it); the check compares its rows and trackers with Rasa's stock SQLTrackerStore.
    result = subprocess.run([RASA[0], "-m", "tests.check_rasa_tracker_store", str(tmp_path)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
