#!/usr/bin/env bash
# The main job, for now: build kith, create Ada's identity from Examples/ada.yaml in a fresh
# home folder, and print her signed profile manifest, exported and verified.
# (Later issues turn this into the local demo mesh of three nodes.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "demo: building kith…" >&2
swift build --product kith 2>&1 | grep -E "error|warning:|Compiling kith|Build" >&2 || true
kith="$(swift build --show-bin-path)/kith"
[ -x "$kith" ] || { echo "demo: build failed" >&2; exit 1; }

work=$(mktemp -d -t kith-demo.XXXXXX)
home="$work/ada"
echo "demo: creating Ada's identity in $home" >&2
"$kith" init --home "$home" --from Examples/ada.yaml
echo
"$kith" manifest --home "$home"
echo
"$kith" manifest export --home "$home" --out "$work/ada.manifest.json"
cat "$work/ada.manifest.json"
echo
"$kith" verify "$work/ada.manifest.json"
echo "demo: done; Ada's node lives in $home (remove it with: rm -rf $work)" >&2
