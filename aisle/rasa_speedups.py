"""Rasa 3.6 hot spots, fixed before Rasa starts (``aisle.rasa_cli`` installs them; runs in .venv-rasa).

Found by profiling Aisle's Rasa server under load (py-spy):
- Rasa checks every action server response with ``jsonschema.validate``, which first re-validates the
  response *schema* against the JSON Schema metaschema on every call (about a third of its CPU). The same
  check with a validator built once.
- Every policy prediction (two or more per turn) runs the model's graph through ``dask.get``, whose
  scheduling of a handful of nodes cost about as much as the policies themselves. The same nodes called
  in dependency order, each once, in the calling thread (which is what dask's synchronous scheduler does).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner


@lru_cache(maxsize=1)
def action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # once per process instead of once per action call
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    try:
        action_response_validator().validate(result)
    except jsonschema.ValidationError as error:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          "from the Action endpoint is valid.")
        raise
    return True


def run_graph_in_order(self: DaskGraphRunner, inputs: dict[str, Any] | None = None,
                       targets: list[str] | None = None) -> dict[str, Any]:
    """``DaskGraphRunner.run`` without dask: a node receives each needed node's ``(name, output)`` and
    an input as ``(name, value)``, exactly as under dask."""
    run_targets = targets or self._graph_schema.target_names
    nodes = self._graph_schema.minimal_graph_schema(run_targets).nodes
    outputs: dict[str, Any] = {name: (name, value) for name, value in (inputs or {}).items()}

    def output_of(name: str) -> Any:
        if name not in outputs:
            needed = [output_of(need) for need in nodes[name].needs.values()]
            outputs[name] = self._instantiated_nodes[name](*needed)
        return outputs[name]

    try:
        return dict(output_of(target) for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    DaskGraphRunner.run = run_graph_in_order  # type: ignore[method-assign]
