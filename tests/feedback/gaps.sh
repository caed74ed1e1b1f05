#!/usr/bin/env bash
# Issue 5 gaps end to end through mailsiftd and a real loopback SMTP sink
# (tests/postfix/smtp_sink.py):
#  - ARF sharing: with consent, a report queued while the relay is down reaches the relay once it
#    is up, and leaves the spool; without consent the sink receives nothing;
#  - report storms: 429 with Retry-After over feedback.rate_limit_*; duplicates counted once;
#  - tenant policy learning_enabled=false on a domain: reports recorded, nothing learned, and the
#    response says so;
#  - key revocation (CLI, while the daemon runs) is refused at once (401); a reseller key cannot
#    remove another reseller's user (404); removing a user through the API purges its feedback.
# Usage: gaps.sh /path/to/mailsiftd /path/to/mailsift SOURCE_DIR    Exit: 0 pass, 1 fail.
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
SRC="$3"
WORK=$(mktemp -d /tmp/mailsift-fbgaps.XXXXXX)
MS_PID=""
SINK_PID=""
cleanup() {
  [ -n "$MS_PID" ] && kill -TERM "$MS_PID" 2>/dev/null && wait "$MS_PID" 2>/dev/null
  [ -n "$SINK_PID" ] && kill -TERM "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
read -r MILTER_PORT HTTP_PORT SINK_PORT < <(free_ports 3)
D="$WORK/data"
mkdir -p "$D" "$WORK/spool" "$WORK/sink"
ms() { "$MAILSIFT" --data-dir "$D" "$@"; }
ms tenant reseller add acme >/dev/null && ms tenant domain add acme.test --reseller acme >/dev/null &&
  ms tenant reseller add globex >/dev/null && ms tenant domain add globex.test --reseller globex >/dev/null &&
  ms tenant user add bob@acme.test >/dev/null && ms tenant user add carol@acme.test >/dev/null &&
  ms tenant user add dave@globex.test >/dev/null || { echo "FAIL: tenant setup"; exit 1; }
ADMIN=$(ms tenant key create --admin --label ops)
ACME=$(ms tenant key create --reseller acme --label panel)
GLOBEX=$(ms tenant key create --reseller globex --label panel)
cat >"$WORK/mailsift.toml" <<EOF2
[server]
milter_listen = "127.0.0.1:$MILTER_PORT"
http_listen = "127.0.0.1:$HTTP_PORT"
threads = 1
data_dir = "$D"
[feedback]
arf_spool = "$WORK/spool"
arf_smtp_relay = "127.0.0.1:$SINK_PORT"
arf_rcpt_to = "fbl@partner.test"
arf_retry_seconds = 1
reporting_mta = "mx.mailsift.test"
rate_limit_per_minute = 1
rate_limit_burst = 5
EOF2
"$MAILSIFTD" --config "$WORK/mailsift.toml" >"$WORK/mailsiftd.log" 2>&1 &
MS_PID=$!
wait_port "$HTTP_PORT" || { echo "FAIL: mailsiftd did not start"; cat "$WORK/mailsiftd.log"; exit 1; }
URL="http://127.0.0.1:$HTTP_PORT"
py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
msg() {  # msg N -> a message from pest@junk.test
  printf 'Return-Path: <pest@junk.test>\r\nFrom: Pest <pest@junk.test>\r\nTo: %s\r\nSubject: offer %s\r\nMessage-ID: <m%s@junk.test>\r\n\r\nLimited offer number %s for our valued customers, act now and save big today.\r\n' "$2" "$1" "$1" "$1"
}
spool_count() { find "$WORK/spool" -maxdepth 1 -name '*.eml' | wc -l; }
sink_count() { [ -f "$WORK/sink/out.jsonl" ] && wc -l <"$WORK/sink/out.jsonl" || echo 0; }

# --- ARF: consent, relay down, relay back -------------------------------------------------------
curl -fsS -X POST "$URL/api/v1/consent?user=bob@acme.test&state=accepted" >/dev/null
msg 1 bob@acme.test >"$WORK/m1.eml"
R=$(curl -fsS --data-binary @"$WORK/m1.eml" "$URL/api/v1/report/spam?user=bob@acme.test")
check "bob (consent) shares the report" test "$(echo "$R" | py 'd["shared"]')" = True
msg 2 carol@acme.test >"$WORK/m2.eml"
R=$(curl -fsS --data-binary @"$WORK/m2.eml" "$URL/api/v1/report/spam?user=carol@acme.test")
check "carol (no consent) is asked and nothing is shared" \
  test "$(echo "$R" | py 'd["shared"], d["prompt_consent"]')" = "False True"
sleep 2.5  # two retry rounds against a relay that is down
check "relay down: bob's report waits in the spool" test "$(spool_count)" = 1
python3 "$SRC/tests/postfix/smtp_sink.py" "$SINK_PORT" "$WORK/sink/out.jsonl" "$WORK/sink" &
SINK_PID=$!
wait_port "$SINK_PORT" || { echo "FAIL: sink did not start"; exit 1; }
for _ in $(seq 50); do [ "$(sink_count)" -ge 1 ] && [ "$(spool_count)" = 0 ] && break; sleep 0.2; done
check "relay up: the queued report is delivered" test "$(sink_count)" = 1
check "delivered report left the spool" test "$(spool_count)" = 0
check "envelope goes to the partner" grep -q '"rcpts": \["<fbl@partner.test>"\]' "$WORK/sink/out.jsonl"
RAW=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["raw"])' "$WORK/sink/out.jsonl")
check "it is an ARF report" grep -q "Feedback-Type: abuse" "$RAW"
check "the reporter is redacted" bash -c "! grep -q 'bob@acme.test' '$RAW'"
check "carol's report never reached the sink" bash -c "! grep -qi 'offer 2' '$RAW'"
# Relay up from the start: the next report goes out at once. Carol still has not consented.
msg 3 bob@acme.test >"$WORK/m3.eml"
curl -fsS --data-binary @"$WORK/m3.eml" "$URL/api/v1/report/spam?user=bob@acme.test" >/dev/null
for _ in $(seq 25); do [ "$(sink_count)" -ge 2 ] && break; sleep 0.2; done
check "with the relay up a shared report is delivered at once" test "$(sink_count)" = 2
msg 4 carol@acme.test >"$WORK/m4.eml"
curl -fsS --data-binary @"$WORK/m4.eml" "$URL/api/v1/report/spam?user=carol@acme.test" >/dev/null
sleep 1.5
check "sink received nothing for the user without consent" test "$(sink_count)" = 2

