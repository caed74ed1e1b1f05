# shellcheck shell=bash
# Shared by bench/accuracy and bench/throughput: the CLI to measure, the corpus split, and
# training mailsift and bogofilter the same way. Sourced, never run.
#
# Environment:
#   MAILSIFT_BIN          CLI to measure (default: release build, built first when missing or
#                         stale unless MAILSIFT_BENCH_NO_BUILD=1)
#   MAILSIFT_BENCH_ARGS   extra global options for every mailsift call (e.g. "--set k=v")
#   MAILSIFT_BENCH_WORK   work directory (default: <corpus cache>/bench-work), outside the repo
#   MAILSIFT_BENCH_ROUNDS training rounds (default 10), see train_plan
#   MAILSIFT_CORPUS_CACHE see bench/corpus.sh

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
BENCH_DIR="$MAILSIFT_ROOT/bench"
CORPUS_CACHE="${MAILSIFT_CORPUS_CACHE:-$HOME/.cache/mailsift-corpus}"
# shellcheck disable=SC2034  # used by the scripts that source this file
BENCH_WORK="${MAILSIFT_BENCH_WORK:-$CORPUS_CACHE/bench-work}"
# shellcheck disable=SC2206  # split on purpose
BENCH_ARGS=(${MAILSIFT_BENCH_ARGS:-})

# Sets MAILSIFT (the binary) and SPLIT_DIR (train.tsv, test.tsv).
bench_setup() {
  command -v bogofilter >/dev/null || die "bogofilter missing: run scripts/deps.sh"
  [[ -x /usr/bin/time ]] || die "/usr/bin/time missing: run scripts/deps.sh"
  if [[ -z "${MAILSIFT_BIN:-}" && "${MAILSIFT_BENCH_NO_BUILD:-0}" != 1 ]]; then
    "$MAILSIFT_ROOT/scripts/build.sh" release mailsift >&2 || die "release build failed"
  fi
  MAILSIFT="$(mailsift_bin)"
  [[ -x "$MAILSIFT" ]] || die "no mailsift binary at $MAILSIFT"
  SPLIT_DIR="$("$BENCH_DIR/corpus.sh")" || die "corpus split failed"
}

# Prints what was measured: commit, date, machine, binaries.
bench_header() {
  local commit dirty=""
  commit="$(git -C "$MAILSIFT_ROOT" rev-parse HEAD 2>/dev/null || echo "none (no commit)")"
  if [[ -n "$(git -C "$MAILSIFT_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    dirty=" + uncommitted changes"
  fi
  echo "$1"
  echo "  commit     $commit$dirty"
  echo "  date       $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "  machine    $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "  mailsift   $MAILSIFT ${BENCH_ARGS[*]}"
  echo "  bogofilter $(bogofilter -V 2>&1 | head -1 | sed 's/^bogofilter //')"
  echo "  corpus     $SPLIT_DIR/{train,test}.tsv (2995 train / 3051 test)"
}

# train_plan TSV OUTDIR: writes OUTDIR/NNN-<label>.list batch files. Each label's messages are
# shuffled by SHA-1 of their name (deterministic), cut into ROUNDS equal batches, and the batches
# alternate ham, spam, ham, spam... so both classes grow together, as in real use.
train_plan() {
  local tsv="$1" out="$2"
  rm -rf "$out" && mkdir -p "$out"
  python3 - "$tsv" "$out" "${MAILSIFT_BENCH_ROUNDS:-10}" <<'PY'
import hashlib, sys
tsv, out, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
by_label = {"ham": [], "spam": []}
for line in open(tsv):
    path, label, name = line.rstrip("\n").split("\t")
    by_label[label].append((hashlib.sha1(("order:" + name).encode()).hexdigest(), path))
n = 0
for r in range(rounds):
    for label in ("ham", "spam"):
        items = sorted(by_label[label])
        lo, hi = len(items) * r // rounds, len(items) * (r + 1) // rounds
        if hi > lo:
            with open(f"{out}/{n:03d}-{label}.list", "w") as f:
                f.writelines(p + "\n" for _, p in items[lo:hi])
            n += 1
PY
}

# train_mailsift PLAN_DIR DATA_DIR LOG: one `mailsift learn` process per batch.
train_mailsift() {
  local plan="$1" data="$2" logf="$3" batch label rc files=() partial=0
  rm -rf "$data" && mkdir -p "$data"
  : >"$logf"
  for batch in "$plan"/*.list; do
    label="${batch##*-}"
    label="${label%.list}"
    mapfile -t files <"$batch"
    rc=0
    "$MAILSIFT" --data-dir "$data" "${BENCH_ARGS[@]}" learn "$label" "${files[@]}" >>"$logf" 2>&1 || rc=$?
    case "$rc" in
      0) ;;
      1) partial=$((partial + 1)) ;;  # some inputs rejected; the rest were learned
      *) die "mailsift learn $label failed with exit $rc (log: $logf)" ;;
    esac
  done
  ((partial == 0)) || echo "  note: $partial learn batches reported rejected inputs (see $logf)"
}

# train_bogofilter PLAN_DIR DB_DIR: the same batches, bogofilter -s/-n in bulk mode.
train_bogofilter() {
  local plan="$1" db="$2" batch flag files=()
  rm -rf "$db" && mkdir -p "$db"
  for batch in "$plan"/*.list; do
    case "$batch" in *-spam.list) flag=-s ;; *) flag=-n ;; esac
    mapfile -t files <"$batch"
    bogofilter -d "$db" "$flag" -B "${files[@]}" || die "bogofilter $flag failed"
  done
}

# elapsed_since EPOCHREALTIME_VALUE: seconds since then, as a decimal.
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# bogofilter_bulk DB FORMAT_FLAG FILES...: classify in bulk mode. bogofilter exits 0/1/2 for the
# class of the LAST message (spam/ham/unsure) and 3 on error; only 3 is a failure.
bogofilter_bulk() {
  local db="$1" flag="$2" rc=0
  shift 2
  bogofilter -d "$db" "$flag" -B "$@" || rc=$?
  ((rc <= 2)) || die "bogofilter $flag -B failed with exit $rc"
}

# test_files: the test split's paths, one per line.
test_files() { cut -f1 "$SPLIT_DIR/test.tsv"; }
