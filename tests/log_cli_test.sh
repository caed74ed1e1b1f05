#!/usr/bin/env bash
# End-to-end test of `mailsift log` (docs/decision-log.md): decisions are written by the test-only
# decisions_seed helper (as mailsiftd will), then searched by every filter, across time zones,
# in human and JSON form; exit codes for no match (0), bad input (2), broken log (3).
# Usage: log_cli_test.sh /path/to/mailsift /path/to/decisions_seed
set -uo pipefail
MS="$1"
SEED="$2"
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
contains() { [[ "$1" == *"$2"* ]]; }
lacks() { [[ "$1" != *"$2"* ]]; }
ids_of() {  # JSON lines on stdin -> the ids, space-separated
  python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in sys.stdin if l.strip()))'
}

D="$WORK/data"
ESC=$'\033'
# 15:15Z is 10:15 EST (America/Toronto) and 20:45 IST (Asia/Kolkata).
"$SEED" "$D" >/dev/null <<JSON
[
 {"id": "D1", "time_utc": "2026-11-27T15:15:00Z", "node": "mx1", "direction": "inbound",
  "queue_id": "QA", "message_id": "<a@bad.example>", "client_ip": "192.0.2.10",
  "helo": "bad.example", "mail_from": "spammer@bad.example", "subject": "Cheap \u001b[31mRED",
  "recipients": [
   {"address": "Bob@Example.org", "user": "bob@example.org", "domain": "example.org",
    "reseller": "acme", "score": 15.5, "action": "reject", "stage": "data",
    "smtp_reply": "550 5.7.1 Message rejected as spam",
    "symbols": [{"name": "BAYES_SPAM", "score": 5.1}, {"name": "URL_BLOCKLIST", "score": 9.4},
                {"name": "TINY", "score": 0.01}]},
   {"address": "carol@example.org", "user": "carol@example.org", "domain": "example.org",
    "reseller": "acme", "score": 2, "action": "no action", "stage": "data"}]},
 {"id": "D2", "time_utc": "2026-11-27T16:30:00Z", "direction": "inbound", "queue_id": "QB",
  "client_ip": "2001:db8::7", "mail_from": "friend@good.example",
  "recipients": [{"address": "bob@example.org", "user": "bob@example.org",
                  "domain": "example.org", "reseller": "acme", "action": "no action"}]},
 {"id": "D3", "time_utc": "2026-11-27T14:00:00Z", "direction": "outbound", "queue_id": "QC",
  "mail_from": "bob@example.org",
  "recipients": [{"address": "dave@other.example", "action": "add header", "score": 6}]},
 {"id": "D4", "time_utc": "2026-11-01T05:30:00Z", "mail_from": "",
  "recipients": [{"address": "bob@example.org", "action": "no action"}]},
 {"id": "D5", "time_utc": "2026-11-01T06:30:00Z", "mail_from": "x@y",
  "recipients": [{"address": "bob@example.org", "action": "no action"}]}
]
JSON
check "seed exits 0" test $? -eq 0

# The case lookup: a local time in Toronto finds the decision stored at 15:15Z.
out="$("$MS" --data-dir "$D" log --at "2026-11-27 10:15" --tz America/Toronto)"
check "--at exits 0" test $? -eq 0
check "--at finds D1 only" test "$(grep -c '^20' <<<"$out")" -eq 1
check "local time with zone abbreviation" contains "$out" "2026-11-27 10:15:00 EST  inbound  queue QA  id D1"
check "sender and client" contains "$out" "from <spammer@bad.example>  client 192.0.2.10 (helo bad.example)"
check "recipient line" contains "$out" "-> <Bob@Example.org>  reject  score 15.50"
check "smtp reply when refused" contains "$out" "reply: 550 5.7.1 Message rejected as spam"
check "top symbols by weight" contains "$out" "symbols: URL_BLOCKLIST 9.40, BAYES_SPAM 5.10, TINY 0.01"
check "every recipient shown" contains "$out" "-> <carol@example.org>  no action"
check "terminal escapes neutralised" lacks "$out" "$ESC"
check "escape shown as text" contains "$out" 'Cheap \x1b[31mRED'

