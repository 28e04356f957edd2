"""Rasa's own DIETClassifier pipeline as the benchmark's peer baseline. Runs in .venv-rasa:

    .venv-rasa/bin/python -m bench.nlu_diet IN.json OUT.json [EPOCHS]

IN.json: {"train": [[text, label], ...], "test": [[text, label], ...]}. OUT.json: predictions, the
training time and per-message latencies. The pipeline is Rasa 3.6's default NLU config.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

# rasa 3.6's default NLU pipeline (rasa/engine/recipes/config_files/default_config.yml) minus the
# ResponseSelector, which needs retrieval intents that these data sets do not have.
DEFAULT_NLU_CONFIG = """
recipe: default.v1
language: en
assistant_id: aisle-bench
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: {epochs}
    constrain_similarities: true
    random_seed: 13
  - name: EntitySynonymMapper
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1
policies: []
"""


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = json.loads(Path(sys.argv[1]).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 100  # 100 is Rasa's default
        (work / "config.yml").write_text(DEFAULT_NLU_CONFIG.format(epochs=epochs))
        examples = [Message.build(text=text, intent=label) for text, label in data["train"]]
        TrainingData(examples).persist_nlu(str(work / "nlu.yml"))
        started = time.perf_counter()
        model = train_nlu(str(work / "config.yml"), str(work / "nlu.yml"), str(work / "models"),
                          fixed_model_name="diet")
        train_seconds = time.perf_counter() - started
        agent = Agent.load(model)

        async def parse_all() -> tuple[list[str], list[float]]:
            predictions, latencies = [], []
            for text, _ in data["test"]:
                t0 = time.perf_counter()
                parsed = await agent.parse_message(text)
                latencies.append((time.perf_counter() - t0) * 1000)
                predictions.append(parsed["intent"]["name"])
            return predictions, latencies

        predictions, latencies = asyncio.run(parse_all())
    Path(sys.argv[2]).write_text(json.dumps(
        {"predictions": predictions, "latencies_ms": latencies, "train_seconds": train_seconds, "epochs": epochs}
    ))


if __name__ == "__main__":
    main()
