#!/usr/bin/env bash
# A NAT lab in Linux network namespaces: a public host, a second public host and two home hosts
# behind each of four kinds of NAT, all on a pretend internet (198.18.0.0/24, a bridge br0 inside
# the lab's own namespace ${lab_tag}net). Nothing is added to the caller's own namespace: every
# veth pair is created between two namespaces the lab made. Needs root, iproute2 and nftables.
#
#   pub   198.18.0.10   no NAT (friend / relay / DHT bootstrap)
#   pub2  198.18.0.11   no NAT (a second observer, a "public" endpoint)
#   fw_a  fw_b          home router: masquerade + stateful firewall (unsolicited inbound dropped,
#                       no RST from the router either); router WAN 198.18.0.2{1,2}
#   nat_a nat_b         masquerade only, no firewall (unsolicited inbound gets a RST from the
#                       router's own stack); router WAN 198.18.0.3{1,2}
#   sym_a sym_b         `masquerade random` (endpoint-dependent, symmetric mapping) + the fw
#                       firewall; router WAN 198.18.0.4{1,2}
#   cgn_a cgn_b         double NAT: an fw home router (WAN 100.64.X.2/24) behind a carrier router
#                       (masquerade + firewall, LAN 100.64.X.1/24) whose WAN is 198.18.0.5{1,2}
# A home host with router WAN 198.18.0.X sits at 10.X.0.2/24 behind router LAN 10.X.0.1 (default
# route via the router, ip_forward=1 on every router). Kernel conntrack defaults are kept.
#
# As a library:
#     source Tests/Network/nat_lab.sh      # optionally set lab_tag=... first (default nl$$)
#     trap lab_down EXIT
#     lab_up
#     lab_exec fw_a python3 -c '...'       # or: ip netns exec "$(lab_host_ns fw_a)" ...
# Exposed: lab_up, lab_down, lab_hosts, lab_home_hosts, lab_host_ns, lab_host_ip, lab_public_ip,
# lab_nat_type, lab_router_ns, lab_carrier_ns, lab_exec, lab_namespaces, lab_wait_for; variables
# lab_tag, lab_types, lab_net_ns, lab_pub_ip, lab_pub2_ip, lab_wan_if, lab_lan_if, lab_host_if.
# Sourcing changes no shell options; the functions work with or without `set -euo pipefail`.
# lab_down kills (by pid) whatever still runs inside the lab's namespaces. For a long-lived
# background process prefer `ip netns exec "$(lab_host_ns pub)" cmd &` over `lab_exec pub cmd &`:
# then $! is the process itself rather than a subshell that prints "Killed" when it dies.
#
# Directly: `bash Tests/Network/nat_lab.sh selftest` builds the lab, checks NAT behaviour and
# TCP simultaneous open between the NAT types (lines starting `natlab: `), and removes it all.

lab_tag="${lab_tag:-nl$$}"      # short: interface names below are at most 15 bytes
lab_types=(fw nat sym cgn)
lab_pub_ip=198.18.0.10
lab_pub2_ip=198.18.0.11

# Names derived from lab_tag (recomputed by lab_up, in case the caller changed lab_tag).
_natlab_names() {
    lab_net_ns="${lab_tag}net"  # holds the internet bridge br0
    lab_wan_if="${lab_tag}w"    # a router's (or public host's) internet-side interface
    lab_lan_if="${lab_tag}l"    # a router's LAN-side interface
    lab_host_if="${lab_tag}e"   # a home host's only interface
}
_natlab_names
_natlab_pids=()                 # background jobs started by the selftest

lab_hosts() { echo pub pub2 fw_a fw_b nat_a nat_b sym_a sym_b cgn_a cgn_b; }
lab_home_hosts() { echo fw_a fw_b nat_a nat_b sym_a sym_b cgn_a cgn_b; }

# _natlab_x NAME → the host's number X: 10/11 for pub/pub2, 21…52 for home hosts (type digit 2-5,
# suffix a=1 b=2). Unknown names fail with a message.
_natlab_x() {
    case "${1:-}" in
        pub) echo 10 ;;
        pub2) echo 11 ;;
        fw_a) echo 21 ;; fw_b) echo 22 ;;
        nat_a) echo 31 ;; nat_b) echo 32 ;;
        sym_a) echo 41 ;; sym_b) echo 42 ;;
        cgn_a) echo 51 ;; cgn_b) echo 52 ;;
        *) echo "natlab: unknown host '${1:-}' (one of: $(lab_hosts))" >&2; return 1 ;;
    esac
}

