#!/usr/bin/env bash
# The scale-out tests start real PostgreSQL and Redis servers (Debian's packages) on loopback.
# Installs them when missing and this runs as root with apt-get (CI); otherwise those tests are skipped,
# with a message saying so, and everything else still runs.
set -euo pipefail
if [[ ${AISLE_SKIP_SERVERS:-} == 1 ]]; then
  echo "✓ PostgreSQL/Redis tests will be skipped (AISLE_SKIP_SERVERS=1)"
  exit 0
fi
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if [[ ${#missing[@]} == 0 ]]; then
  echo "✓ PostgreSQL and Redis for the scale-out tests are installed"
  exit 0
fi
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "→ installing Debian's ${missing[*]} for the scale-out tests (once; a minute or so)"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
    # Debian's packages start their own service where an init system runs: the tests start their own.
    echo "✓ installed: ${missing[*]}"
    exit 0
  fi
  echo "warning: 'apt-get install ${missing[*]}' failed (see above): the scale-out tests will be skipped" >&2
  exit 0
fi
echo "warning: ${missing[*]} not installed and this is not root: the scale-out tests will be skipped." \
     "Run 'sudo scripts/ensure_servers.sh' to run them." >&2
