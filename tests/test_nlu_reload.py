"""A newly trained model replaces the served one without dropping requests."""
from __future__ import annotations

import asyncio
import dataclasses

from aisle.config import Settings
from nlu_models.finetune import FineTuneSettings
from nlu_models.server import NluService, load_parser
from nlu_models.training import train_model
from tests.test_nlu_training import tiny_examples

QUICK = FineTuneSettings(max_epochs=2, patience=2, batch_size=8, gibberish_examples=8)


async def test_new_model_is_swapped_in_while_requests_flow(tmp_path):
    settings = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)})
    first = train_model(tiny_examples(), QUICK, ["zzzz"], progress=False)
    first.meta["fingerprint"] = "first"
    first.save(settings.nlu_model_dir)
    service = NluService(settings, load_parser(settings))
    assert await service.reload_if_changed() is False  # nothing new yet

    second = train_model(tiny_examples(), dataclasses.replace(QUICK, seed=99), ["zzzz"], progress=False)
    second.meta["fingerprint"] = "second"
    second.save(settings.nlu_model_dir)

    worker = asyncio.create_task(service.run_batches())
    try:
        requests = [asyncio.create_task(service.parse(f"where is my order {i}")) for i in range(30)]
        assert await service.reload_if_changed() is True
        more = [asyncio.create_task(service.parse("hello there")) for _ in range(10)]
        answers = await asyncio.gather(*requests, *more)
    finally:
        worker.cancel()
    assert len(answers) == 40 and all(a["intent"]["name"] for a in answers)
    assert service.fingerprint == "second"