# lab_nat_type NAME → public | fw | nat | sym | cgn
lab_nat_type() {
    _natlab_x "${1:-}" >/dev/null || return 1
    case "$1" in pub | pub2) echo public ;; *) echo "${1%_*}" ;; esac
}

# lab_host_ns NAME → the namespace the host runs in.
lab_host_ns() { _natlab_x "${1:-}" >/dev/null || return 1; echo "${lab_tag}$1"; }

# lab_router_ns NAME → the namespace of the host's home router (fails for pub/pub2).
lab_router_ns() {
    local t; t=$(lab_nat_type "${1:-}") || return 1
    [[ $t != public ]] || { echo "natlab: $1 has no router" >&2; return 1; }
    echo "${lab_tag}${1}_r"
}

# lab_carrier_ns NAME → the namespace of the carrier router in front of a cgn host.
lab_carrier_ns() {
    local t; t=$(lab_nat_type "${1:-}") || return 1
    [[ $t == cgn ]] || { echo "natlab: $1 is not behind a carrier" >&2; return 1; }
    echo "${lab_tag}${1}_c"
}

# lab_host_ip NAME → the host's own address (LAN address for home hosts, public for pub/pub2).
lab_host_ip() {
    local x; x=$(_natlab_x "${1:-}") || return 1
    if (( x < 20 )); then echo "198.18.0.$x"; else echo "10.$x.0.2"; fi
}

# lab_public_ip NAME → the internet address the host's traffic appears from (its own for
# pub/pub2, the router's WAN address, or the carrier's WAN address for cgn hosts).
lab_public_ip() { local x; x=$(_natlab_x "${1:-}") || return 1; echo "198.18.0.$x"; }

# lab_exec NAME CMD...: run a command in the host's namespace.
lab_exec() {
    local ns; ns=$(lab_host_ns "${1:-}") || return 1
    shift
    ip netns exec "$ns" "$@"
}

# lab_namespaces → every namespace name the lab makes (whether or not it exists right now).
lab_namespaces() {
    local h t
    echo "$lab_net_ns"
    for h in $(lab_hosts); do
        echo "${lab_tag}$h"
        t=$(lab_nat_type "$h")
        [[ $t == public ]] || echo "${lab_tag}${h}_r"
        [[ $t != cgn ]] || echo "${lab_tag}${h}_c"
    done
}

# lab_wait_for SECONDS CMD...: wait up to SECONDS for CMD to succeed.
lab_wait_for() {
    local limit=$1; shift
    local deadline=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.1
    done
}

_natlab_now() { date +%s.%N; }

# --- building ---------------------------------------------------------------------------------

_natlab_ns() {  # NS: a namespace with lo up
    ip netns add "$1" && ip -n "$1" link set lo up
}
_natlab_link() {  # NS_A IF_A NS_B IF_B: a veth pair between two lab namespaces, both ends up
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" &&
        ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}
_natlab_wire() {  # NS X: NS's WAN interface on the internet bridge at 198.18.0.X
    _natlab_link "$1" "$lab_wan_if" "$lab_net_ns" "${lab_tag}b$2" &&
        ip -n "$lab_net_ns" link set "${lab_tag}b$2" master br0 &&
        ip -n "$1" addr add "198.18.0.$2/24" dev "$lab_wan_if"
}
_natlab_ruleset() {  # KIND (fw | nat | sym): the router's nftables ruleset
    local masq=masquerade
    if [[ $1 == sym ]]; then masq="masquerade random"; fi
    cat <<EOF
table ip natlab {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "$lab_wan_if" $masq
    }
EOF
    if [[ $1 != nat ]]; then
        cat <<EOF
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "$lab_lan_if" accept
    }
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "$lab_wan_if" ct state established,related accept
        iifname "$lab_wan_if" drop
    }
