#!/usr/bin/env bash
# The README's "run the main job": installs dependencies, builds the release CLI, makes sure the
# demo store is trained, and scans sample messages with it, printing each verdict.
#
#   scripts/run.sh [FILE...]     default: tests/data/sample-spam.eml tests/data/sample-ham.eml
#
# The demo store lives in ${MAILSIFT_DATA_DIR:-<repo>/var/data}. When that directory is missing
# or empty it is trained first from tests/data/train/{spam,ham}/ (handwritten mails shipped in
# the repo); a failed training removes it again so the next run starts clean.
# Exit status: the CLI's (0 ok, 1 some input failed, 2 usage/config, 3 store unavailable).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MAILSIFT_ROOT"

scripts/deps.sh
scripts/build.sh release mailsift
bin="$(mailsift_bin)"
[[ -x "$bin" ]] || die "no CLI at $bin after the build"

data_dir="${MAILSIFT_DATA_DIR:-$MAILSIFT_ROOT/var/data}"
if [[ "$data_dir" == "$MAILSIFT_ROOT/var/"* ]]; then
  # The demo store is local state, never part of a commit.
  mkdir -p "$MAILSIFT_ROOT/var"
  [[ -f "$MAILSIFT_ROOT/var/.gitignore" ]] || printf '*\n' >"$MAILSIFT_ROOT/var/.gitignore"
fi
mkdir -p "$data_dir"

if [[ -z "$(ls -A "$data_dir")" ]]; then
  spam=(tests/data/train/spam/*.eml) ham=(tests/data/train/ham/*.eml)
  log "training the demo store in $data_dir: ${#spam[@]} spam, ${#ham[@]} ham from tests/data/train/"
  if ! learn_log="$({ "$bin" --data-dir "$data_dir" learn spam "${spam[@]}" &&
                      "$bin" --data-dir "$data_dir" learn ham "${ham[@]}"; } 2>&1)"; then
    printf '%s\n' "$learn_log" >&2
    rm -rf "$data_dir"
    die "training the demo store failed"
  fi
fi

(($# > 0)) || set -- tests/data/sample-spam.eml tests/data/sample-ham.eml
log "scanning $* with the store in $data_dir"
exec "$bin" --data-dir "$data_dir" scan "$@"
