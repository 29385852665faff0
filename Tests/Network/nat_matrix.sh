#!/usr/bin/env bash
# NAT traversal matrix: Kith nodes in the NAT lab (Tests/Network/nat_lab.sh: pub, pub2 and two
# home hosts behind each of four kinds of NAT, on a pretend internet 198.18.0.0/24). Every node
# runs `kith run` on 0.0.0.0:7400 with the Mainline DHT on UDP 6881 (pub is the bootstrap). The
# script:
#   1. initialises an identity per host (auto-accepting friends, conversing with anyone, scripted
#      AI lines, short conversations, `policy.dht: public`) and starts the nodes;
#   2. has every home host befriend pub and pub2 (two observers), waits until each home host knows
#      its reachability and its public DHT record (with its relays) resolves from pub, and checks
#      fw/nat/cgn hosts are `behind-nat`, sym hosts `behind-symmetric-nat`;
#   3. for each unordered pair of NAT types (with replacement) has X_a `kith connect` Y_b by key
#      alone (DHT record → direct endpoints, then relays, then a hole punch), times the set-up and
#      how long until the session is direct, then has X_a talk with Y_b and audits it on both;
#   4. prints a markdown table and a summary; exits 0 iff all 10 pairs connected and every
#      conversation completed and audited on both hosts.
# Traffic stays inside the lab's namespaces; everything is removed on exit. Needs root, iproute2,
# nftables and python3. Usage: KITH_BIN=/path/to/kith Tests/Network/nat_matrix.sh
# Optional: NATMATRIX_LOG_LEVEL (default info) for the nodes' logs; NATMATRIX_KEEP=DIR keeps the
# nodes' logs there.
set -euo pipefail
kith_src="${KITH_BIN:?set KITH_BIN to a built kith binary}"
kith_src=$(readlink -f "$(command -v "$kith_src" || echo "$kith_src")")
cd "$(dirname "$0")/../.."
command -v python3 >/dev/null || { echo "natmatrix: python3 is missing" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "natmatrix: needs root (ip netns)" >&2; exit 2; }
log_level="${NATMATRIX_LOG_LEVEL:-info}"

lab_tag="nm$$"
# shellcheck source=Tests/Network/nat_lab.sh
source Tests/Network/nat_lab.sh

