"""Rasa 3.6 hot spots, fixed before Rasa starts (``aisle.rasa_cli`` installs them; runs in .venv-rasa).

Found by profiling Aisle's Rasa server under load (py-spy):
- Rasa checks every action server response with ``jsonschema.validate``, which first re-validates the
  response *schema* against the JSON Schema metaschema on every call (about a third of its CPU), then
  tries each event against all 23 event kinds of a ``oneOf``. The same check with validators built once,
  each event tried against the one kind its ``event`` names (the others name another ``const``, so they
  could never match it).
- Every call to the action server opened a new HTTP connection (a new ``aiohttp.ClientSession`` per
  request). Now each endpoint keeps one session, and so its connections, per event loop.
- Every policy prediction (two or more per turn) runs the model's graph through ``dask.get``, whose
  scheduling of a handful of nodes cost about as much as the policies themselves. The same nodes called
  in dependency order, each once, in the calling thread (which is what dask's synchronous scheduler does).
"""
from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

import aiohttp
import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.utils.endpoints import EndpointConfig


@lru_cache(maxsize=1)
def action_response_validators() -> tuple[Any, dict[str, Any]]:
    """A validator for the response without its events' ``oneOf``, and one per event kind."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # once per process instead of once per action call
    event_schema = schema["properties"]["events"]["items"]
    common = {key: value for key, value in event_schema.items() if key != "oneOf"}
    events = {"type": "array", "items": common}
    response = {**schema, "properties": {**schema["properties"], "events": events}}
    kinds = {kind["properties"]["event"]["const"]: validator_class({**common, "allOf": [kind]})
             for kind in event_schema["oneOf"]}
    return validator_class(response), kinds


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    response, kinds = action_response_validators()
    try:
        response.validate(result)
        for event in result.get("events") or []:
            kind = kinds.get(event["event"])
            if kind is None:
                raise jsonschema.ValidationError(f"{event['event']!r} is not an event Rasa knows")
            kind.validate(event)
    except jsonschema.ValidationError as error:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          "from the Action endpoint is valid.")
        raise
    return True


class KeptSession:
    """What ``async with endpoint.session()`` gives Rasa: the endpoint's session, left open on exit."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *_: Any) -> None:
        return None


_rasa_session = EndpointConfig.session


def kept_session(self: EndpointConfig) -> KeptSession:
    loop = asyncio.get_running_loop()
    kept = getattr(self, "_aisle_session", None)
    if kept is None or kept[0] is not loop or kept[1].closed:
        kept = (loop, _rasa_session(self))
        self._aisle_session = kept  # type: ignore[attr-defined]
    return KeptSession(kept[1])


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
    EndpointConfig.session = kept_session  # type: ignore[method-assign]
