#!/usr/bin/env bash
# The scale-out tests start real PostgreSQL and Redis servers (Debian's packages) on loopback, and the
# reverse-proxy test (tests/test_proxy_e2e.py) a TLS-terminating nginx. Installs them when missing and
# this runs as root with apt-get (CI); otherwise those tests are skipped, with a message saying so, and
# everything else still runs.
set -euo pipefail
if [[ ${AISLE_SKIP_SERVERS:-} == 1 ]]; then
  echo "✓ not installing PostgreSQL/Redis/nginx (AISLE_SKIP_SERVERS=1): tests that need a missing one are skipped"
  exit 0
fi
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
if [[ ${#missing[@]} == 0 ]]; then
  echo "✓ PostgreSQL, Redis and nginx for the scale-out and reverse-proxy tests are installed"
  exit 0
fi
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "→ installing Debian's ${missing[*]} for the scale-out and reverse-proxy tests (once; a minute or so)"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
    # Debian's packages start their own service where an init system runs: the tests start their own
    # (nginx on a free port with its own config, so a system nginx on :80 does not get in the way).
    echo "✓ installed: ${missing[*]}"
    exit 0
  fi
  echo "warning: 'apt-get install ${missing[*]}' failed (see above): the tests that need them will be skipped" >&2
  exit 0
fi
echo "warning: ${missing[*]} not installed and this is not root: the tests that need them will be skipped." \
     "Run 'sudo scripts/ensure_servers.sh' to run them." >&2
