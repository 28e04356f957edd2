#!/usr/bin/env bash
# Resolve Rasa 3.6.21's dependencies for Python 3.11 into locks/rasa.lock (platform facts recipe):
# its metadata is evaluated as for Python 3.10, then rasa and rasa-sdk go in with --no-deps.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install packaging
"$tmp/venv/bin/pip" download --no-deps --ignore-requires-python -d "$tmp/wheels" rasa==3.6.21 rasa-sdk==3.6.2
"$tmp/venv/bin/python" scripts/rasa_requirements.py "$tmp"/wheels/*.whl > "$tmp/requirements.txt"
"$tmp/venv/bin/pip" install -r "$tmp/requirements.txt"   # never with --ignore-requires-python
"$tmp/venv/bin/pip" install --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
# Aisle's own additions to Rasa's process: /metrics and JSON log lines (pure Python, no dependencies).
"$tmp/venv/bin/pip" install prometheus-client python-json-logger
"$tmp/venv/bin/pip" freeze --all --exclude pip > locks/rasa.lock
echo "wrote locks/rasa.lock ($(wc -l < locks/rasa.lock) packages)"
