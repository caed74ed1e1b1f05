#!/usr/bin/env bash
# Runs every test of mailsift: the README's "run every test" command, and what CI runs.
#
#   1. deps      scripts/deps.sh (no-op when everything is installed)
#   2. release   g++ RelWithDebInfo build + ctest
#   3. asan      g++ AddressSanitizer + UBSan build + ctest (leaks detected, UB halts)
#   4. fuzz      clang libFuzzer build; each fuzz target runs MAILSIFT_FUZZ_SECONDS (default 30)
#                on a copy of its seed corpus; a crash, leak, timeout or OOM fails it
#
# Every stage runs even when an earlier one failed, so one run shows everything that is broken.
# Prints a summary and, as its last line, "total: N passed, N failed" (a build that fails counts
# as one failure). Exits non-zero on any failure.
#
# Knobs (environment):
#   MAILSIFT_TEST_STAGES      stages to run, default "release asan fuzz"
#   MAILSIFT_FUZZ_SECONDS     seconds per fuzz target, default 30
#   MAILSIFT_FUZZ_JOBS        fuzz targets run at once, default nproc
#   MAILSIFT_CTEST_ARGS       extra ctest arguments for both ctest runs (e.g. "-R mime")
#   MAILSIFT_ASAN_CTEST_ARGS  extra ctest arguments for the sanitizer run only
#   MAILSIFT_BUILD_ROOT, MAILSIFT_JOBS, MAILSIFT_SKIP_DEPS: see scripts/build.sh, scripts/deps.sh
set -uo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MAILSIFT_ROOT" || exit 1

STAGES="${MAILSIFT_TEST_STAGES:-release asan fuzz}"
FUZZ_SECONDS="${MAILSIFT_FUZZ_SECONDS:-30}"
FUZZ_JOBS="${MAILSIFT_FUZZ_JOBS:-$(nproc)}"
CTEST_JOBS=2

total_passed=0
total_failed=0
summary=()  # one line per stage, printed at the end
script_start=$SECONDS
stage_start=$SECONDS

record() {  # record STAGE PASSED FAILED SECONDS NOTE
  total_passed=$((total_passed + $2))
  total_failed=$((total_failed + $3))
  summary+=("$(printf '%-8s %6s passed %6s failed %6ss  %s' "$1" "$2" "$3" "$4" "$5")")
}

# run_ctest STAGE DIR NOTE [env assignments...]: runs ctest, records its counts; the stage's
# time counts from $stage_start.
run_ctest() {
  local stage="$1" dir="$2" note="$3" start=$SECONDS log
  shift 3
  log="$dir/ctest-output.log"
  local extra=()
  # shellcheck disable=SC2206  # extra arguments are split on purpose
  extra=(${MAILSIFT_CTEST_ARGS:-})
  # shellcheck disable=SC2206
  [[ "$stage" == asan ]] && extra+=(${MAILSIFT_ASAN_CTEST_ARGS:-})
  env "$@" ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$CTEST_JOBS" \
    --timeout 900 "${extra[@]}" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # "97% tests passed, 2 tests failed out of 60"
  local line failed=0 total=0
  line="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)"
  if [[ -n "$line" ]]; then
    failed="$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")"
    total="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")"
  fi
  local passed=$((total - failed))
  if ((rc != 0 && failed == 0)); then
    failed=1  # ctest itself failed (no tests found, crash, ...)
  fi
  local status=ok
  ((rc == 0)) || status="FAILED (exit $rc)"
  record "$stage" "$passed" "$failed" $((SECONDS - stage_start)) \
    "${note}ctest $status in $((SECONDS - start))s"
}

stage_build_and_ctest() {  # stage_build_and_ctest FLAVOUR [env for ctest...]
  local flavour="$1" dir
  shift
  stage_start=$SECONDS
  dir="$(build_dir "$flavour")"
  log "[$flavour] build"
  if ! scripts/build.sh "$flavour"; then
    record "$flavour" 0 1 $((SECONDS - stage_start)) "BUILD FAILED"
    return
  fi
  log "[$flavour] ctest"
  run_ctest "$flavour" "$dir" "build $((SECONDS - stage_start))s, " "$@"
}

