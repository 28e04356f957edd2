#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through Playwright (never Playwright's own download).
# Installs it when missing and this runs as root with apt-get (CI); otherwise says what to do.
set -euo pipefail
if [[ ${AISLE_SKIP_BROWSER:-} == 1 ]]; then
  echo "✓ browser tests will be skipped (AISLE_SKIP_BROWSER=1)"
  exit 0
fi
if [[ -n ${AISLE_CHROMIUM:-} ]] || command -v chromium >/dev/null; then
  echo "✓ chromium for the browser tests: ${AISLE_CHROMIUM:-$(command -v chromium)}"
  exit 0
fi
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "→ installing Debian's chromium for the browser tests (once; a minute or two)"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    echo "✓ chromium installed: $(command -v chromium)"
    exit 0
  fi
  echo "error: 'apt-get install chromium' failed (see above); the browser tests need it" >&2
  exit 1
fi
echo "error: the browser tests need Chromium and it is not installed. Run 'sudo apt-get install -y chromium'," \
     "or set AISLE_CHROMIUM=/path/to/chromium, or set AISLE_SKIP_BROWSER=1 to skip those tests." >&2
exit 1
