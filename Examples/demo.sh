#!/usr/bin/env bash
# The main job, for now: build kith, create Ada's and Ben's identities from Examples/, print and
# verify Ada's signed manifest, run both nodes on loopback, connect them by public key, let Ben
# accept, and show both sides' peers. (Later issues grow this into the three-node demo mesh with
# gossip and AI conversations.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "demo: building kith…" >&2
swift build --product kith 2>&1 | grep -E "error|warning:|Compiling kith|Build" >&2 || true
kith="$(swift build --show-bin-path)/kith"
[ -x "$kith" ] || { echo "demo: build failed" >&2; exit 1; }

work=$(mktemp -d -t kith-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "Ada and Ben create their identities"
"$kith" init --home "$work/ada" --from Examples/ada.yaml
"$kith" init --home "$work/ben" --from Examples/ben.yaml

step "Ada's signed profile manifest, exported and verified"
"$kith" manifest --home "$work/ada"
"$kith" manifest export --home "$work/ada" --out "$work/ada.manifest.json"
"$kith" verify "$work/ada.manifest.json"

step "Both run a node on loopback"
start_node() {  # name (listens on a free loopback port)
    "$kith" run --home "$work/$1" --listen "127.0.0.1:0" >"$work/$1.out" 2>"$work/$1.log" &
    pids+=($!)
    for _ in $(seq 1 100); do grep -q '^ready ' "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
    cat "$work/$1.out"
}
start_node ada
start_node ben

step "Ben shares his invite; Ada connects by public key"
invite=$("$kith" invite --home "$work/ben")
echo "Ben's invite: $invite"
"$kith" connect --home "$work/ada" "$invite"

step "Ben's policy is 'ask': he reviews and accepts"
"$kith" requests --home "$work/ben"
"$kith" accept --home "$work/ben" "$("$kith" id --home "$work/ada")"
sleep 0.5

step "Both see each other as connected friends"
"$kith" peers --home "$work/ada"
"$kith" peers --home "$work/ben"
"$kith" status --home "$work/ada"

echo
echo "demo: done; the nodes stop now. Their folders stay in $work (remove with: rm -rf $work)" >&2
