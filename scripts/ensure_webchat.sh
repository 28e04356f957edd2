#!/usr/bin/env bash
# The rasa-webchat browser test (tests/test_rasa_webchat_browser.py) serves the real npm package's bundle.
# Fetches rasa-webchat 1.0.1 once with npm into tests/.npm/ (git-ignored), checking the tarball's
# checksum; without npm (or offline) the test is skipped with a message saying why, and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.0.1
sha256=cd2a8ee5211df95c626fc78bcf9d7d3a50368eacd43c7154476d29e519d42685
dest=tests/.npm/rasa-webchat-$version
if [[ -f $dest/lib/index.js ]]; then
  echo "✓ rasa-webchat $version for the browser tests: $dest"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "warning: npm is not installed: the rasa-webchat browser test will be skipped" \
       "(Debian: apt-get install -y npm, then run scripts/ensure_webchat.sh)" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "→ fetching rasa-webchat $version from npm for the browser tests (once)"
if ! (cd "$tmp" && npm pack --silent "rasa-webchat@$version" >/dev/null); then
  echo "warning: 'npm pack rasa-webchat@$version' failed (see above): the rasa-webchat browser test will be skipped" >&2
  exit 0
fi
tarball=$tmp/rasa-webchat-$version.tgz
if [[ $(sha256sum "$tarball" | cut -d' ' -f1) != "$sha256" ]]; then
  echo "error: $tarball does not have the expected SHA-256 $sha256" >&2
  exit 1
fi
mkdir -p "$dest"
tar -xzf "$tarball" -C "$dest" --strip-components=1 package/lib/index.js package/LICENSE package/package.json
echo "✓ rasa-webchat $version for the browser tests: $dest"
