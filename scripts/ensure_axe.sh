#!/usr/bin/env bash
# The accessibility checks in the browser tests (tests/accessibility.py) run Deque's axe-core in the page:
# axe-core 4.14.1, fetched once with npm into tests/.npm/ (git-ignored), checksum-pinned.
exec "$(dirname "$0")/ensure_npm.sh" axe-core 4.14.1 \
  e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745 "the axe-core accessibility checks" \
  axe.min.js LICENSE package.json
