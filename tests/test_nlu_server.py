"""Rasa's NLU protocol as served by nlu_models, with the real trained model (make test trains it)."""
from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aisle.config import Settings
from aisle.internal_auth import bearer_headers
from nlu_models.server import create_app, load_parser
from tests.metrics import value

CONTRACT_KEYS = {"text", "intent", "intent_ranking", "entities"}


@pytest.fixture(scope="module")
def parser():
    settings = Settings.from_env()
    if not (settings.nlu_model_dir / "meta.json").exists():
        pytest.fail(f"no trained NLU model in {settings.nlu_model_dir}: run `make train` (make test does)")
    return load_parser(settings)


@pytest.fixture
def settings():
    """The model from AISLE_DATA_DIR; the internal secret from the environment (the data dir's own file
    is the services' business)."""
    return dataclasses.replace(Settings.from_env(), internal_secret_env="nlu-test-secret-0123456789")


@pytest.fixture
async def client(parser, settings):
    """Rasa's side of the protocol: every call carries the internal secret."""
    app = create_app(settings, parser=parser)
    async with TestClient(TestServer(app), headers=bearer_headers(settings.internal_secret())) as c:
        yield c


@pytest.fixture
async def anonymous(parser, settings):
    async with TestClient(TestServer(create_app(settings, parser=parser))) as c:
        yield c


async def parse(client, payload):
    resp = await client.post("/model/parse", json=payload)
    return resp.status, await resp.json()


async def test_response_has_rasa_parse_shape(client):
    status, body = await parse(client, {"text": "hello there", "message_id": "abc"})
    assert status == 200
    assert CONTRACT_KEYS <= body.keys()
    assert body["text"] == "hello there"
    assert body["intent"]["name"] == "greet"
    assert 0 < body["intent"]["confidence"] <= 1
    assert body["intent_ranking"][0]["name"] == "greet"
    confidences = [r["confidence"] for r in body["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)


@pytest.mark.parametrize("text, intent", [
    ("where is my order 10482?", "order_status"),
    ("am I talking to a real person?", "bot_challenge"),
    ("let me talk to a person", "human_handoff"),
    ("thanks a lot", "thank"),
])
async def test_model_understands_clear_messages(client, text, intent):
    _, body = await parse(client, {"text": text})
    assert body["intent"]["name"] == intent


async def test_gibberish_falls_back_with_the_real_ranking_attached(client):
    _, body = await parse(client, {"text": "blorp fnargle wibble zzq"})
    assert body["intent"]["name"] == "nlu_fallback"
    names = [r["name"] for r in body["intent_ranking"]]
    assert names[0] == "nlu_fallback" and len(names) > 1


@pytest.mark.parametrize("text, intent, reason", [
    ("", "nlu_fallback", "empty"),
    ("   \n\t ", "nlu_fallback", "empty"),
    ("🙂🙂", "nlu_fallback", "no_words"),
    ("👍", "affirm", "emoji"),
    ("?!?!", "nlu_fallback", "no_words"),
    ("ich möchte schuhe kaufen", "nlu_fallback", "not_english"),
    ("我想买鞋", "nlu_fallback", "not_english"),
])
async def test_input_without_english_words_gets_a_defined_answer(client, text, intent, reason):
    status, body = await parse(client, {"text": text})
    assert status == 200
    assert body["intent"] == {"name": intent, "confidence": 1.0}
    assert body["fallback_reason"] == reason


async def test_entities_come_with_the_intent(client):
    _, body = await parse(client, {"text": "show me black sneakers under $80"})
    assert body["intent"]["name"] == "search_product"
    assert {(e["entity"], e["value"]) for e in body["entities"]} == {
        ("color", "black"), ("product_type", "sneaker"), ("price_max", 80)}


async def test_concurrent_requests_are_all_answered(client):
    texts = [f"where is my order {10000 + i}" for i in range(40)]
    results = await asyncio.gather(*(parse(client, {"text": t}) for t in texts))
    assert [body["text"] for _, body in results] == texts
    assert {body["intent"]["name"] for _, body in results} == {"order_status"}


async def test_very_long_text_is_handled(client):
    text = "I am looking for a waterproof jacket " * 140  # ~5,000 characters
    status, body = await parse(client, {"text": text[:5000]})
    assert status == 200
    assert body["text"] == text[:5000]
    assert body["intent"]["name"]


async def test_button_payloads_name_the_intent(client):
    _, body = await parse(client, {"text": '/add_to_cart{"quantity": 2}'})
    assert body["intent"] == {"name": "add_to_cart", "confidence": 1.0}
    assert body["entities"] == [{"entity": "quantity", "value": 2, "start": 0, "end": 0}]


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "must be JSON"),
    (b'["a list"]', "object with a string field 'text'"),
    (b'{"message_id": "x"}', "object with a string field 'text'"),
    (b'{"text": 42}', "object with a string field 'text'"),
])
async def test_bad_requests_get_400_with_a_message(client, raw, message):
    resp = await client.post("/model/parse", data=raw, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert message in (await resp.json())["error"]


async def test_health_reports_the_loaded_model(client):
    resp = await client.get("/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert body["model"]["kind"] == "minilm-l6-finetuned"
    assert 0 < body["threshold"] < 1


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-secret-0123456789", "nlu-test-secret-0123456789",
                                           "Bearer nlu-test-secret-012345678"])