# --- Report storms -------------------------------------------------------------------------------
# carol has used 2 of her burst of 5; the same report again is a duplicate (counted once).
for i in 1 2 3; do
  curl -fsS --data-binary @"$WORK/m4.eml" "$URL/api/v1/report/spam?user=carol@acme.test" >"$WORK/dup.json"
done
check "a repeated report is a duplicate" test "$(py 'd["duplicate"]' <"$WORK/dup.json")" = True
CODE=$(curl -s -D "$WORK/h.txt" -o "$WORK/429.json" -w '%{http_code}' --data-binary @"$WORK/m4.eml" \
  "$URL/api/v1/report/spam?user=carol@acme.test")
check "over the limit: 429" test "$CODE" = 429
check "429 carries Retry-After" grep -qi '^Retry-After: [0-9]' "$WORK/h.txt"
echo "429: $(cat "$WORK/429.json")"
S=$(curl -fsS "$URL/api/v1/report/user?user=carol@acme.test")
check "carol's reports counted once each (2)" test "$(echo "$S" | py 'd["spam_reports"]')" = 2
check "another user is not limited" test "$(curl -s -o /dev/null -w '%{http_code}' \
  --data-binary @"$WORK/m4.eml" "$URL/api/v1/report/spam?user=dave@globex.test")" = 200

# --- learning_enabled off at a domain ------------------------------------------------------------
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $GLOBEX" \
  -d '{"level":"domain","id":"globex.test","learning_enabled":false}' "$URL/api/v1/policy")
check "globex turns learning off for its domain" test "$CODE" = 200
msg 5 dave@globex.test >"$WORK/m5.eml"
R=$(curl -fsS --data-binary @"$WORK/m5.eml" "$URL/api/v1/report/spam?user=dave@globex.test")
echo "learning: $(echo "$R" | py 'd["learning"]')"
check "report says learning is off at domain:globex.test" \
  test "$(echo "$R" | py 'd["user_outcome"], d["learning"]["off_at"]')" = "off domain:globex.test"

# --- keys and removal ----------------------------------------------------------------------------
check "acme key works" test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ACME" "$URL/api/v1/domains")" = 200
KID=$(ms tenant key list --reseller acme --json | py 'd[0]["id"]')
ms tenant key revoke "$KID" >/dev/null
check "revoked (CLI, daemon running) key gets 401 at once" \
  test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ACME" "$URL/api/v1/domains")" = 401
check "globex key cannot remove acme's user (404)" test "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE \
  -H "Authorization: Bearer $GLOBEX" "$URL/api/v1/users?address=bob@acme.test")" = 404
R=$(curl -fsS -X DELETE -H "Authorization: Bearer $ADMIN" "$URL/api/v1/users?address=bob@acme.test")
echo "removed: $R"
check "admin removes bob; his 2 reports are purged" test "$(echo "$R" | py 'd["purged"]["reports"]')" = 2
S=$(curl -fsS "$URL/api/v1/report/user?user=bob@acme.test")
check "bob's feedback state is gone (consent unknown, 0 reports)" \
  test "$(echo "$S" | py 'd["consent"], d["spam_reports"]')" = "unknown 0"
check "CLI removes a domain" bash -c "'$MAILSIFT' --data-dir '$D' tenant domain remove globex.test | grep -q 'removed domain globex.test: 1 domain(s), 1 user(s)'"
echo "fbgaps: $passed passed, $failed failed"
[ "$failed" = 0 ]
