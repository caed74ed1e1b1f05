#!/usr/bin/env bash
# Feedback end to end through mailsiftd (embedded stores, no other server): a tenant user reports
# the same sender three times over HTTP; the sender lands on the user's block list (tenant
# lists, created_by feedback) and the next scan of that sender's mail for the user carries the
# block symbol and the user's feedback threshold shift; another user is untouched; a report of a
# message delivered to someone else (X-Mailsift-Id) is refused.
# Usage: run.sh /path/to/mailsiftd /path/to/mailsift    Exit: 0 pass, 1 fail.
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
WORK=$(mktemp -d /tmp/mailsift-feedback.XXXXXX)
MS_PID=""
cleanup() {
  [ -n "$MS_PID" ] && kill -TERM "$MS_PID" 2>/dev/null && wait "$MS_PID" 2>/dev/null
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
read -r MILTER_PORT HTTP_PORT < <(free_ports 2)
mkdir -p "$WORK/data"
"$MAILSIFT" --data-dir "$WORK/data" tenant reseller add acme --name Acme >/dev/null || exit 1
"$MAILSIFT" --data-dir "$WORK/data" tenant domain add acme.test --reseller acme >/dev/null || exit 1
"$MAILSIFT" --data-dir "$WORK/data" tenant user add bob@acme.test >/dev/null || exit 1
"$MAILSIFT" --data-dir "$WORK/data" tenant user add carol@acme.test >/dev/null || exit 1
cat >"$WORK/mailsift.toml" <<EOF2
[server]
milter_listen = "127.0.0.1:$MILTER_PORT"
http_listen = "127.0.0.1:$HTTP_PORT"
threads = 1
data_dir = "$WORK/data"
EOF2
"$MAILSIFTD" --config "$WORK/mailsift.toml" >"$WORK/mailsiftd.log" 2>&1 &
MS_PID=$!
wait_port "$HTTP_PORT" || { echo "FAIL: mailsiftd did not start"; cat "$WORK/mailsiftd.log"; exit 1; }
URL="http://127.0.0.1:$HTTP_PORT"
py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
msg() {  # msg N -> a message from pest@junk.test
  printf 'Return-Path: <pest@junk.test>\r\nFrom: Pest <pest@junk.test>\r\nTo: bob@acme.test\r\nSubject: offer %s\r\nMessage-ID: <m%s@junk.test>\r\n\r\nLimited offer number %s for our valued customers, act now and save big today.\r\n' "$1" "$1" "$1"
}
for i in 1 2 3; do
  msg "$i" >"$WORK/m$i.eml"
  R=$(curl -fsS --data-binary @"$WORK/m$i.eml" "$URL/api/v1/report/spam?user=bob@acme.test")
  echo "report $i: $(echo "$R" | py 'd["sender_blocked"], d["correction"], d["threshold_shift"]')"
done
check "third report blocks the sender" test "$(echo "$R" | py 'd["sender_blocked"]')" = True
check "block entry in the tenant lists, by feedback" bash -c "'$MAILSIFT' --data-dir '$WORK/data' lists show --user bob@acme.test | grep -q 'pest@junk.test'"
msg 4 >"$WORK/m4.eml"
J=$(curl -fsS --data-binary @"$WORK/m4.eml" "$URL/api/v1/scan?from=pest@junk.test&rcpt=bob@acme.test&rcpt=carol@acme.test")
BOB=$(echo "$J" | py '" ".join(s["name"] for s in d["recipients"][0]["symbols"])')
CAROL=$(echo "$J" | py '" ".join(s["name"] for s in d["recipients"][1]["symbols"])')
SRC=$(echo "$J" | py 'd["recipients"][0]["policy_source"]')
echo "bob: $BOB | $SRC"
check "bob's scan carries the user block" grep -q "USER_BLOCK_ADDR" <<<"$BOB"
check "bob's policy shows his feedback threshold shift (one missed spam; the next two were already caught by his fuzzy memory)" grep -q "feedback -0.25" <<<"$SRC"
check "bob's copy goes to the spam folder" test "$(echo "$J" | py 'd["recipients"][0]["action"]')" = "add header"
check "carol is not affected by bob's block" bash -c "! grep -q USER_BLOCK <<<'$CAROL'"
# A report by reference for a message that was delivered to carol only.
J=$(curl -fsS --data-binary @"$WORK/m4.eml" "$URL/api/v1/scan?from=pest@junk.test&rcpt=carol@acme.test")
ID=$(echo "$J" | py 'd["decision_id"]')
{ printf 'X-Mailsift-Id: %s\r\n' "$ID"; cat "$WORK/m4.eml"; } >"$WORK/ref.eml"
sleep 0.2
CODE=$(curl -s -o "$WORK/ref.json" -w '%{http_code}' --data-binary @"$WORK/ref.eml" "$URL/api/v1/report/spam?user=bob@acme.test")
check "report of another user's message is refused (422)" test "$CODE" = 422
CODE=$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'not json' "$URL/api/v1/consent?user=bob@acme.test&state=maybe")
check "bad consent state is a 400" test "$CODE" = 400
echo "feedback: $passed passed, $failed failed"
[ "$failed" = 0 ]