EOF
    fi
    echo "}"
}
_natlab_router() {  # NS KIND: forwarding on, NAT/firewall rules loaded
    ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 &&
        _natlab_ruleset "$2" | ip netns exec "$1" nft -f -
}
_natlab_home() {  # ROUTER_NS HOST_NS X: the LAN 10.X.0.0/24 between a router and its host
    local r=$1 h=$2 x=$3
    _natlab_link "$r" "$lab_lan_if" "$h" "$lab_host_if" &&
        ip -n "$r" addr add "10.$x.0.1/24" dev "$lab_lan_if" &&
        ip -n "$h" addr add "10.$x.0.2/24" dev "$lab_host_if" &&
        ip -n "$h" route add default via "10.$x.0.1"
}
_natlab_build() {
    local h x t r c
    _natlab_ns "$lab_net_ns" || return 1
    ip -n "$lab_net_ns" link add br0 type bridge || return 1
    ip -n "$lab_net_ns" link set br0 up || return 1
    for h in $(lab_hosts); do
        x=$(_natlab_x "$h"); t=$(lab_nat_type "$h")
        _natlab_ns "${lab_tag}$h" || return 1
        case $t in
            public)
                _natlab_wire "${lab_tag}$h" "$x" || return 1 ;;
            fw | nat | sym)
                r="${lab_tag}${h}_r"
                _natlab_ns "$r" || return 1
                _natlab_wire "$r" "$x" || return 1
                _natlab_home "$r" "${lab_tag}$h" "$x" || return 1
                _natlab_router "$r" "$t" || return 1 ;;
            cgn)
                r="${lab_tag}${h}_r"; c="${lab_tag}${h}_c"
                _natlab_ns "$c" || return 1
                _natlab_ns "$r" || return 1
                _natlab_wire "$c" "$x" || return 1
                _natlab_link "$c" "$lab_lan_if" "$r" "$lab_wan_if" || return 1
                ip -n "$c" addr add "100.64.$x.1/24" dev "$lab_lan_if" || return 1
                ip -n "$r" addr add "100.64.$x.2/24" dev "$lab_wan_if" || return 1
                ip -n "$r" route add default via "100.64.$x.1" || return 1
                _natlab_home "$r" "${lab_tag}$h" "$x" || return 1
                _natlab_router "$c" fw || return 1
                _natlab_router "$r" fw || return 1 ;;
        esac
    done
}

