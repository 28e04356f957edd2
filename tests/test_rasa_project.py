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

rasa_speedups.install()
action = RemoteAction("action_x", None)
assert action._validate_action_result({"events": [], "responses": [{"text": "hi"}]})
try:
    action._validate_action_result({"events": "not a list"})
except jsonschema.ValidationError as error:
    assert "Failed to validate Action server response" in error.message
else:
    raise AssertionError("an invalid action server response was accepted")
print("ok")
"""


def test_the_action_response_check_is_still_a_check():
    # aisle.rasa_speedups replaces how Rasa validates action server responses (built once, not per call).
    result = subprocess.run([RASA[0], "-c", SPEEDUP_CHECK], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


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
