#!/usr/bin/env bash
# Runs every test: installs dependencies, prepares the Python interop venv, builds with zero
# warnings allowed in Kith's own code, then runs the Swift Testing suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

venv=.venv-interop
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r Tests/Interop/requirements.txt
export KITH_INTEROP_PYTHON="$PWD/$venv/bin/python"

log=$(mktemp)
echo "test: building (debug, with tests)…" >&2
swift build --build-tests 2>&1 | tee "$log" | grep -E "error|warning|Compiling|Build" | grep -v "^\[" || true
if grep -E "^$PWD/(Sources|Tests)/.*(warning|error):" "$log" >/dev/null; then
    echo "test: the build has warnings or errors in Kith's own code:" >&2
    grep -E "^$PWD/(Sources|Tests)/.*(warning|error):" "$log" | sort -u >&2
    exit 1
fi
if grep -E "^warning: 'main'" "$log" >/dev/null; then
    echo "test: package warnings:" >&2
    grep -E "^warning: 'main'" "$log" >&2
    exit 1
fi
rm -f "$log"

swift test --skip-build
