#!/usr/bin/env bash
# bench/outbound: build and run the synthetic outbound day (bench/outbound_sim.cc).
#   bench/outbound/run.sh [--users N] [--compromised K] [--seed S] [--flush-ms MS] [--log sqlite|memory]
# Exit 0 when every compromised account was held and no honest user was; prints detection
# delay, false holds and policy decisions per CPU-second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/scripts/build.sh" release outbound_sim >/dev/null
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$root/build/src/outbound/outbound_sim" --dir "$dir/data" "$@"
