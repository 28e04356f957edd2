#!/usr/bin/env bash
# Create or refresh a virtual environment from a committed lock file, idempotently.
#   scripts/setup_venv.sh VENV LOCK [extra pip flags]
# A venv whose stamp matches the lock's hash is left alone; otherwise it is rebuilt from scratch,
# so a changed lock never leaves stale packages behind.
set -euo pipefail

venv=$1 lock=$2
shift 2
stamp="$venv/.aisle-lock.sha256"

[[ -f $lock ]] || { echo "error: lock file $lock is missing" >&2; exit 1; }
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  echo "✓ $venv is up to date with $lock: nothing to do"
  exit 0
fi

python=$(command -v python3.11 || true)
if [[ -z $python ]]; then
  echo "error: python3.11 is required to build $venv but is not on PATH" >&2
  exit 1
fi

# Each venv takes 2-2.5 GB (torch, TensorFlow): a full disk would otherwise fail deep inside pip.
need_mb=3000
mkdir -p "$(dirname "$venv")"
free_mb=$(df -Pm "$(dirname "$venv")" | awk 'NR==2 {print $4}')
if (( free_mb < need_mb )); then
  echo "error: building $venv needs about $need_mb MB of free disk space; only $free_mb MB are free there" >&2
  exit 1
fi

count=$(grep -cE '^[A-Za-z0-9]' "$lock")
echo "→ [$venv 1/3] creating the virtual environment with $($python --version)"
"$python" -m venv --clear "$venv"
echo "→ [$venv 2/3] installing $count pinned packages from $lock (this takes a minute or two)"
if ! "$venv/bin/pip" install --no-deps --no-input --progress-bar on "$@" -r "$lock"; then
  echo "error: installing $lock into $venv failed (see pip's message above)" >&2
  exit 1
fi
echo "→ [$venv 3/3] checking the installation"
"$venv/bin/python" -c "import sys; print('  python', sys.version.split()[0], 'ok')"
echo "$want" > "$stamp"
echo "✓ $venv is ready"
