#!/usr/bin/env bash
# End-to-end test of `mailsift case` and `mailsift explain-draft` (docs/support.md): a data dir
# gets tenants, a block entry and a domain reject policy through the CLI and decisions through the
# test-only decisions_seed helper (as mailsiftd writes them); then the case is looked up in
# Toronto time, human and --json, plus the DST fold/gap, an unknown reseller and a draft.
# Usage: case_cli_test.sh /path/to/mailsift /path/to/decisions_seed
set -uo pipefail
MS="$1"
SEED="$2"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0
check() {  # check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name" >&2; fi
}
contains() { [[ "$1" == *"$2"* ]]; }
D="$WORK/data"
M() { "$MS" --data-dir "$D" "$@"; }

M tenant reseller add acme --name Acme >/dev/null
M tenant domain add acme.test --reseller acme >/dev/null
M tenant user add bob@acme.test >/dev/null
M tenant policy set --domain acme.test --action reject >/dev/null
M lists add --user bob@acme.test --block @bad.example >/dev/null
M account disable bob@acme.test --reason "auto: burst" --by test >/dev/null
check "tenants seeded" test $? -eq 0

# 15:17Z is 10:17 EST. D3 is outside the 30m window. B1 bounces O1 (null sender to bob).
"$SEED" "$D" >/dev/null <<JSON
[
 {"id": "D1", "time_utc": "2026-11-27T15:17:00Z", "direction": "inbound", "client_ip": "192.0.2.10",
  "mail_from": "spammer@bad.example", "subject": "Cheap pills",
  "recipients": [{"address": "bob@acme.test", "user": "bob@acme.test", "domain": "acme.test",
    "reseller": "acme", "score": 109.1, "action": "reject", "stage": "rcpt",
    "smtp_reply": "550 5.7.1 Sender refused by recipient policy (ref D1)",
    "symbols": [{"name": "USER_BLOCKLIST", "score": 100}, {"name": "R_SPF_FAIL", "score": 2}]}]},
 {"id": "O1", "time_utc": "2026-11-27T15:05:00Z", "direction": "outbound", "mail_from": "bob@acme.test",
  "auth_user": "bob@acme.test", "client_ip": "198.51.100.4",
  "recipients": [{"address": "carol@far.example", "action": "no action", "stage": "data", "score": 0.5}]},
 {"id": "B1", "time_utc": "2026-11-27T15:06:00Z", "direction": "inbound", "mail_from": "",
  "recipients": [{"address": "bob@acme.test", "user": "bob@acme.test", "reseller": "acme",
    "action": "no action", "stage": "data"}]},
 {"id": "D3", "time_utc": "2026-11-27T17:00:00Z", "direction": "inbound", "mail_from": "spammer@bad.example",
  "recipients": [{"address": "bob@acme.test", "user": "bob@acme.test", "reseller": "acme", "action": "no action"}]},
 {"id": "F1", "time_utc": "2026-11-01T05:31:00Z", "direction": "inbound", "mail_from": "spammer@bad.example",
  "recipients": [{"address": "bob@acme.test", "user": "bob@acme.test", "reseller": "acme", "action": "no action"}]},
 {"id": "F2", "time_utc": "2026-11-01T06:29:00Z", "direction": "inbound", "mail_from": "spammer@bad.example",
  "recipients": [{"address": "bob@acme.test", "user": "bob@acme.test", "reseller": "acme", "action": "no action"}]}
]
JSON
check "decisions seeded" test $? -eq 0

CASE=(case --reseller acme --user bob@acme.test --from spammer@bad.example --to bob@acme.test
      --at "2026-11-27 10:15" --tz America/Toronto)
