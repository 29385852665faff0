#!/usr/bin/env bash
# Runs the whole test suite under a sanitizer, in its own build folder.
#
#   scripts/sanitizers.sh address     # AddressSanitizer (memory errors)
#   scripts/sanitizers.sh thread      # ThreadSanitizer (data races)
#
# Leak detection is off: at exit the Swift runtime, Foundation's libcurl and objects still
# referenced by running tasks are reported as leaks, which are not memory-safety errors.
# Set KITH_INTEROP_PYTHON (scripts/test.sh does) to include the Python interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: scripts/sanitizers.sh address|thread}"
case "$kind" in address|thread) ;; *) echo "sanitizers: choose address or thread" >&2; exit 2 ;; esac
scratch=".build/$kind-sanitizer"
echo "sanitizers: building the tests with -sanitize=$kind…" >&2
swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" 2>&1 | grep -E "error:|Build" >&2 || true
# Sanitized code runs several times slower: tests stretch their waits by this factor.
if [[ $kind == thread ]]; then export KITH_TEST_TIME_SCALE="${KITH_TEST_TIME_SCALE:-10}"; else export KITH_TEST_TIME_SCALE="${KITH_TEST_TIME_SCALE:-3}"; fi
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:suppressions=$PWD/scripts/asan-suppressions.txt${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
log=$(mktemp)
set +e
swift test --sanitize="$kind" --scratch-path "$scratch" --skip-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
reports=$(grep -cE "^(==[0-9]+==)?ERROR: AddressSanitizer|WARNING: ThreadSanitizer" "$log" || true)
echo "sanitizers: $kind: test exit $status, $reports sanitizer reports" >&2
rm -f "$log"
[[ $status -eq 0 && $reports -eq 0 ]]