# Same instant through other zones / forms.
out="$("$MS" log --data-dir "$D" --since "2026-11-27 20:30" --until "2026-11-27 21:00" --tz Asia/Kolkata)"
check "Kolkata +05:30 range" contains "$out" "2026-11-27 20:45:00 IST"
out="$(MAILSIFT_DATA_DIR="$D" "$MS" log --since 2026-11-27T15:15:00Z --until 2026-11-27T15:15:00.001Z --json | ids_of)"
check "UTC ISO bounds, env data dir, since inclusive" test "$out" = "D1"
out="$("$MS" --data-dir "$D" log --since 2026-11-27T15:15:00Z --until 2026-11-27T16:30:00Z --json | ids_of)"
check "until exclusive" test "$out" = "D1"
out="$("$MS" --data-dir "$D" log --at "2026-11-27T10:15-05:00" --window 2h --json | ids_of)"
check "explicit offset and --window" test "$out" = "D2 D1 D3"

# Each filter.
q() { "$MS" --data-dir "$D" log --json "$@" 2>/dev/null | ids_of; }
check "--to any recipient, case-insensitive, newest first" test "$(q --to BOB@EXAMPLE.ORG)" = "D2 D1 D5 D4"
check "--to second recipient" test "$(q --to carol@example.org)" = "D1"
check "--from" test "$(q --from Spammer@Bad.Example)" = "D1"
check "--from <> null sender" test "$(q --from '<>')" = "D4"
check "--user" test "$(q --user bob@example.org)" = "D2 D1"
check "--domain" test "$(q --domain example.org)" = "D2 D1"
check "--reseller" test "$(q --reseller acme)" = "D2 D1"
check "--queue-id" test "$(q --queue-id QB)" = "D2"
check "--message-id without <>" test "$(q --message-id a@bad.example)" = "D1"
check "--ip canonical IPv6" test "$(q --ip 2001:DB8:0::7)" = "D2"
check "--action" test "$(q --action reject)" = "D1"
check "--direction" test "$(q --direction outbound)" = "D3"
check "--id" test "$(q --id D3)" = "D3"
check "combined user+action on the same recipient" test "$(q --user carol@example.org --action reject)" = ""
check "combined from+range" test "$(q --from spammer@bad.example --since 2026-11-27T15:16Z)" = ""

# --limit: newest first, and a note that more exist.
"$MS" --data-dir "$D" log --json --limit 2 >"$WORK/lim.out" 2>"$WORK/lim.err"
check "--limit exits 0" test $? -eq 0
check "--limit keeps the newest" test "$(ids_of <"$WORK/lim.out")" = "D2 D1"
check "--limit says more exist" grep -q "more decisions match" "$WORK/lim.err"

# JSON shape.
line="$("$MS" --data-dir "$D" log --json --id D1 --tz America/Toronto)"
shape="$(python3 - "$line" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
r = d["recipients"][0]
ok = (d["time_utc"] == "2026-11-27T15:15:00.000Z"
      and d["time_local"] == "2026-11-27T10:15:00.000-05:00"
      and d["time_zone"] == "America/Toronto" and d["time_zone_abbreviation"] == "EST"
      and d["time_unix_ms"] == 1795792500000 and d["queue_id"] == "QA"
      and d["mail_from"] == "spammer@bad.example" and d["client_ip"] == "192.0.2.10"
      and d["direction"] == "inbound" and len(d["recipients"]) == 2
      and r["address"] == "Bob@Example.org" and r["user"] == "bob@example.org"
      and r["domain"] == "example.org" and r["reseller"] == "acme" and r["score"] == 15.5
      and r["action"] == "reject" and r["smtp_reply"].startswith("550")
      and r["symbols"][0] == {"name": "BAYES_SPAM", "score": 5.1}
      and d["subject"] == "Cheap \x1b[31mRED")
