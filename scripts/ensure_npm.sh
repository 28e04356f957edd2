#!/usr/bin/env bash
# Fetches one npm package that a browser test serves, once, into tests/.npm/NAME-VERSION (git-ignored),
# checking the tarball's SHA-256 and keeping only FILE... (paths inside the package). Without npm (or
# offline) it warns and exits 0: the tests that need the package skip and say why; nothing else does.
#   scripts/ensure_npm.sh NAME VERSION SHA256 WHAT-FOR FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 version=$2 sha256=$3 purpose=$4
shift 4
dest=tests/.npm/$name-$version
if [[ -f $dest/$1 ]]; then
  echo "✓ $name $version for $purpose: $dest"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "warning: npm is not installed: $purpose will be skipped" \
       "(Debian: apt-get install -y npm, then run $0 again or make test)" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "→ fetching $name $version from npm for $purpose (once)"
if ! (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null); then
  echo "warning: 'npm pack $name@$version' failed (see above): $purpose will be skipped" >&2
  exit 0
fi
tarball=$tmp/$name-$version.tgz
if [[ $(sha256sum "$tarball" | cut -d' ' -f1) != "$sha256" ]]; then
  echo "error: $tarball does not have the expected SHA-256 $sha256" >&2
  exit 1
fi
mkdir -p "$dest"
tar -xzf "$tarball" -C "$dest" --strip-components=1 "${@/#/package/}"
echo "✓ $name $version for $purpose: $dest"
