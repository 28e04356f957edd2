"""A Rasa 3.6 hot spot, fixed before Rasa starts (``aisle.rasa_cli`` installs it; runs in .venv-rasa).

Rasa checks every action server response with ``jsonschema.validate``, which first re-validates the
response *schema* against the JSON Schema metaschema on every call. Profiling Aisle's Rasa server under
load (py-spy) put about a third of its CPU there. The same check with a validator built once.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
from rasa.core.actions.action import RemoteAction


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


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
