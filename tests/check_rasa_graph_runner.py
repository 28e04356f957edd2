"""Run by tests/test_rasa_project.py with .venv-rasa's Python: the dialogue model's policies predict the
same actions, with the same probabilities, through aisle.rasa_speedups' graph runner as through dask.

    .venv-rasa/bin/python -m tests.check_rasa_graph_runner MODEL_TAR
"""
from __future__ import annotations

import sys

from rasa.core.agent import Agent
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from aisle import rasa_speedups

# Intent sequences that reach rules, memoised stories, a form and the fallback.
CONVERSATIONS = [["greet"], ["search_product", "refine_search", "product_details"], ["order_status"],
                 ["faq"], ["nlu_fallback"], ["human_handoff", "deny"], ["bot_challenge", "affirm"],
                 ["recommend", "similar_products", "add_to_cart", "thank", "goodbye"]]


def predictions(agent: Agent, intents: list[str]) -> list[tuple]:
    tracker = DialogueStateTracker.from_events("check", [ActionExecuted("action_listen")],
                                              slots=agent.domain.slots)
    seen = []
    for intent in intents:
        tracker.update(UserUttered(intent, {"name": intent, "confidence": 1.0}))
        prediction = agent.processor._predict_next_with_tracker(tracker)
        seen.append((intent, prediction.policy_name, list(prediction.probabilities)))
        tracker.update(ActionExecuted("action_listen"))
    return seen


def main(model: str) -> None:
    agent = Agent.load(model)
    expected = [predictions(agent, c) for c in CONVERSATIONS]
    assert DaskGraphRunner.run is not rasa_speedups.run_graph_in_order
    rasa_speedups.install()
    assert [predictions(agent, c) for c in CONVERSATIONS] == expected, "the graph runners predict differently"
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
