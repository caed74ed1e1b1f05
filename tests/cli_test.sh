#!/usr/bin/env bash
# End-to-end tests of the mailsift CLI contract (README "CLI"): argument placement, JSON shape,
# path echo, per-file errors and exit codes, learn/unlearn round trip on the SQLite store.
# Usage: cli_test.sh /path/to/mailsift /path/to/repo
set -uo pipefail
MS="$1"
ROOT="$2"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

check() {  # check NAME CONDITION-COMMAND...
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
  fi
}

json_field() {  # json_field JSON-LINE FIELD -> value (python3 keeps this honest about JSON)
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print(json.dumps(v.get(sys.argv[2])))' "$1" "$2"
}

D="$WORK/data"
SPAM=("$ROOT"/tests/data/train/spam/*.eml)
HAM=("$ROOT"/tests/data/train/ham/*.eml)

# Learn with --data-dir before the subcommand, scan with it after.
"$MS" --data-dir "$D" learn spam "${SPAM[@]}" >"$WORK/learn.out"
check "learn exits 0" test $? -eq 0
check "learn reports each file" test "$(grep -c ': learned (spam in g:)' "$WORK/learn.out")" -eq "${#SPAM[@]}"
"$MS" learn ham "${HAM[@]}" --data-dir "$D" >/dev/null
check "learn ham with --data-dir after subcommand" test $? -eq 0

# Learning the same file again is a no-op, reported as such.
out="$("$MS" --data-dir "$D" learn spam --json "${SPAM[0]}")"
check "relearn is idempotent" test "$(json_field "$out" outcome)" = '"already-learned"'

# Scan JSON: one object per input, path exactly as given (relative path stays relative).
cd "$ROOT"
out="$("$MS" --data-dir "$D" scan --json tests/data/sample-spam.eml ./tests/data/sample-ham.eml)"
check "scan exits 0" test $? -eq 0
check "one line per input" test "$(wc -l <<<"$out")" -eq 2
line1="$(sed -n 1p <<<"$out")"
line2="$(sed -n 2p <<<"$out")"
check "path echoed exactly (1)" test "$(json_field "$line1" path)" = '"tests/data/sample-spam.eml"'
check "path echoed exactly (2)" test "$(json_field "$line2" path)" = '"./tests/data/sample-ham.eml"'
for f in score action symbols spam_probability elapsed_us; do
  check "field $f present" test "$(json_field "$line1" $f)" != null
done
check "symbols carry name/score/description" python3 -c '
import json,sys
v=json.loads(sys.argv[1])
assert v["symbols"], "no symbols"
assert all({"name","score","description"} <= set(s) for s in v["symbols"])
assert abs(sum(s["score"] for s in v["symbols"]) - v["score"]) < 1e-6, "score != sum of symbols"
' "$line1"
check "trained spam sample is flagged" test "$(json_field "$line1" action)" = '"add header"'
check "trained ham sample is not" test "$(json_field "$line2" action)" = '"no action"'

# MAILSIFT_DATA_DIR picks the same store.
out="$(MAILSIFT_DATA_DIR="$D" "$MS" scan --json tests/data/sample-spam.eml)"
check "MAILSIFT_DATA_DIR works" test "$(json_field "$out" action)" = '"add header"'

# Standard input.
out="$("$MS" --data-dir "$D" scan --json - <tests/data/sample-spam.eml)"
check "stdin path is -" test "$(json_field "$out" path)" = '"-"'

# Per-file errors: the rest is processed, exit code 1, error objects in JSON.
: >"$WORK/empty.eml"
head -c 3000 /bin/ls >"$WORK/binary.bin"
printf 'just some prose\nwith no headers at all\n' >"$WORK/prose.txt"
out="$("$MS" --data-dir "$D" scan --json "$WORK/missing.eml" "$WORK/empty.eml" "$WORK/binary.bin" \
  "$WORK/prose.txt" tests/data/sample-ham.eml)"
rc=$?
check "exit 1 when some inputs fail" test $rc -eq 1
check "five result lines" test "$(wc -l <<<"$out")" -eq 5
check "missing file error" python3 -c '
import json,sys
lines=[json.loads(l) for l in sys.argv[1].splitlines()]
assert lines[0]["error"]["kind"]=="permanent" and "cannot read" in lines[0]["error"]["message"]
assert lines[1]["error"]["kind"]=="malformed" and "empty" in lines[1]["error"]["message"]
assert lines[2]["error"]["kind"]=="malformed"
assert lines[3]["error"]["kind"]=="malformed"
assert "action" in lines[4]
' "$out"
"$MS" --data-dir "$D" scan "$WORK/empty.eml" >/dev/null 2>"$WORK/err.txt"
check "human error goes to stderr" grep -q "is empty" "$WORK/err.txt"

# Usage and configuration errors: exit 2.
"$MS" --data-dir "$D" scan >/dev/null 2>&1
check "missing files is a usage error" test $? -eq 2
"$MS" --data-dir "$D" learn maybe tests/data/sample-ham.eml >/dev/null 2>&1
check "bad class is a usage error" test $? -eq 2
"$MS" --data-dir "$D" --set actions.add_header=lots scan tests/data/sample-ham.eml >/dev/null 2>&1
check "bad --set is a config error" test $? -eq 2
printf 'no_such = 1\n' >"$WORK/bad.toml"
"$MS" --data-dir "$D" --config "$WORK/bad.toml" scan tests/data/sample-ham.eml >/dev/null 2>&1
check "bad config file is a config error" test $? -eq 2
# Captured first: `| grep -q` would close the pipe early and, with pipefail, fail on SIGPIPE.
dump="$("$MS" --dump-config)"
check "--dump-config exits 0" test $? -eq 0
check "--dump-config prints parameters" grep -q '^actions.add_header = ' <<<"$dump"

# A store that cannot be opened (data dir is a file) is not a silent success.
: >"$WORK/notadir"
"$MS" --data-dir "$WORK/notadir" scan tests/data/sample-ham.eml >/dev/null 2>&1
rc=$?
check "unusable data dir fails (exit $rc)" test $rc -ne 0 -a $rc -ne 1

# Unlearn restores the exact verdict.
before="$("$MS" --data-dir "$D" scan --json tests/data/sample-ham.eml)"
"$MS" --data-dir "$D" learn spam tests/data/sample-ham.eml >/dev/null
mid="$("$MS" --data-dir "$D" scan --json tests/data/sample-ham.eml)"
out="$("$MS" --data-dir "$D" unlearn spam --json tests/data/sample-ham.eml)"
check "unlearn reports unlearned" test "$(json_field "$out" outcome)" = '"unlearned"'
after="$("$MS" --data-dir "$D" scan --json tests/data/sample-ham.eml)"
check "learning moved the score" test "$(json_field "$mid" score)" != "$(json_field "$before" score)"
check "unlearn restores the score exactly" test "$(json_field "$after" score)" = "$(json_field "$before" score)"
out="$("$MS" --data-dir "$D" unlearn spam --json tests/data/sample-ham.eml)"
check "second unlearn is not learned" test "$(json_field "$out" outcome)" = '"not-learned"'

# Per-user learning stays with the user.
"$MS" --data-dir "$D" learn spam --user bob@example.com --json tests/data/sample-ham.eml >"$WORK/u.out"
check "user learn scope" test "$(json_field "$(cat "$WORK/u.out")" scope)" = '"u:bob@example.com"'
bob="$("$MS" --data-dir "$D" scan --json --user bob@example.com tests/data/sample-ham.eml)"
eve="$("$MS" --data-dir "$D" scan --json --user eve@example.com tests/data/sample-ham.eml)"
check "eve unaffected by bob's report" test "$(json_field "$eve" score)" = "$(json_field "$before" score)"
check "bob's own score moved" test "$(json_field "$bob" score)" != "$(json_field "$before" score)"

echo "cli: $passed passed, $failed failed"
((failed == 0))
