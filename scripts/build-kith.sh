#!/usr/bin/env bash
# Installs what is needed, builds the kith executable (debug) and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "building kith…" >&2
swift build --product kith 2>&1 | grep -E "error|warning:|Compiling kith|Build" >&2 || true
kith="$(swift build --show-bin-path)/kith"
[ -x "$kith" ] || { echo "the build failed" >&2; exit 1; }
echo "$kith"