work=$(mktemp -d -t kith-natmatrix.XXXXXX)
declare -A pid=()
talk=0
bg=()
cleanup() {
    local h p
    [[ $talk -eq 0 ]] || kill "$talk" 2>/dev/null || true
    for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
    for h in "${!pid[@]}"; do kill -9 "${pid[$h]}" 2>/dev/null || true; done
    for h in "${!pid[@]}"; do wait "${pid[$h]}" 2>/dev/null || true; done
    lab_down
    if [[ -n ${NATMATRIX_KEEP:-} ]]; then mkdir -p "$NATMATRIX_KEEP" && cp "$work"/*.log "$work"/*.out "$NATMATRIX_KEEP"/ 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private copy of the binary: a rebuild of KITH_BIN during the run cannot pull it away.
for _ in $(seq 1 100); do
    cp "$kith_src" "$work/kith" 2>/dev/null && "$work/kith" --version >/dev/null 2>&1 && break
    rm -f "$work/kith"; sleep 0.3
done
[[ -x $work/kith ]] || { echo "natmatrix: cannot copy a working $kith_src" >&2; exit 2; }
kith="$work/kith"

t_start=$EPOCHREALTIME
say() { printf 'natmatrix: %s\n' "$*"; }
problems=()
problem() { say "PROBLEM: $*"; problems+=("$*"); }
die() { say "FAILED: $*"; dump_logs $(lab_hosts); exit 1; }
dump_logs() {
    local h
    for h in "$@"; do echo "--- $h log (last 30 lines)"; tail -30 "$work/$h.log" 2>/dev/null || true; done
}
home() { echo "$work/$1"; }
short_dids() { sed -E 's/did:key:z[1-9A-HJ-NP-Za-km-z]+([1-9A-HJ-NP-Za-km-z]{8})/did:key:…\1/g'; }
# secs_since START → seconds (2 decimals) from an EPOCHREALTIME value to now.
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
# Wait up to $1 seconds for the command in the remaining arguments to succeed.
wait_for() {
    local limit=$1; shift
    local deadline=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.2
    done
}
# jget EXPR [ARG...]: evaluate a Python expression over the JSON on stdin (as d; the ARGs are
# sys.argv[2:]); prints "" on any error.
jget() {
    python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception:
    v = ""
print("" if v is None else v)' "$@"
}

lab_up || { echo "natmatrix: lab_up failed" >&2; exit 1; }
hosts=($(lab_hosts))
homes=($(lab_home_hosts))
say "lab up (tag $lab_tag): ${hosts[*]}"

# 1. Identities and nodes.
lines="$work/lines.script"
for n in $(seq 1 50); do echo "say: turn $n of a conversation across NATs, with a few more words"; done > "$lines"
examples=(ada ben cleo)
i=0
for h in "${hosts[@]}"; do
    name=$(tr -d _ <<<"$h"); name=${name^}
    sed -e "s/^name: .*/name: $name/" -e "s/connect: ask/connect: auto/" -e "s/converse: friends/converse: anyone/" \
        -e "s/converse: fof/converse: anyone/" -e "s|kind: embedded|kind: script\n  script: $lines|" \
        -e "s/max_turns: [0-9]*/max_turns: 4/" -e "s/^policy:/policy:\n  dht: public\n  relay: friends/" \
        "Examples/${examples[i % 3]}.yaml" > "$work/$h.yaml"
    grep -q '^  dht: public' "$work/$h.yaml" || die "no policy.dht line in $work/$h.yaml"
    "$kith" init --home "$(home "$h")" --from "$work/$h.yaml" >"$work/init_$h" 2>&1 || die "kith init for $h: $(cat "$work/init_$h")"
    i=$((i + 1))
done
declare -A did=()
for h in "${hosts[@]}"; do did[$h]=$("$kith" id --home "$(home "$h")"); done

start() {  # host
    local h=$1 args=(--listen 0.0.0.0:7400 --dht-listen 0.0.0.0:6881)
    case $h in
        pub) args+=(--advertise "$lab_pub_ip" --dht-bootstrap "$lab_pub2_ip:6881") ;;
        pub2) args+=(--advertise "$lab_pub2_ip" --dht-bootstrap "$lab_pub_ip:6881") ;;
        *) args+=(--dht-bootstrap "$lab_pub_ip:6881") ;;
    esac
    ip netns exec "$(lab_host_ns "$h")" "$kith" run --home "$(home "$h")" "${args[@]}" --no-dashboard --exit-with-parent \
        --log-level "$log_level" >"$work/$h.out" 2>>"$work/$h.log" &
    pid[$h]=$!
}
for h in "${hosts[@]}"; do start "$h"; done
for h in "${hosts[@]}"; do
    wait_for 20 grep -q '^ready ' "$work/$h.out" || die "$h's node did not start"
done
say "10 nodes ready (DHT bootstrap $lab_pub_ip:6881), $(secs_since "$t_start") s since start"

# 2. Every home host and pub2 befriend pub; every home host befriends pub2.
t0=$EPOCHREALTIME
befriend() {  # host target
    local out
    out=$(timeout 20 "$kith" connect --home "$(home "$1")" "${did[$2]}@$(lab_public_ip "$2"):7400" 2>&1) || true
    echo "$out" > "$work/befriend_${1}_$2"
}
# One after another, as people come online. (Seventeen handshakes at once, all from the lab's one
# /24, make pub hand out retry cookies by its per-network handshake limit; the dial retried with
# the cookie then leaves from an ephemeral port, whose observation does not count.)
befriend pub2 pub
for h in "${homes[@]}"; do befriend "$h" pub; befriend "$h" pub2; done
for f in "$work"/befriend_*; do
    [[ $(cat "$f") == accepted* ]] || die "${f##*/befriend_}: $(cat "$f")"
