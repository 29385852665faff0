#!/usr/bin/env bash
# Five Kith hosts in Linux network namespaces, joined by veth pairs to a bridge that lives in a
# sixth namespace (nothing is added to the caller's own network namespace). Each host runs
# `kith run` on its own address 10.213.7.N:7400. The script:
#   1. connects the hosts in a ring by public key and waits until every host holds all four other
#      manifests (everyone is within 2 hops);
#   2. cuts host 5 off (its link down), re-signs manifests on both sides of the cut, checks the
#      update does not cross it, heals, and measures how long until everyone has both updates;
#   3. has host 2 talk with host 3, kills host 3's node mid-conversation with SIGKILL, restarts
#      it, and waits for the conversation to complete and audit on both hosts.
# Traffic goes only to 10.213.7.0/24 inside the namespaces made here; everything is removed on
# exit. Needs root and iproute2. Usage: KITH_BIN=/path/to/kith Tests/Network/netns_mesh.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
kith="${KITH_BIN:?set KITH_BIN to a built kith binary}"
command -v ip >/dev/null || { echo "netns: iproute2 (ip) is missing: apt-get install iproute2" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "netns: needs root (ip netns)" >&2; exit 2; }

tag="k$$"                       # unique, short (interface names are at most 15 bytes)
bridge_ns="${tag}br"
work=$(mktemp -d -t kith-netns.XXXXXX)
declare -a pids=(0 0 0 0 0 0)
names=(- ada ben cleo dev eve)

cleanup() {
    for i in 1 2 3 4 5; do [[ ${pids[$i]} -gt 0 ]] && kill -9 "${pids[$i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for i in 1 2 3 4 5; do ip netns del "${tag}h$i" 2>/dev/null || true; done
    ip netns del "$bridge_ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf 'netns: %s\n' "$*"; }
fail() { say "FAILED: $*"; for i in 1 2 3 4 5; do echo "--- host $i log"; tail -20 "$work/h$i.log" 2>/dev/null; done; exit 1; }
home() { echo "$work/h$1"; }
addr() { echo "10.213.7.$1"; }

# Wait up to $1 seconds for the command in the remaining arguments to succeed.
wait_for() {
    local limit=$1; shift
    local deadline=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.2
    done
}

say "creating 5 hosts and a bridge"
ip netns add "$bridge_ns"
ip -n "$bridge_ns" link add br0 type bridge
ip -n "$bridge_ns" link set br0 up
for i in 1 2 3 4 5; do
    ns="${tag}h$i"
    ip netns add "$ns"
    ip link add "${tag}v$i" type veth peer name "${tag}b$i"
    ip link set "${tag}v$i" netns "$ns"
    ip link set "${tag}b$i" netns "$bridge_ns"
    ip -n "$bridge_ns" link set "${tag}b$i" master br0
    ip -n "$bridge_ns" link set "${tag}b$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(addr $i)/24" dev "${tag}v$i"
    ip -n "$ns" link set "${tag}v$i" up
done

say "initialising identities (auto-accepting friends, scripted AIs)"
lines="$work/lines.script"
for n in $(seq 1 300); do echo "say: turn $n of a conversation across namespaces, with a few more words"; done > "$lines"
for i in 1 2 3 4 5; do
    name=${names[$i]}
    source=Examples/ada.yaml
    [[ -f Examples/$name.yaml ]] && source=Examples/$name.yaml
    sed -e "s/^name: .*/name: ${name^}/" -e "s/connect: ask/connect: auto/" -e "s/converse: friends/converse: anyone/" \
        -e "s/converse: fof/converse: anyone/" -e "s|kind: embedded|kind: script\n  script: $lines|" \
        -e "s/max_turns: [0-9]*/max_turns: 200/" "$source" > "$work/$name.yaml"
    "$kith" init --home "$(home $i)" --from "$work/$name.yaml" >/dev/null
done

start() {  # host
    local i=$1
    : > "$work/h$i.out"
    ip netns exec "${tag}h$i" "$kith" run --home "$(home $i)" --listen "$(addr $i):7400" --no-dht --no-dashboard --log-level info >"$work/h$i.out" 2>>"$work/h$i.log" &
    pids[$i]=$!
    wait_for 20 grep -q '^ready ' "$work/h$i.out" || fail "host $i did not start"
}
for i in 1 2 3 4 5; do start $i; done
declare -a did
for i in 1 2 3 4 5; do did[$i]=$("$kith" id --home "$(home $i)"); done
say "5 nodes ready on $(addr 1)…$(addr 5)"

say "connecting the ring 1-2-3-4-5-1 by public key"
for i in 1 2 3 4 5; do
    j=$(( i % 5 + 1 ))
    out=$("$kith" connect --home "$(home $i)" "${did[$j]}@$(addr $j):7400")
    [[ $out == accepted* ]] || fail "connect $i→$j: $out"
done

knows_all() {  # host: holds the 4 other manifests
    [[ $("$kith" people --json --home "$(home $1)" | grep -c '"id"') -ge 4 ]]
}
t0=$(now)
for i in 1 2 3 4 5; do wait_for 60 knows_all $i || fail "host $i did not learn all 4 manifests"; done
say "every host holds all 4 other manifests after $(since "$t0") s"

seq_of() {  # host, did → the seq that host holds for did
    "$kith" show "$2" --json --home "$(home $1)" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])' 2>/dev/null
}
has_seq() { [[ "$(seq_of "$1" "$2")" == "$3" ]]; }
resign() {  # host, new bio → new seq
    sed -i "s/^bio: .*/bio: $2/" "$(home $1)/identity.yaml"
    "$kith" reload --home "$(home $1)" | sed -n 's/manifest re-signed: seq \([0-9]*\).*/\1/p'
}

