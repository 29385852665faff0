#!/usr/bin/env bash
# The main job: install what is needed, build kith, and run `kith demo` — Ada, Ben and Cleo as
# three nodes on loopback: Ada–Ben and Ben–Cleo become friends, Ada learns Cleo through Ben, their
# AI identities talk, propose and accept, Cleo and Ada approve, and every transcript is audited.
# (Examples/walkthrough.sh does the same step by step with the CLI and three `kith run` processes.)
set -euo pipefail
cd "$(dirname "$0")/.."

kith=$(bash scripts/build-kith.sh)
exec "$kith" demo "$@"