done
say "home hosts befriended pub and pub2 in $(secs_since "$t0") s"

at_least_1() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1 )); }
# settled HOST: reachability known, relays listed, the DHT record stored, and pub resolves the
# host's public record with its relays (and, unless symmetric, its public endpoint).
settled() {
    local h=$1 s rec
    s=$(timeout 5 "$kith" status --json --home "$(home "$h")") || return 1
    [[ $(jget 'd["reach"]["reachability"]' <<<"$s") != unknown ]] || return 1
    at_least_1 "$(jget 'len(d["reach"]["relays"])' <<<"$s")" || return 1
    at_least_1 "$(jget 'd["dht"]["lastPublish"]["stored"]' <<<"$s")" || return 1
    rec=$(timeout 5 "$kith" resolve --json --home "$(home pub)" "${did[$h]}" 2>/dev/null) || return 1
    at_least_1 "$(jget 'len(d["publicRecord"]["relays"])' <<<"$rec")" || return 1
    if [[ $(lab_nat_type "$h") != sym ]]; then
        at_least_1 "$(jget 'len(d["publicRecord"]["tcp"])' <<<"$rec")" || return 1
    fi
}
t0=$EPOCHREALTIME
bg=()
for h in "${homes[@]}"; do
    { if wait_for 20 settled "$h"; then echo ok; else echo timeout; fi > "$work/settle_$h"; } &
    bg+=($!)
done
for p in "${bg[@]}"; do wait "$p" || true; done; bg=()
say "reachability settle wait took $(secs_since "$t0") s"
for h in "${homes[@]}"; do
    s=$("$kith" status --json --home "$(home "$h")")
    reach=$(jget 'd["reach"]["reachability"]' <<<"$s")
    observed=$(jget 'd["reach"]["observed"] or "-"' <<<"$s")
    relays=$(jget 'len(d["reach"]["relays"])' <<<"$s")
    stored=$(jget 'd["dht"]["lastPublish"]["stored"]' <<<"$s")
    rec=$(timeout 5 "$kith" resolve --json --home "$(home pub)" "${did[$h]}" 2>/dev/null || true)
    rtcp=$(jget '" ".join(d["publicRecord"]["tcp"]) or "-"' <<<"$rec")
    rrel=$(jget 'len(d["publicRecord"]["relays"])' <<<"$rec")
    observers=$(jget 'd["reach"]["observers"]' <<<"$s")
    say "$h reach=$reach observed=$observed relays=$relays observers=${observers:--} dht.stored=${stored:--} record(tcp=${rtcp:--} relays=${rrel:--}) $(cat "$work/settle_$h")"
    case $(lab_nat_type "$h") in sym) want=behind-symmetric-nat ;; *) want=behind-nat ;; esac
    [[ $reach == "$want" ]] || problem "$h: reach=$reach, expected $want"
    [[ $(cat "$work/settle_$h") == ok ]] || problem "$h: not settled within 20 s (reach=$reach relays=$relays dht.stored=${stored:-none} record relays=${rrel:-none})"
done

