#!/usr/bin/env bash
# bench/feedback/run.sh — issue 5's "does it learn from users?" benchmark (bench/feedback_sim.cc).
# Fetches the corpus (bench/corpus.sh), builds feedback_sim and runs it; prints per-user error
# tables for per-user vs global-only learning and the abusive reporter's effect.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
corpus="$(bash "$root/bench/corpus.sh")"
build="${MAILSIFT_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja >/dev/null
ninja -C "$build" feedback_sim >/dev/null
"$build/src/feedback/feedback_sim" "$corpus"
