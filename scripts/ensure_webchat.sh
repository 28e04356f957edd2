#!/usr/bin/env bash
# The rasa-webchat browser test (tests/test_rasa_webchat_browser.py) serves the real npm package's bundle:
# rasa-webchat 1.0.1, fetched once with npm into tests/.npm/ (git-ignored), checksum-pinned.
exec "$(dirname "$0")/ensure_npm.sh" rasa-webchat 1.0.1 \
  cd2a8ee5211df95c626fc78bcf9d7d3a50368eacd43c7154476d29e519d42685 "the rasa-webchat browser test" \
  lib/index.js LICENSE package.json