# 3. The pairs.
# poll_direct HOME DID START: poll `kith peers --json` every 50 ms for up to 3 s after START (an
# EPOCHREALTIME) for DID's row; prints "direct SECONDS" when its session says direct, else
# "final SESSION".
poll_direct() {
    python3 - "$kith" "$1" "$2" "$3" <<'EOF'
import json, subprocess, sys, time
kith, home, did, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
last = "none"
while True:
    try:
        out = subprocess.run([kith, "peers", "--json", "--home", home], capture_output=True, text=True, timeout=3).stdout
        rows = [r for r in json.loads(out) if r.get("id") == did]
        last = (rows[0].get("session") or "none") if rows else "no-row"
    except Exception as e:
        last = "error:" + type(e).__name__
    now = time.time()
    if last == "direct":
        print("direct %.2f" % (now - start)); break
    if now - start >= 3.0:
        print("final " + last.replace(" ", "_")); break
    time.sleep(0.05)
EOF
}
# conv_field HOST TOPIC KEY: one field of the conversation with that topic on HOST.
conv_field() {
    "$kith" conversations --json --home "$(home "$1")" | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c.get("topic") == sys.argv[1] or c["id"] == sys.argv[1]:
        print(c.get(sys.argv[2], "")); break' "$2" "$3"
}
complete_on() { [[ $(conv_field "$1" "$2" state) == complete ]]; }

