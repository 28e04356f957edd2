"""Metric names and labels, who may scrape /metrics, and the log line formats (aisle/observability.py,
aisle/logs.py)."""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aisle import observability as obs
from aisle.config import REPO_ROOT, ConfigError, Settings
from aisle.logs import formatter
from tests.metrics import value

TOKEN = "metrics-token-0123456789"


def sample_value(name: str, **labels: str) -> float:
    return value(obs.exposition().decode(), name, **labels)


def test_every_metric_the_issue_names_is_exposed_under_its_name() -> None:
    obs.declare("web", stages=obs.STAGES, turns=obs.CHANNELS)
    obs.declare("nlu", fallbacks=obs.FALLBACK_REASONS)
    names = {f.name: f for f in text_string_to_metric_families(obs.exposition().decode())}
    for name in ("aisle_turns", "aisle_stage_duration_seconds", "aisle_nlu_fallbacks", "aisle_handoffs",
                 "aisle_errors", "aisle_agent_queue_length"):
        assert name in names, name
    assert names["aisle_stage_duration_seconds"].type == "histogram"  # type: ignore[attr-defined]
    assert names["aisle_agent_queue_length"].type == "gauge"  # type: ignore[attr-defined]
    for stage in obs.STAGES:  # declared series exist at zero before the first event
        assert f'aisle_stage_duration_seconds_bucket{{le="+Inf",stage="{stage}"}}' in obs.exposition().decode()


def test_labels_come_only_from_fixed_sets() -> None:
    """A value outside the set (a shopper's text, an id) is counted as "other", so series stay bounded."""
    assert obs.bounded("api", obs.CHANNELS) == "api"
    assert obs.bounded("ignore previous instructions", obs.CHANNELS) == obs.OTHER
    assert obs.bounded(None, obs.FALLBACK_REASONS) == obs.OTHER
    before = sample_value("aisle_turns_total", channel="other")
    obs.TURNS.labels(obs.bounded("w-8f14e45fceea167a", obs.CHANNELS)).inc()
    assert sample_value("aisle_turns_total", channel="other") == before + 1
    allowed = {"channel": set(obs.CHANNELS) | {obs.OTHER}, "stage": set(obs.STAGES),
               "reason": set(obs.FALLBACK_REASONS) | {obs.OTHER},
               "kind": {k for kinds in obs.ERRORS.values() for k in kinds}, "le": None}
    for family in text_string_to_metric_families(obs.exposition().decode()):
        if not family.name.startswith("aisle_"):
            continue
        for sample in family.samples:
            for label, shown in sample.labels.items():
                assert label in allowed, (sample.name, label)
                assert allowed[label] is None or shown in allowed[label], (sample.name, label, shown)


@pytest.mark.parametrize("authorization, peer, headers, token, expected", [
    (None, "127.0.0.1", {}, None, None),  # make run: Prometheus on the same host
    (None, "::1", {}, None, None),
    (None, "10.0.0.7", {}, None, 403),  # another host, no token configured
    (None, "127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, None, 403),  # through a proxy on this host
    (None, "127.0.0.1", {"Forwarded": "for=203.0.113.9"}, None, 403),
    (None, "127.0.0.1", {"X-Real-IP": "203.0.113.9"}, None, 403),
    (None, None, {}, None, 403),  # a Unix socket
    (None, "10.0.0.7", {}, TOKEN, 401),  # token configured: loopback is no longer enough
    (None, "127.0.0.1", {}, TOKEN, 401),
    ("Bearer wrong-token-0123456789", "10.0.0.7", {}, TOKEN, 401),
    (TOKEN, "10.0.0.7", {}, TOKEN, 401),  # the bare token is not a bearer header
    (f"Bearer {TOKEN}", "10.0.0.7", {}, TOKEN, None),
    (f"Bearer {TOKEN}", "127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, TOKEN, None),
])
def test_who_may_scrape(authorization, peer, headers, token, expected) -> None:
    assert obs.may_scrape(authorization, peer, headers, token) == expected


def test_metrics_token_is_read_once_and_checked() -> None:
    assert Settings.from_env({}).metrics_token is None
    assert Settings.from_env({"AISLE_METRICS_TOKEN": f" {TOKEN} "}).metrics_token == TOKEN
    with pytest.raises(ConfigError, match="AISLE_METRICS_TOKEN"):
        Settings.from_env({"AISLE_METRICS_TOKEN": "short"})


def test_readiness_names_what_is_missing_and_nothing_else() -> None:
    assert obs.readiness_body([]) == (200, {"status": "ready"})
    assert obs.readiness_body(["database"]) == (503, {"status": "not ready", "failing": ["database"]})


def record(message: str = "conversation %s handed off", *args: object) -> logging.LogRecord:
    return logging.LogRecord("bot.handoff", logging.WARNING, __file__, 1, message, args or ("w-1",), None)


def test_text_log_lines_carry_the_date_and_offset() -> None:
    line = formatter("text").format(record())
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} WARNING bot\.handoff: conversation w-1 "
                    r"handed off$", line), line


def test_json_log_lines_are_one_object_each() -> None:
    line = formatter("json").format(record("said %r", 'a "quoted"\nline'))
    assert "\n" not in line
    body = json.loads(line)
    assert body["level"] == "WARNING" and body["logger"] == "bot.handoff"
    assert body["message"] == "said 'a \"quoted\"\\nline'"
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$", body["time"]), body


def test_log_format_is_validated() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"AISLE_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="AISLE_LOG_FORMAT"):
        Settings.from_env({"AISLE_LOG_FORMAT": "xml"})


def test_a_service_command_writes_json_lines_when_asked(tmp_path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AISLE_")},
           "AISLE_DATA_DIR": str(tmp_path), "AISLE_LOG_FORMAT": "json"}
    done = subprocess.run([str(REPO_ROOT / ".venv/bin/python"), "-m", "aisle", "migrate"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= lines[0].keys()
    assert any(line["message"] == "migrating database schema to head" for line in lines)