say "partition: host 5's link goes down"
ip -n "${tag}h5" link set "${tag}v5" down
seq1=$(resign 1 "Updated while host 5 was cut off")
seq5=$(resign 5 "Updated alone on the far side of the cut")
[[ -n $seq1 && -n $seq5 ]] || fail "reload did not re-sign"
wait_for 20 has_seq 2 "${did[1]}" "$seq1" || fail "host 1's update did not reach host 2"
wait_for 20 has_seq 3 "${did[1]}" "$seq1" || fail "host 1's update did not reach host 3"
sleep 2
has_seq 5 "${did[1]}" "$seq1" && fail "host 1's update crossed the cut"
for i in 1 2 3 4; do has_seq $i "${did[5]}" "$seq5" && fail "host 5's update crossed the cut to host $i"; done
say "during the cut: host 1's seq $seq1 reached hosts 2-4, host 5's seq $seq5 stayed on host 5"

say "healing the link"
ip -n "${tag}h5" link set "${tag}v5" up
t0=$(now)
for i in 1 2 3 4; do wait_for 120 has_seq $i "${did[5]}" "$seq5" || fail "host 5's update never reached host $i"; done
wait_for 120 has_seq 5 "${did[1]}" "$seq1" || fail "host 1's update never reached host 5"
say "converged after healing in $(since "$t0") s"

say "host 2 talks with host 3; host 3's node is killed mid-conversation and restarted"
"$kith" talk --home "$(home 2)" "${did[3]}@$(addr 3):7400" --topic "across namespaces" --turns 200 >"$work/talk.out" 2>&1 &
talk_pid=$!
# field HOST CONV KEY: one field of a conversation from `kith conversations --json`.
field() {
    "$kith" conversations --json --home "$(home $1)" | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["id"] == sys.argv[1] or c.get("topic") == sys.argv[1]:
        print(c.get(sys.argv[2], "")); break' "$2" "$3"
}
conv_of() { field 2 "across namespaces" id; }
# Kill host 3 as soon as its log says the conversation opened (a tight, bounded poll).
for _ in $(seq 1 2000); do grep -q "conversation opened" "$work/h3.log" && break; sleep 0.005; done
grep -q "conversation opened" "$work/h3.log" || fail "the conversation did not start"
sleep 0.0$(( RANDOM % 5 ))
kill -9 "${pids[3]}"; wait "${pids[3]}" 2>/dev/null || true; pids[3]=0
conv=$(conv_of)
[[ -n $conv ]] || fail "host 2 does not list the conversation"
entries_at_kill=$(field 3 "$conv" entries)
[[ ${entries_at_kill:-0} -lt 201 ]] || fail "the kill landed after the conversation ended"
start 3
complete_on() { [[ "$(field "$1" "$conv" state)" == complete ]]; }
wait_for 60 complete_on 2 || fail "the conversation did not complete on host 2"
wait_for 30 complete_on 3 || fail "the conversation did not complete on host 3"
for i in 2 3; do "$kith" audit --all --home "$(home $i)" >/dev/null || fail "audit on host $i"; done
kill "$talk_pid" 2>/dev/null || true
total=$(field 2 "$conv" entries)
say "conversation ${conv:0:12}: host 3 held ${entries_at_kill:-0} of $total entries when killed; resumed, complete and audited on both hosts"
say "ok"
