#!/usr/bin/env bash
# Resolve locks/app.in into locks/app.lock in a throw-away venv.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -r locks/app.in
"$tmp/venv/bin/pip" check
"$tmp/venv/bin/pip" install --no-deps -r locks/app-nodeps.in
"$tmp/venv/bin/pip" freeze --all --exclude pip > locks/app.lock
echo "wrote locks/app.lock ($(wc -l < locks/app.lock) packages)"