pairs=("fw fw" "fw nat" "fw sym" "fw cgn" "nat nat" "nat sym" "nat cgn" "sym sym" "sym cgn" "cgn cgn")
declare -A r_setup=() r_path=() r_direct=() r_conv=() r_err=()
involved=()
budget=165     # seconds since start after which remaining pairs are skipped (the run stays ~3 min)
for pair in "${pairs[@]}"; do
    read -r tx ty <<<"$pair"
    x="${tx}_a"; y="${ty}_b"; key="$x→$y"
    r_setup[$key]="-"; r_path[$key]="failed"; r_direct[$key]="-"; r_conv[$key]="-"; r_err[$key]=""
    if (( $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { print int(b - a) }') > budget )); then
        r_path[$key]="skipped"; r_err[$key]="time budget (${budget} s) spent"
        say "$key skipped: ${r_err[$key]}"
        continue
    fi
    t0=$EPOCHREALTIME
    rc=0
    out=$(timeout 20 "$kith" connect --home "$(home "$x")" "${did[$y]}" 2>&1) || rc=$?
    setup=$(secs_since "$t0")
    out=$(tr '\n' ' ' <<<"$out" | short_dids); out=${out% }
    # How X found Y (its last lookup by key: friends, dht-public, none) and how long that took.
    found=$(timeout 5 "$kith" status --json --home "$(home "$x")" |
        jget '"%s/%dms" % (r["source"], r["milliseconds"]) if (r := d["dht"]["lastResolve"])["id"] == sys.argv[2] else "-"' "${did[$y]}")
    if (( rc != 0 )) || [[ $out != accepted* ]]; then
        (( rc != 124 )) || out="timed out after 20 s: $out"
        r_err[$key]="connect rc=$rc: $out"
        say "$key setup=${setup}s path=failed found=${found:--} error: ${r_err[$key]}"
        involved+=("$x" "$y" pub pub2)
        continue
    fi
    r_setup[$key]=$setup
    read -r what val < <(poll_direct "$(home "$x")" "${did[$y]}" "$t0")
    if [[ $what == direct ]]; then
        r_path[$key]=direct; r_direct[$key]="${val}s"
    else
        # The session never said direct within 3 s: "relayed via HOST:PORT", or what it said.
        r_direct[$key]=never; r_path[$key]=${val//_/ }
        [[ $val == relayed* ]] || r_path[$key]="other (session: ${val//_/ })"
    fi
    # A short conversation X → Y, then complete and audited on both hosts.
    topic="natmatrix $x to $y"
    timeout 45 "$kith" talk --home "$(home "$x")" "${did[$y]}" --topic "$topic" --turns 4 >"$work/talk_${x}_$y" 2>&1 &
    talk=$!
    conv=""; conv_ok=ok
    if wait_for 30 complete_on "$x" "$topic"; then
        conv=$(conv_field "$x" "$topic" id)
        wait_for 15 complete_on "$y" "$conv" || conv_ok="incomplete-on-$y"
    else
        conv_ok="incomplete-on-$x(state=$(conv_field "$x" "$topic" state || true))"
    fi
    kill "$talk" 2>/dev/null || true; wait "$talk" 2>/dev/null || true; talk=0
    audit=failed
    if [[ $conv_ok == ok ]]; then
        if "$kith" audit --home "$(home "$x")" "$conv" >"$work/audit_${x}_$y" 2>&1 &&
           "$kith" audit --home "$(home "$y")" "$conv" >>"$work/audit_${x}_$y" 2>&1; then
            audit=ok
        fi
    fi
    r_conv[$key]="conversation=$conv_ok audit=$audit"
    [[ $conv_ok == ok && $audit == ok ]] || { involved+=("$x" "$y" pub pub2); r_err[$key]="talk: $(tail -3 "$work/talk_${x}_$y" | tr '\n' ' ')"; }
    say "$key setup=${setup}s path=${r_path[$key]} direct_after=${r_direct[$key]} ${r_conv[$key]} found=${found:--}"
done

# 4. Table and summary.
say ""
say "| pair | set-up | path | direct after | conversation+audit |"
say "|---|---|---|---|---|"
connected=0; direct=0; relayed=0; all_ok=1
d_times=(); r_times=(); a_times=()
for pair in "${pairs[@]}"; do
    read -r tx ty <<<"$pair"
    key="${tx}_a→${ty}_b"
    ca="${r_conv[$key]}"
    if [[ ${r_path[$key]} == failed || ${r_path[$key]} == skipped ]]; then
        err=${r_err[$key]%%;*}
        (( ${#err} <= 200 )) || err="${err:0:197}..."
        all_ok=0; ca="- (${err//|/\\|})"
    else
        connected=$((connected + 1))
        [[ ${r_path[$key]} == direct ]] && { direct=$((direct + 1)); d_times+=("${r_setup[$key]}"); a_times+=("${r_direct[$key]%s}"); }
        [[ ${r_path[$key]} == relayed* ]] && { relayed=$((relayed + 1)); r_times+=("${r_setup[$key]}"); }
        [[ $ca == "conversation=ok audit=ok" ]] && ca=ok || all_ok=0
    fi
    su=${r_setup[$key]}; [[ $su == - ]] || su="${su} s"
    say "| $key | $su | ${r_path[$key]} | ${r_direct[$key]/%s/ s} | $ca |"
done
say ""
for h in "${hosts[@]}"; do
    s=$(timeout 5 "$kith" status --json --home "$(home "$h")" 2>/dev/null || true)
    say "$h $(jget '"reach=%s relays=%d punched=%d punchFailed=%d relayedSessions=%d circuits=%d connected=%d" % (d["reach"]["reachability"], len(d["reach"]["relays"]), d["reach"]["punched"], d["reach"]["punchFailed"], d["reach"]["relayedSessions"], d["reach"]["circuits"], d["connected"])' <<<"$s")"
done
p50() { (( $# )) || { echo "-"; return; }; printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); if (NR % 2) printf "%.2f", v[m]; else printf "%.2f", (v[m] + v[m + 1]) / 2 }'; }
say ""
say "$connected/10 pairs connected, $direct direct, $relayed relayed; set-up p50 direct $(p50 "${d_times[@]}") s (first session) and $(p50 "${a_times[@]}") s (session direct), p50 relayed $(p50 "${r_times[@]}") s"
say "total run $(secs_since "$t_start") s"
if (( ${#problems[@]} )); then
    for p in "${problems[@]}"; do say "problem: $p"; done
fi
if (( connected == 10 && all_ok == 1 && ${#problems[@]} == 0 )); then
    say "ok"
    exit 0
fi
(( ${#problems[@]} == 0 )) || involved+=($(lab_home_hosts) pub pub2)
dump_logs $(printf '%s\n' "${involved[@]}" | awk '!seen[$0]++')
say "FAILED"
exit 1
