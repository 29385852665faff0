#!/usr/bin/env bash
# Installs what Kith needs on Debian (as root): libsodium, SQLite headers, pkg-config, Python venv,
# iproute2 and nftables (the network-namespace and NAT lab tests); with --browser, chromium (the
# dashboard's browser tests, driven by Playwright with executable_path=/usr/bin/chromium).
# Idempotent: skips apt when everything is already installed. Swift 6 must already be on PATH.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: swift is not on PATH; install a Swift 6 toolchain (swift.org) and retry" >&2
    exit 1
fi

packages=(libsodium-dev libsqlite3-dev pkg-config python3 python3-venv iproute2 nftables)
# The tests also drive the dashboard in a browser: `setup.sh --browser` adds Debian's chromium.
if [ "${1:-}" = "--browser" ]; then packages+=(chromium); fi
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
pkg-config --exists libsodium || { echo "setup: libsodium not found by pkg-config" >&2; exit 1; }
