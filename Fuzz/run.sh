#!/usr/bin/env bash
# Fuzzes Kith's decoders with libFuzzer (Swift's -sanitize=fuzzer, plus AddressSanitizer).
#
#   Fuzz/run.sh [SECONDS] [TARGET...]     default: 60 seconds each, every target
#
# Targets: cbor session noise datagram signed identity-yaml conversation dht (see Sources/KithFuzzTargets).
# Each run starts from the committed seeds in Fuzz/corpus/TARGET (and Fuzz/regressions/TARGET)
# and grows a working corpus under .build/fuzz/corpus/TARGET. A crash leaves its input in
# .build/fuzz/artifacts/TARGET/; copy it to Fuzz/regressions/TARGET/ so the test suite
# replays it forever (Tests/KithFuzzTests). Prints one summary line per target and exits
# non-zero if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(cbor session noise datagram signed identity-yaml conversation dht)

binary="${KITH_FUZZ_BINARY:-}"   # a prebuilt fuzzing binary skips the build
if [[ -z "$binary" ]]; then
    echo "fuzz: building kith-fuzz with -sanitize=fuzzer,address (release)…" >&2
    swift build -c release --product kith-fuzz --scratch-path .build/fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DKITH_LIBFUZZER 2>&1 | grep -E "error|warning: [^C]" >&2 || true
    binary=.build/fuzz/release/kith-fuzz
fi
[[ -x "$binary" ]] || { echo "fuzz: the build failed; run the swift build command above to see why" >&2; exit 1; }

failed=0
for target in "${targets[@]}"; do
    work=".build/fuzz/corpus/$target"
    artifacts=".build/fuzz/artifacts/$target"
    mkdir -p "$work" "$artifacts" "Fuzz/regressions/$target"
    log=".build/fuzz/$target.log"
    echo "fuzz: $target for ${seconds}s…" >&2
    set +e
    KITH_FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=0 "$binary" \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" "$work" "Fuzz/corpus/$target" "Fuzz/regressions/$target" >"$log" 2>&1
    status=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -oE '(DONE|pulse|NEW|REDUCE) +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)/cov \1 edges, ft \2, corpus \3/')
    if [[ $status -ne 0 ]]; then
        failed=1
        echo "fuzz: $target: CRASH after $runs runs — see $log and $artifacts/" >&2
        grep -m3 -E "fuzz property violated|ERROR: AddressSanitizer|Fatal error|deadly signal" "$log" >&2 || true
    fi
    printf '%-14s %10s runs  %7s/s  %s\n' "$target" "$runs" "$rate" "${cov:-cov ?}"
done
exit $failed