out="$(M "${CASE[@]}")"
check "case exits 0" test $? -eq 0
check "reject with reply" contains "$out" 'rejected at SMTP at RCPT TO, before the message content was sent with "550 5.7.1 Sender refused by recipient policy (ref D1)"'
check "symbol described" contains "$out" "USER_BLOCKLIST  Envelope sender is on the recipient's block list"
check "spf described" contains "$out" "R_SPF_FAIL  SPF:"
check "local time" contains "$out" "2026-11-27 10:17:00 EST"
check "policy provenance" contains "$out" "spam_action=reject from domain:acme.test"
check "block entry" contains "$out" "block entry 1 'bad.example' (user bob@acme.test) matches"
check "window excludes D3" test "$(grep -c 'decision D3' <<<"$out")" -eq 0
check "account status" contains "$out" "bob@acme.test is sending_disabled (bob@acme.test): auto: burst"
check "outbound ip seam" contains "$out" "not monitored (no outbound IP pools"
check "searched range" contains "$out" "[2026-11-27T14:45:00.000Z, 2026-11-27T15:45:00.000Z]"

json="$(M "${CASE[@]}" --json)"
check "json exits 0" test $? -eq 0
check "json shape" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
ids = [m["decision_id"] for m in j["messages"]]
assert ids[0] == "D1", ids
r = j["messages"][0]["recipients"][0]
assert r["outcome"] == "rejected" and r["stage"] == "rcpt", r
assert r["symbols"][0]["description"].startswith("Envelope sender"), r
assert [c["name"] for c in j["checks"]] == ["spam_action", "lists", "authentication", "account", "outbound_ip"]
assert j["instants_utc"] == ["2026-11-27T15:15:00.000Z"]
' "$json"

bounce="$(M case --reseller acme --user bob@acme.test --from bob@acme.test --to carol@far.example \
          --at "2026-11-27 10:05" --tz America/Toronto --window 10m --json)"
check "bounce heuristic" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
o = [m for m in j["messages"] if m["decision_id"] == "O1"][0]
assert o["bounced_by"] == ["B1"], o
assert o["recipients"][0]["outcome"] == "accepted_then_bounced", o
' "$bounce"

fold="$(M case --reseller acme --user bob@acme.test --from spammer@bad.example --to bob@acme.test \
        --at "2026-11-01 01:30" --tz America/Toronto --window 5m)"
check "fold searches both" contains "$fold" "happens twice"
check "fold finds F1" contains "$fold" "decision F1"
check "fold finds F2" contains "$fold" "decision F2"

gap="$(M case --reseller acme --at "2026-03-08 02:30" --tz America/Toronto 2>&1)"
check "gap exit 2" test $? -eq 2
check "gap message" contains "$gap" "2026-03-08 02:30"
badtz="$(M case --reseller acme --at "2026-11-27 10:15" --tz Mars/Olympus 2>&1)"
check "unknown tz exit 2" test $? -eq 2

unknown="$(M case --reseller initech --user zed@acme.test --at "2026-11-27 10:15" --tz UTC)"
check "unknown reseller answered" contains "$unknown" 'reseller "initech" is not in the tenant store'
check "unknown user answered" contains "$unknown" 'user "zed@acme.test" is not in the tenant store'
check "no match says what" contains "$unknown" "no decision matched. Searched decision log"

before="$(sqlite3 "$D/decisions.db" 'select count(*) from decisions' 2>/dev/null || echo n/a)"
printf 'From: bob@acme.test\r\nTo: x@far.example\r\nSubject: hello\r\n\r\nSee you tomorrow.\r\n' > "$WORK/draft.eml"
draft="$(M explain-draft --user bob@acme.test --reseller acme "$WORK/draft.eml")"
check "draft exits 0" test $? -eq 0
check "draft verdict" contains "$draft" "Draft as sent by bob@acme.test (reseller acme): would be refused at MAIL FROM: the account is sending_disabled (auto: burst)"
check "draft read-only" contains "$draft" "Nothing was logged, learned or counted."
after="$(sqlite3 "$D/decisions.db" 'select count(*) from decisions' 2>/dev/null || echo n/a)"
check "draft not logged" test "$before" = "$after"
M account activate bob@acme.test --by test >/dev/null
djson="$(M explain-draft --user bob@acme.test --json - < "$WORK/draft.eml")"
check "draft json" python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["logged"] is False and j["user"] == "bob@acme.test" and j["would"].startswith("would be sent"), j' "$djson"

echo "case_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
