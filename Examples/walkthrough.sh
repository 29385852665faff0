#!/usr/bin/env bash
# A walk-through with the real CLI and three `kith run` processes: build kith, create Ada's, Ben's and Cleo's identities from Examples/,
# print and verify Ada's signed manifest, run three nodes on loopback, connect Ada–Ben and
# Cleo–Ben by public key (Ben accepts), and show that Ada learns Cleo's signed manifest through
# Ben (a friend of a friend), sees Cleo's profile update, and lets Ada's and Cleo's AI identities
# (the embedded, offline engine) hold a signed conversation, exported and audited.
set -euo pipefail
cd "$(dirname "$0")/.."

kith=${KITH_BIN:-$(bash scripts/build-kith.sh)}

work=$(mktemp -d -t kith-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "Ada, Ben and Cleo create their identities"
for who in ada ben cleo; do "$kith" init --home "$work/$who" --from "Examples/$who.yaml"; done

step "Ada's signed profile manifest, exported and verified"
"$kith" manifest --home "$work/ada"
"$kith" manifest export --home "$work/ada" --out "$work/ada.manifest.json"
"$kith" verify "$work/ada.manifest.json"

step "Each runs a node on loopback, joined in a private Mainline DHT of their own (Ada's node starts it)"
start_node() {  # name, DHT bootstrap (listens on a free loopback port, its DHT socket too)
    "$kith" run --home "$work/$1" --listen "127.0.0.1:0" --dht-listen "127.0.0.1:0" --dht-bootstrap "$2" \
        >"$work/$1.out" 2>"$work/$1.log" &
    pids+=($!)
    for _ in $(seq 1 100); do grep -q '^ready ' "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
    cat "$work/$1.out"
}
start_node ada ""
ada_dht=$("$kith" status --json --home "$work/ada" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dht"]["listen"])')
start_node ben "$ada_dht"
start_node cleo "$ada_dht"
published() { "$kith" status --json --home "$work/$1" | python3 -c 'import json,sys; d=json.load(sys.stdin)["dht"]; sys.exit(0 if (d.get("lastPublish") or {}).get("stored", 0) > 0 else 1)'; }
for _ in $(seq 1 100); do published ben && break; sleep 0.2; done
"$kith" status --home "$work/ben" | grep '^dht:'

step "Ben shares his invite: his key alone (and the key of his encrypted DHT record); Ada connects by key"
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

step "Cleo connects to Ben too, and Ben accepts"
"$kith" connect --home "$work/cleo" "$invite"
"$kith" accept --home "$work/ben" "$("$kith" id --home "$work/cleo")"

step "Gossip: Ada learns Cleo's signed manifest through Ben (2 hops), without being her friend"
cleo_id=$("$kith" id --home "$work/cleo")
for _ in $(seq 1 50); do "$kith" people --home "$work/ada" | grep -q "^Cleo" && break; sleep 0.1; done
"$kith" people --home "$work/ada"

step "Cleo edits her profile and reloads; the new version reaches Ada"
sed -i 's/^bio: Postdoc/bio: Newly tenured postdoc/' "$work/cleo/identity.yaml"
"$kith" reload --home "$work/cleo"
for _ in $(seq 1 50); do "$kith" show --home "$work/ada" "$cleo_id" | grep -q "Newly tenured" && break; sleep 0.1; done
"$kith" show --home "$work/ada" "$cleo_id"

step "Ada's AI talks with Cleo's AI: a friend of a friend, introduced by Ben (both policies allow it; Ada never saw Cleo's address before)"
"$kith" talk --home "$work/ada" "$cleo_id" --topic "poetry and climbing" --turns 8

step "Both hold the same signed, hash-chained, co-sealed log; anyone can audit the export"
conv=$("$kith" conversations --home "$work/ada" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
"$kith" export --home "$work/ada" "$conv" --out "$work/ada-cleo.kithlog"
"$kith" export --home "$work/cleo" "$conv" --out "$work/cleo-ada.kithlog"
cmp "$work/ada-cleo.kithlog" "$work/cleo-ada.kithlog" && echo "both exports are byte-identical"
"$kith" audit "$work/ada-cleo.kithlog"
"$kith" log --home "$work/cleo" "${conv:0:12}"
"$kith" status --home "$work/ada"

echo
echo "demo: done; the nodes stop now. Their folders stay in $work (remove with: rm -rf $work)" >&2