print("ok" if ok else "bad: " + sys.argv[1])
PY
)"
check "--json shape" test "$shape" = "ok"

# No match: say what was searched, exit 0.
out="$("$MS" --data-dir "$D" log --to nobody@example.org --at "2026-11-27 10:15" --tz America/Toronto)"
check "no match exits 0" test $? -eq 0
check "no match names the filter" contains "$out" "no decisions match: to=nobody@example.org"
check "no match gives the UTC range" contains "$out" "from 2026-11-27T14:45:00.000Z until 2026-11-27T15:45:00.000Z UTC"
check "no match gives the local range" contains "$out" "2026-11-27 09:45:00 EST .. 2026-11-27 10:45:00 EST, America/Toronto"
out="$("$MS" --data-dir "$D" log --json --to nobody@example.org 2>"$WORK/nm.err")"
check "no match with --json: stdout stays JSON-only" test -z "$out"
check "no match with --json: message on stderr" grep -q "no decisions match" "$WORK/nm.err"

# Bad input: exit 2 with a clear message.
expect_usage() {  # expect_usage NAME EXPECTED-TEXT ARGS...
  local name="$1" text="$2"
  shift 2
  "$MS" --data-dir "$D" log "$@" >/dev/null 2>"$WORK/err"
  local rc=$?
  check "$name exits 2" test $rc -eq 2
  check "$name says why" grep -qF -e "$text" "$WORK/err"
}
expect_usage "unknown zone" 'unknown time zone "Mars/Olympus"' --at "2026-11-27 10:15" --tz Mars/Olympus
expect_usage "bad time" 'cannot read time "yesterday"' --since yesterday
expect_usage "ambiguous fall-back time" "2026-11-01T05:30:00.000Z (01:30 EDT, -04:00) or 2026-11-01T06:30:00.000Z (01:30 EST, -05:00)" \
  --at "2026-11-01 01:30" --tz America/Toronto
expect_usage "non-existent spring-forward time" "does not exist in America/Toronto" \
  --since "2026-03-08 02:30" --tz America/Toronto
expect_usage "--at with --since" "cannot be combined" --at "2026-11-27 10:15" --since 2026-11-27
expect_usage "--window without --at" "--window needs --at" --window 1h
expect_usage "bad window" 'cannot read duration "soon"' --at "2026-11-27 10:15" --window soon
expect_usage "empty range" "the range is empty" --since 2026-11-28 --until 2026-11-27
"$MS" --data-dir "$D" log --direction sideways >/dev/null 2>&1
check "bad --direction exits 2" test $? -eq 2
# The unambiguous hour around the repeat works, and an offset picks one of the two.
check "offset picks the first 01:30" test "$(q --at '2026-11-01 01:30-04:00' --window 1m)" = "D4"
check "offset picks the second 01:30" test "$(q --at '2026-11-01 01:30-05:00' --window 1m)" = "D5"

# No log yet: not an error, but says so.
"$MS" --data-dir "$WORK/empty" log >"$WORK/out" 2>"$WORK/err"
check "missing log exits 0" test $? -eq 0
check "missing log is explained" grep -q "no decision log at" "$WORK/err"
check "missing log is not created" test ! -e "$WORK/empty/decisions.db"

# A damaged log: temporary failure, exit 3, never a crash.
mkdir -p "$WORK/bad"
head -c 65536 /dev/zero | tr '\0' 'x' >"$WORK/bad/decisions.db"
"$MS" --data-dir "$WORK/bad" log >/dev/null 2>"$WORK/err"
check "damaged log exits 3" test $? -eq 3
check "damaged log is explained" grep -q "not a mailsift decision log" "$WORK/err"

echo "log_cli: $passed passed, $failed failed"
test "$failed" -eq 0
