#!/usr/bin/env bash
# End-to-end tests of `mailsift bounce` (src/bounce/README.md): human and JSON output, stdin,
# per-file errors and exit codes, --mbox and --maildir summaries. Needs no store.
# Usage: bounce_cli_test.sh /path/to/mailsift /path/to/repo
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
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name" >&2; fi
}
jq_py() {  # jq_py JSON-LINE PYTHON-EXPR(v) -> printed value
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
C="$ROOT/src/bounce/corpus"

out="$("$MS" bounce --json "$C/postfix-userunknown.eml")"
check "json exits 0" test $? -eq 0
check "json reason" test "$(jq_py "$out" 'v["recipients"][0]["reason"]')" = userunknown
check "json status" test "$(jq_py "$out" 'v["recipients"][0]["status"]')" = 5.1.1
check "json hard bounce" test "$(jq_py "$out" 'v["recipients"][0]["hard_bounce"]')" = True
check "json path echoed" test "$(jq_py "$out" 'v["path"]')" = "$C/postfix-userunknown.eml"
check "json advice for users" test -n "$(jq_py "$out" 'v["recipients"][0]["advice"]["user"]')"

out="$("$MS" bounce - <"$C/qmail-mailboxfull.eml")"
check "stdin exits 0" test $? -eq 0
check "human text names reason" grep -q "mailboxfull" <<<"$out"
check "human text has user advice" grep -q "user:" <<<"$out"

out="$("$MS" bounce --json "$C/autoreply.eml")"
check "auto-reply is vacation" test "$(jq_py "$out" 'v["kind"]')" = vacation
out="$("$MS" bounce --json "$C/arf-abuse.eml")"
check "arf is feedback" test "$(jq_py "$out" 'v["recipients"][0]["feedback_type"]')" = abuse
printf 'From: a@example.com\nTo: b@example.com\nSubject: hi\n\nlunch?\n' >"$WORK/plain.eml"
out="$("$MS" bounce --json "$WORK/plain.eml")"
check "plain mail is not a bounce" test "$(jq_py "$out" 'v["is_bounce"]')" = False

# A missing file: reported, the others processed, exit 1.
out="$("$MS" bounce --json "$WORK/missing.eml" "$C/postfix-userunknown.eml" 2>"$WORK/err")"
check "missing file exits 1" test $? -eq 1
check "missing file reported" grep -q "missing.eml" "$WORK/err"
check "other file still processed" test "$(wc -l <<<"$out")" -eq 1
"$MS" bounce >/dev/null 2>&1
check "no input is a usage error" test $? -eq 2

# Batch: maildir (flat) and mbox summaries.
out="$("$MS" bounce --maildir "$C" --summary --json)"
check "maildir exits 0" test $? -eq 0
check "maildir summary counts messages" test "$(jq_py "$out" 'v["summary"]["messages"]')" -ge 4
check "maildir summary per reason" test "$(jq_py "$out" 'v["summary"]["reasons"].get("userunknown",0)')" -ge 1
check "maildir summary per domain" test "$(jq_py "$out" 'len(v["summary"]["recipient_domains"])')" -ge 1
for f in "$C/postfix-userunknown.eml" "$C/qmail-mailboxfull.eml"; do
  echo "From MAILER-DAEMON Thu Jan  1 00:00:00 2026"
  cat "$f"
  echo
done >"$WORK/box.mbox"
out="$("$MS" bounce --mbox "$WORK/box.mbox")"
check "mbox exits 0" test $? -eq 0
check "mbox summary" grep -q "summary: 2 messages" <<<"$out"
check "mbox counts mailboxfull" grep -qE "1  mailboxfull" <<<"$out"
"$MS" bounce --mbox "$WORK/nope.mbox" >/dev/null 2>&1
check "unreadable mbox is a usage error" test $? -eq 2

echo "bounce cli: $passed passed, $failed failed"
test "$failed" -eq 0