async def test_parse_without_the_internal_secret_is_refused(anonymous, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    resp = await anonymous.post("/model/parse", json={"text": "where is my order 10001?"}, headers=headers)
    assert resp.status == 401
    body = await resp.json()
    assert "intent" not in body and "AISLE_INTERNAL_SECRET" in body["error"]


async def test_anonymous_health_tells_only_the_status(anonymous):
    resp = await anonymous.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_metrics_count_parses_and_fallbacks_for_a_local_scraper(client, anonymous):
    """The test client connects over loopback, as Prometheus on the same host would."""
    before = await (await anonymous.get("/metrics")).text()
    assert (await parse(client, {"text": "qwxz vbnm plkj"}))[1]["intent"]["name"] == "nlu_fallback"
    resp = await anonymous.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    after = await resp.text()
    count = "aisle_stage_duration_seconds_count"
    assert value(after, count, stage="nlu_parse") == value(before, count, stage="nlu_parse") + 1
    fallbacks = "aisle_nlu_fallbacks_total"
    assert sum(value(after, fallbacks, reason=r) - value(before, fallbacks, reason=r)
               for r in ("noise", "low_confidence", "no_words")) == 1
    assert "qwxz" not in after  # no shopper text in any label


async def test_metrics_refuse_a_proxied_caller_and_need_the_token_once_set(parser, settings, anonymous):
    resp = await anonymous.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 403 and "AISLE_METRICS_TOKEN" in (await resp.json())["error"]
    token = "nlu-metrics-token-0123456789"
    app = create_app(dataclasses.replace(settings, metrics_token=token), parser=parser)
    async with TestClient(TestServer(app)) as c:
        assert (await c.get("/metrics")).status == 401
        assert (await c.get("/metrics", headers=bearer_headers(settings.internal_secret()))).status == 401
        assert (await c.get("/metrics", headers=bearer_headers(token))).status == 200


async def test_liveness_and_readiness_probes(anonymous):
    assert await (await anonymous.get("/livez")).json() == {"status": "live"}
    resp = await anonymous.get("/readyz")
    assert resp.status == 200 and await resp.json() == {"status": "ready"}


async def test_threshold_decides_the_fallback(parser):
    strict = dataclasses.replace(parser, threshold=1.0)
    result = strict.parse("hello")
    assert result["intent"]["name"] == "nlu_fallback"
    assert result["fallback_reason"] == "low_confidence"
    assert result["intent_ranking"][1]["name"] == "greet"
    lenient = dataclasses.replace(parser, threshold=0.0)
    assert lenient.parse("hello")["intent"]["name"] == "greet"