# lab_up: build the whole lab. On failure it removes what it made and returns 1.
lab_up() {
    _natlab_names
    [[ $(id -u) -eq 0 ]] || { echo "natlab: needs root (ip netns)" >&2; return 2; }
    command -v ip >/dev/null || { echo "natlab: iproute2 (ip) is missing" >&2; return 2; }
    command -v nft >/dev/null || { echo "natlab: nftables (nft) is missing" >&2; return 2; }
    (( ${#lab_tag} <= 12 )) || { echo "natlab: lab_tag '$lab_tag' is too long (interface ${lab_tag}b52 > 15 bytes)" >&2; return 2; }
    local ns
    for ns in $(lab_namespaces); do
        if [[ -e /run/netns/$ns ]]; then
            echo "natlab: namespace $ns already exists (tag $lab_tag in use; set lab_tag to another short name)" >&2
            return 1
        fi
    done
    if ! _natlab_build; then
        echo "natlab: lab_up failed; removing what was made" >&2
        lab_down
        return 1
    fi
}

# lab_down: kill every process still inside a lab namespace (by pid) and delete the namespaces
# (their veths and bridge go with them). Safe to call repeatedly or after a partial lab_up.
lab_down() {
    local ns pid
    local -a all=() doomed=()
    all=($(lab_namespaces))
    for ns in "${all[@]}"; do
        [[ -e /run/netns/$ns ]] || continue
        doomed+=($(ip netns pids "$ns" 2>/dev/null))
    done
    doomed+=("${_natlab_pids[@]}")
    for pid in "${doomed[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    # Reap the ones that are this shell's children (quietly: no "Killed" notices); others are no-ops.
    for pid in "${doomed[@]}"; do wait "$pid" 2>/dev/null || true; done
    _natlab_pids=()
    for ns in "${all[@]}"; do
        [[ -e /run/netns/$ns ]] || continue
        ip netns del "$ns" 2>/dev/null || true
    done
    return 0
}

# --- self-test ----------------------------------------------------------------------------------

# Observer: accept connections on PORT and tell each client the address it came from.
_natlab_py_observer='
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(128)
print("ready", flush=True)
while True:
    c, a = s.accept()
    try:
        c.sendall(("%s:%d\n" % a).encode())
    finally:
        c.close()
'

# Probe LOCAL_PORT TARGET...: like a node, listen on LOCAL_PORT and, from that same port, connect
# to each IP:PORT target in turn; print "TARGET WHAT_THE_OBSERVER_SAW" (or an error word).
_natlab_py_probe='
import socket, sys
def bound(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", port))
    return s
lp = int(sys.argv[1])
listener = bound(lp)
listener.listen(16)
for target in sys.argv[2:]:
    ip, port = target.rsplit(":", 1)
    s = bound(lp)
    s.settimeout(3)
    try:
        s.connect((ip, int(port)))
        seen = s.makefile().readline().strip() or "no-answer"
    except ConnectionRefusedError:
        seen = "refused"
    except (socket.timeout, TimeoutError):
        seen = "timeout"
    except OSError as e:
        seen = "error:" + type(e).__name__
    s.close()
    print(target, seen, flush=True)
'

# Unsolicited IP PORT TIMEOUT: a plain connect; print connected | refused | timeout | error:…
_natlab_py_unsolicited='
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except (socket.timeout, TimeoutError):
    print("timeout")
except OSError as e:
    print("error:" + type(e).__name__)
'

# Punch NAME LOCAL_PORT PEER_IP PEER_PORT START_AT BUDGET: TCP simultaneous open as a node would
# do it. Listen on LOCAL_PORT; at START_AT (epoch seconds) connect from LOCAL_PORT to the peer,
# each attempt lasting 0.7 s (one SYN), retrying until BUDGET seconds have passed. A connection
# counts whether our connect completes or the peer reaches our listener; then both sides swap
# names. After a refusal (RST) it waits 0.2 s before the next SYN. Prints "ok attempt=N refused=R
# how=connected|accepted t=S peer=NAME late=S" or "fail attempts=N refused=R last=WHY late=S"
# (late: how far past START_AT the process started) and exits 0 or 1.
_natlab_py_punch='
import errno, select, socket, sys, time
name, lp, rip, rp, t0, budget = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
def bound():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", lp))
    return s
listener = bound()
listener.listen(16)
listener.setblocking(False)
late = max(0.0, time.time() - t0)
if time.time() < t0:
    time.sleep(t0 - time.time())
end = t0 + budget
attempt, refusals, last, conn, how = 0, 0, "none", None, ""
while conn is None and time.time() < end:
    attempt += 1
    s = bound()
    s.setblocking(False)
    s.connect_ex((rip, rp))
    slot_end = min(end, time.time() + 0.7)
    refused = False
    while conn is None:
        left = slot_end - time.time()
        if left <= 0:
            last = "timeout"
            break
        r, w, _ = select.select([listener], [s], [], left)
        if listener in r:
            try:
                conn, _ = listener.accept()
                how = "accepted"
            except BlockingIOError:
                pass
        elif s in w:
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e == 0:
                conn, how = s, "connected"
            else:
                last = errno.errorcode.get(e, str(e))
                refused = True
                refusals += 1
                break
    if conn is not s:
        s.close()
    if conn is None and refused:
        time.sleep(min(0.2, max(0.0, end - time.time())))
took = time.time() - t0
if conn is None:
    print("fail attempts=%d refused=%d last=%s late=%.2f" % (attempt, refusals, last, late))
    sys.exit(1)
conn.setblocking(True)
conn.settimeout(2)
try:
    conn.sendall((name + "\n").encode())
    peer = conn.makefile().readline().strip() or "-"
except OSError as e:
    print("fail attempts=%d last=exchange:%s late=%.2f" % (attempt, type(e).__name__, late))
    sys.exit(1)
print("ok attempt=%d refused=%d how=%s t=%.3f peer=%s late=%.2f" % (attempt, refusals, how, took, peer, late))
'

natlab_selftest() {
    set -euo pipefail
    say() { printf 'natlab: %s\n' "$*"; }
    fail() { say "FAILED: $*"; exit 1; }
    wait_for() { lab_wait_for "$@"; }
    since() { awk -v a="$1" -v b="$(_natlab_now)" 'BEGIN { printf "%.2f", b - a }'; }
    command -v python3 >/dev/null || { echo "natlab: python3 is missing" >&2; exit 2; }
    [[ $(id -u) -eq 0 ]] || { echo "natlab: needs root (ip netns)" >&2; exit 2; }

    work=$(mktemp -d -t natlab.XXXXXX)
    trap 'lab_down; rm -rf "$work"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local t_all t0 h t x p a b
    t_all=$(_natlab_now)
    local caller_links
    caller_links=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)

    t0=$(_natlab_now)
    lab_up || fail "lab_up"
    say "lab_up took $(since "$t0") s: $(lab_namespaces | wc -l) namespaces (tag $lab_tag), hosts: $(lab_hosts)"
    [[ $(ip -o link show | awk -F': ' '{ print $2 }' | sort) == "$caller_links" ]] ||
        fail "the caller's namespace gained or lost interfaces"
    say "caller's namespace untouched ($(wc -l <<<"$caller_links") interfaces before and after lab_up)"

    # 1. Every home host reaches pub:7000 and pub2:7000 from its port 7400; the observers say
    #    where the connection came from.
    for h in pub pub2; do
        lab_exec "$h" python3 -c "$_natlab_py_observer" 7000 >"$work/obs_$h" 2>&1 &
        _natlab_pids+=($!)
    done
    for h in pub pub2; do wait_for 5 grep -q ready "$work/obs_$h" || fail "observer on $h did not start: $(cat "$work/obs_$h")"; done
    local -a pids=()
    for h in $(lab_home_hosts); do
        lab_exec "$h" python3 -c "$_natlab_py_probe" 7400 "$lab_pub_ip:7000" "$lab_pub2_ip:7000" >"$work/probe_$h" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    local -A mapped=()
    local seen1 seen2 pub_ip note sym_dependent=0
    for h in $(lab_home_hosts); do
        t=$(lab_nat_type "$h"); pub_ip=$(lab_public_ip "$h")
        seen1=$(awk -v t="$lab_pub_ip:7000" '$1 == t { print $2 }' "$work/probe_$h")
        seen2=$(awk -v t="$lab_pub2_ip:7000" '$1 == t { print $2 }' "$work/probe_$h")
        [[ ${seen1%:*} == "$pub_ip" && ${seen2%:*} == "$pub_ip" ]] ||
            fail "$h ($t): expected to appear as $pub_ip, pub saw '${seen1:-nothing}', pub2 saw '${seen2:-nothing}' ($(tr '\n' ' ' <"$work/probe_$h"))"
        mapped[$h]=$seen1
        case $t in
            fw | nat | cgn)
                [[ ${seen1##*:} == 7400 ]] || fail "$h ($t): masquerade did not keep source port 7400 (pub saw $seen1)"
                [[ $seen1 == "$seen2" ]] || fail "$h ($t): mapping differs per destination (pub $seen1, pub2 $seen2)"
                note="port 7400 kept, same mapping for both observers" ;;
            sym)
                if [[ $seen1 != "$seen2" ]]; then sym_dependent=$((sym_dependent + 1)); note="mapping differs per destination"; else note="same mapping for both observers this time"; fi
                if [[ ${seen1##*:} == 7400 ]]; then note="port 7400 kept (by chance), $note"; else note="port 7400 not kept, $note"; fi ;;
        esac
        say "1. $h ($t) from $(lab_host_ip "$h"):7400 → pub sees $seen1, pub2 sees $seen2: $note"
    done
    (( sym_dependent > 0 )) || fail "no sym host showed a per-destination (symmetric) mapping"

    # 2. Unsolicited inbound TCP from pub to each router's (or carrier's) WAN address, port 7400.
    local -A expect=([fw_a]=timeout [nat_a]=refused [sym_a]=timeout [cgn_a]=timeout)
    pids=()
    for h in fw_a nat_a sym_a cgn_a; do
        lab_exec pub python3 -c "$_natlab_py_unsolicited" "$(lab_public_ip "$h")" 7400 2 >"$work/unsol_$h" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    local got
    for h in fw_a nat_a sym_a cgn_a; do
        got=$(cat "$work/unsol_$h")
        [[ $got == "${expect[$h]}" ]] || fail "unsolicited pub → $h's WAN $(lab_public_ip "$h"):7400: expected ${expect[$h]}, got '$got'"
        case $got in timeout) note="dropped silently" ;; refused) note="RST from the router" ;; *) note="" ;; esac
        say "2. unsolicited pub → $(lab_nat_type "$h") WAN $(lab_public_ip "$h"):7400: $got ($note)"
    done

    # 3. TCP simultaneous open between pairs of home hosts, each using the peer's mapped address as
    #    pub observed it in check 1 (for sym, the port pub saw, which the peer's SYN will not match).
    local -a pairs=("fw_a fw_b" "fw_a nat_a" "fw_a cgn_a" "fw_a sym_a" "nat_a nat_b")
    local -A cell=()
    local pair start ra rb outa outb
    for pair in "${pairs[@]}"; do
        read -r a b <<<"$pair"
        start=$(awk -v n="$(_natlab_now)" 'BEGIN { printf "%.3f", n + 0.8 }')
        lab_exec "$a" python3 -c "$_natlab_py_punch" "$a" 7400 "${mapped[$b]%:*}" "${mapped[$b]##*:}" "$start" 3 >"$work/punch_${a}_$b" 2>&1 &
        pids=($!)
        lab_exec "$b" python3 -c "$_natlab_py_punch" "$b" 7400 "${mapped[$a]%:*}" "${mapped[$a]##*:}" "$start" 3 >"$work/punch_${b}_$a" 2>&1 &
        pids+=($!)
        ra=0; rb=0
        wait "${pids[0]}" || ra=$?
        wait "${pids[1]}" || rb=$?
        outa=$(tr '\n' ' ' <"$work/punch_${a}_$b"); outb=$(tr '\n' ' ' <"$work/punch_${b}_$a")
        if (( ra == 0 && rb == 0 )) && [[ $outa == *"peer=$b "* && $outb == *"peer=$a "* ]]; then
            local att_a att_b
            att_a=$(sed -n 's/.*attempt=\([0-9]*\).*/\1/p' <<<"$outa"); att_b=$(sed -n 's/.*attempt=\([0-9]*\).*/\1/p' <<<"$outb")
            cell[$a,$b]="ok@$(( att_a > att_b ? att_a : att_b ))"
        else
            cell[$a,$b]="fail"
        fi
        say "3. $a → ${mapped[$b]} / $b → ${mapped[$a]}: ${cell[$a,$b]} [$a: ${outa% }] [$b: ${outb% }]"
    done
    local -a rows=(fw_a nat_a) cols=(fw_b nat_a cgn_a sym_a nat_b)
    say "3. simultaneous open matrix (ok@N = connected on attempt N, . = not tried):"
    local line c v
    line=$(printf '%-8s' "")
    for c in "${cols[@]}"; do line+=$(printf '%-8s' "$c"); done
    say "   ${line%"${line##*[! ]}"}"
    for a in "${rows[@]}"; do
        line=$(printf '%-8s' "$a")
        for c in "${cols[@]}"; do v=${cell[$a,$c]:-.}; line+=$(printf '%-8s' "$v"); done
        say "   ${line%"${line##*[! ]}"}"
    done
    [[ ${cell[fw_a,fw_b]} == ok* ]] || fail "fw_a ↔ fw_b simultaneous open did not connect"

    # Teardown: every namespace made is gone.
    t0=$(_natlab_now)
    lab_down
    local left
    left=$(ip netns list | awk '{ print $1 }' | grep -Fx -f <(lab_namespaces) || true)
    [[ -z $left ]] || fail "lab_down left namespaces behind: $(tr '\n' ' ' <<<"$left")"
    say "lab_down took $(since "$t0") s; no lab namespace left in 'ip netns list'"
    say "ok (selftest took $(since "$t_all") s)"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    case "${1:-}" in
        selftest) natlab_selftest ;;
        *) echo "usage: bash $0 selftest    (or: source $0; lab_up; …; lab_down)" >&2; exit 2 ;;
    esac
fi