# run_fuzzer NAME BINARY CORPUS WORKDIR: one libFuzzer run; writes WORKDIR/exit-code.
run_fuzzer() {
  local name="$1" bin="$2" corpus="$3" work="$4"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -R "$corpus/." "$work/corpus/"
  (cd "$work" && "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 \
     -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/fuzz.log" 2>&1)
  echo $? >"$work/exit-code"
}

stage_fuzz() {
  local dir
  dir="$(build_dir fuzz)"
  stage_start=$SECONDS
  log "[fuzz] build"
  if ! scripts/build.sh fuzz fuzzers; then
    record fuzz 0 1 $((SECONDS - stage_start)) "BUILD FAILED"
    return
  fi
  local entries=()
  mapfile -t entries < <(sed '/^$/d' "$dir/fuzzers.txt")
  if ((${#entries[@]} == 0)); then
    record fuzz 0 0 $((SECONDS - stage_start)) "no fuzz targets defined"
    return
  fi
  local build_s=$((SECONDS - stage_start))
  log "[fuzz] ${#entries[@]} targets, ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time"
  local entry name corpus bin names=() problems=()
  for entry in "${entries[@]}"; do
    name="${entry%%|*}"
    corpus="${entry#*|}"
    [[ "$corpus" == /* ]] || corpus="$MAILSIFT_ROOT/$corpus"
    bin="$(find "$dir" -type f -name "$name" -perm -u+x | head -1)"
    rm -rf "$dir/fuzz-run/$name"
    if [[ -z "$bin" || ! -d "$corpus" ]]; then
      problems+=("$name: ${bin:-binary not found}; corpus ${corpus} $([[ -d "$corpus" ]] || echo MISSING)")
      continue
    fi
    names+=("$name")
    while (($(jobs -rp | wc -l) >= FUZZ_JOBS)); do wait -n; done
    run_fuzzer "$name" "$bin" "$corpus" "$dir/fuzz-run/$name" &
  done
  wait
  local passed=0 failed=${#problems[@]} rc work
  for name in "${names[@]}"; do
    work="$dir/fuzz-run/$name"
    rc="$(cat "$work/exit-code" 2>/dev/null || echo missing)"
    if [[ "$rc" == 0 ]]; then
      passed=$((passed + 1))
      printf '  fuzz %-28s ok    %s\n' "$name" \
        "$(grep -E '^stat::number_of_executed_units' "$work/fuzz.log" | awk '{print $2 " execs"}')"
    else
      failed=$((failed + 1))
      printf '  fuzz %-28s FAILED (exit %s); log %s\n' "$name" "$rc" "$work/fuzz.log"
      grep -E 'ERROR:|SUMMARY:|Test unit written|==[0-9]+==' "$work/fuzz.log" | head -20 | sed 's/^/    /'
      find "$work/artifacts" -type f | sed 's/^/    artifact: /'
    fi
  done
  local p
  for p in "${problems[@]}"; do printf '  fuzz %s -> FAILED\n' "$p"; done
  record fuzz "$passed" "$failed" $((SECONDS - stage_start)) \
    "build ${build_s}s, ${#entries[@]} targets x ${FUZZ_SECONDS}s ($FUZZ_JOBS at a time)"
}

log "deps"
if ! scripts/deps.sh; then
  record deps 0 1 0 "scripts/deps.sh failed"
fi

for stage in $STAGES; do
  case "$stage" in
    release) stage_build_and_ctest release ;;
    asan)
      stage_build_and_ctest asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
      ;;
    fuzz) stage_fuzz ;;
    *) record "$stage" 0 1 0 "unknown stage" ;;
  esac
done

echo
echo "==================== mailsift test summary ===================="
printf '%s\n' "${summary[@]}"
printf 'wall time %ss, commit %s\n' $((SECONDS - script_start)) \
  "$(git -C "$MAILSIFT_ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
if ((total_failed > 0)); then echo "RESULT: FAILED"; else echo "RESULT: OK"; fi
echo "total: $total_passed passed, $total_failed failed"
((total_failed == 0))
