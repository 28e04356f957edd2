"""Metrics and probes of the running stack (tests/e2e_stack.py): a chat turn is counted by every service it
passes through, and every service answers /livez and /readyz."""
from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest

from tests.e2e_stack import http_json
from tests.metrics import Key, samples

COUNT = "aisle_stage_duration_seconds_count"


def scrape(base: str) -> dict[Key, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:  # loopback: no token needed
        assert resp.status == 200
        return samples(resp.read().decode())


def grew(before: dict[Key, float], after: dict[Key, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def bases(stack) -> dict[str, str]:  # type: ignore[no-untyped-def]
    s = stack.settings
    return {"web": stack.web_url, "nlu": s.nlu_url, "actions": s.action_url.rsplit("/webhook", 1)[0],
            "rasa": s.rasa_url}


def test_a_search_turn_is_counted_on_every_service_it_passes(stack):
    urls = bases(stack)
    before = {name: scrape(urls[name]) for name in urls}
    sender = f"metrics-{uuid.uuid4().hex[:12]}"
    status, body = stack.chat(sender, "show me hiking boots")
    assert status == 200 and body["messages"], body
    after = {name: scrape(urls[name]) for name in urls}
    assert grew(before["web"], after["web"], "aisle_turns_total", channel="api") == 1
    assert grew(before["web"], after["web"], COUNT, stage="gateway") == 1
    assert grew(before["web"], after["web"], COUNT, stage="rasa") == 1
    assert grew(before["rasa"], after["rasa"], COUNT, stage="rasa") == 1  # Rasa's own side of the round trip
    assert grew(before["nlu"], after["nlu"], COUNT, stage="nlu_parse") >= 1
    assert grew(before["actions"], after["actions"], COUNT, stage="action") >= 1
    assert grew(before["actions"], after["actions"], COUNT, stage="search") >= 1
    for name, samples in after.items():
        assert not any(sender in str(key) or body["conversation_id"] in str(key) for key in samples), name


def test_every_service_has_liveness_and_readiness(stack):
    for name, base in bases(stack).items():
        assert http_json("GET", f"{base}/livez") == (200, {"status": "live"}), name
        assert http_json("GET", f"{base}/readyz") == (200, {"status": "ready"}), name
        if name != "rasa":  # the existing /health keeps answering (Rasa has its own "/")
            assert http_json("GET", f"{base}/health")[0] == 200, name


@pytest.mark.parametrize("service", ["web", "rasa"])
def test_metrics_refuse_a_request_that_came_through_a_proxy(stack, service):
    request = urllib.request.Request(f"{bases(stack)[service]}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
