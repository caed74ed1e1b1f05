#!/usr/bin/env bash
# End to end with a REAL Postfix (Debian package) and swaks: mailsiftd as Postfix's milter on
# 127.0.0.1, a private Postfix instance (own config dir, queue, log, high port) delivering to
# Maildirs, and assertions on SMTP replies, delivered headers and the decision log.
# Usage: run.sh /path/to/mailsiftd /path/to/mailsift /path/to/repo
# Exit: 0 pass, 1 fail, 77 skipped (postfix or swaks not installed, or not root: `postfix -c`
# needs root to start its master). Everything is stopped and removed at the end (trap).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
ROOT="$3"

POSTFIX=$(command -v postfix || ls /usr/sbin/postfix 2>/dev/null)
SWAKS=$(command -v swaks)
if [ -z "$POSTFIX" ] || [ -z "$SWAKS" ]; then
  echo "SKIP: postfix and swaks are needed (apt-get install postfix swaks; scripts/deps.sh)"
  exit 77
fi
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: a private Postfix instance (postfix -c DIR start) needs root"
  exit 77
fi

WORK=$(mktemp -d /tmp/mailsift-postfix.XXXXXX)
chmod 755 "$WORK"
PF="$WORK/pf"
CONF="$PF/etc"
DATA="$WORK/data"
MS_PID=""
cleanup() {
  [ -d "$CONF" ] && "$POSTFIX" -c "$CONF" stop >/dev/null 2>&1
  if [ -n "$MS_PID" ]; then
    kill -TERM "$MS_PID" 2>/dev/null
    wait "$MS_PID" 2>/dev/null
  fi
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
on_exit cleanup
read -r SMTP_PORT MILTER_PORT HTTP_PORT < <(free_ports 3)

# ---- mailsiftd: trained store, policy, config ----
mkdir -p "$DATA"
"$MAILSIFT" --data-dir "$DATA" learn spam "$ROOT"/tests/data/train/spam/*.eml >/dev/null || exit 1
"$MAILSIFT" --data-dir "$DATA" learn ham "$ROOT"/tests/data/train/ham/*.eml >/dev/null || exit 1
cat >"$WORK/policy.toml" <<'EOF'
# carol opted in to reject; dave trusts the prize sender (allow list); everyone else: defaults
[users."carol@example.test"]
reject_enabled = true
reject = 10
[users."dave@example.test"]
allow_senders = ["@claim-prize.example"]
EOF
cat >"$WORK/mailsift.toml" <<EOF
[server]
milter_listen = "inet:127.0.0.1:$MILTER_PORT"
http_listen = "127.0.0.1:$HTTP_PORT"
threads = 2
policy_file = "$WORK/policy.toml"
node_name = "itest"
EOF
"$MAILSIFTD" --config "$WORK/mailsift.toml" --data-dir "$DATA" 2>"$WORK/mailsiftd.log" &
MS_PID=$!
if ! wait_port "$MILTER_PORT"; then
  echo "mailsiftd did not start:" >&2
  cat "$WORK/mailsiftd.log" >&2
  exit 1
fi

# ---- Postfix: private instance on 127.0.0.1:$SMTP_PORT (after integration-kit/postfix) ----
mkdir -p "$CONF" "$PF/spool" "$PF/data" "$PF/mail"
chown postfix:postfix "$PF/data"
chown 65534:65534 "$PF/mail"
cp /etc/postfix/dynamicmaps.cf "$CONF/"
cp -r /etc/postfix/dynamicmaps.cf.d "$CONF/" 2>/dev/null
cp /etc/postfix/postfix-files "$CONF/" 2>/dev/null
cp -r /etc/postfix/postfix-files.d "$CONF/" 2>/dev/null
cat >"$CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
myhostname = mx.test.invalid
mydomain = test.invalid
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_banner = \$myhostname ESMTP test
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = example.test
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = texthash:$CONF/vmailbox
default_transport = error:5.7.0 outbound delivery disabled in tests
relay_transport = error:5.7.0 outbound delivery disabled in tests
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
# the milter under test (deploy/postfix-main.cf.snippet has the production recommendation)
smtpd_milters = inet:127.0.0.1:$MILTER_PORT
non_smtpd_milters =
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 30s
EOF
cat >"$CONF/vmailbox" <<'EOF'
bob@example.test     example.test/bob/
carol@example.test   example.test/carol/
dave@example.test    example.test/dave/
@example.test        example.test/catchall/
EOF
cat >"$CONF/master.cf" <<EOF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
if ! "$POSTFIX" -c "$CONF" start >"$WORK/postfix-start.log" 2>&1; then
  echo "postfix did not start:" >&2
  cat "$WORK/postfix-start.log" "$PF/maillog" >&2 2>/dev/null
  exit 1
fi
wait_port "$SMTP_PORT" || { echo "postfix not listening" >&2; exit 1; }

send() {  # send OUTFILE SWAKS-ARGS... ; prints swaks' exit code
  local out="$1"
  shift
  "$SWAKS" --server "127.0.0.1:$SMTP_PORT" --helo client.remote.test --timeout 30 "$@" >"$out" 2>&1
  echo $?
}
# The newest delivered file of a mailbox that contains PATTERN (waits for delivery).
delivered() {  # delivered USER PATTERN
  for _ in $(seq 100); do
    local f
    f=$(grep -l -- "$2" "$PF/mail/example.test/$1/new/"* 2>/dev/null | tail -1)
    if [ -n "$f" ]; then
      echo "$f"
      return 0
    fi
    sleep 0.1
  done
  return 1
}
header_block() { sed '/^\r\?$/q' "$1"; }

SPAM="$ROOT/tests/data/sample-spam.eml"
HAM="$ROOT/tests/data/sample-ham.eml"
# A spam copy carrying a forged "X-Spam-Flag: NO" and a forged verdict header.
{
  printf 'X-Spam-Flag: NO\r\nX-Mailsift-Verdict: rcpt=bob@example.test; verdict=ham; action=no action; score=-50\r\n'
  cat "$SPAM"
} >"$WORK/forged-spam.eml"

# 1. Ham to bob: accepted, clean headers.
rc=$(send "$WORK/ham.out" --from friend@ham.test --to bob@example.test --data "@$HAM")
check "ham accepted (swaks exit 0)" test "$rc" = 0
f=$(delivered bob "Subject: .*" ) || f=""
check "ham delivered to bob" test -n "$f"
if [ -n "$f" ]; then
  h=$(header_block "$f")
  check "ham: X-Spam-Flag: NO" grep -q '^X-Spam-Flag: NO' <<<"$h"
  check "ham: X-Mailsift-Id present" grep -q '^X-Mailsift-Id: ' <<<"$h"
  check "ham: per-recipient verdict ham" grep -q '^X-Mailsift-Verdict: rcpt=bob@example.test; verdict=ham;' <<<"$h"
  HAM_ID=$(grep '^X-Mailsift-Id: ' <<<"$h" | head -1 | cut -d' ' -f2 | tr -d '\r')
fi

# 2. Forged spam to bob (spam folder by default): 250, forged headers replaced.
rc=$(send "$WORK/spam.out" --from winner-notify@claim-prize.example --to bob@example.test --data "@$WORK/forged-spam.eml")
check "spam to bob accepted (spam folder, not rejected)" test "$rc" = 0
f=$(delivered bob "FINAL NOTICE") || f=""
check "spam delivered to bob" test -n "$f"
if [ -n "$f" ]; then
  h=$(header_block "$f")
  check "spam: X-Spam-Flag: YES" grep -q '^X-Spam-Flag: YES' <<<"$h"
  check "spam: forged X-Spam-Flag removed" test "$(grep -c '^X-Spam-Flag:' <<<"$h")" = 1
  check "spam: forged verdict removed" test "$(grep -c '^X-Mailsift-Verdict:' <<<"$h")" = 1
  check "spam: bob's verdict is spam" grep -q '^X-Mailsift-Verdict: rcpt=bob@example.test; verdict=spam; action=add header;' <<<"$h"
  check "spam: X-Spam-Status SpamAssassin style" grep -q '^X-Spam-Status: Yes, score=[0-9.]* required=[0-9.]* tests=' <<<"$h"
  SPAM_ID=$(grep '^X-Mailsift-Id: ' <<<"$h" | head -1 | cut -d' ' -f2 | tr -d '\r')
fi

# 3. Spam to carol, who opted in to reject: 550 at end of data.
rc=$(send "$WORK/reject.out" --from winner-notify@claim-prize.example --to carol@example.test --data "@$SPAM")
check "spam to carol rejected after DATA (swaks exit 26)" test "$rc" = 26
check "reject reply text with reference" grep -q '<\*\* *550 5.7.1 Message rejected as spam (ref [0-9T.Z-]*[0-9a-f]*)' "$WORK/reject.out"
check "nothing delivered to carol" test -z "$(ls "$PF/mail/example.test/carol/new/" 2>/dev/null)"

# 4. One transaction, bob (spam folder) + carol (reject): carol deferred at RCPT with 452 4.5.3
#    so the transaction stays uniform; bob gets his copy.
rc=$(send "$WORK/mixed.out" --from winner-notify@claim-prize.example --to bob@example.test,carol@example.test --data "@$SPAM")
check "mixed: carol deferred at RCPT with 452 4.5.3" grep -q '<\*\* *452 4.5.3 ' "$WORK/mixed.out"
check "mixed: message queued for bob" grep -q '<- *250 2.0.0 Ok: queued' "$WORK/mixed.out"

# 5. One transaction, bob + dave (allow-listed the sender): both delivered, each copy carries
#    both per-recipient verdicts; the Sieve script files by the reader's own.
rc=$(send "$WORK/multi.out" --from winner-notify@claim-prize.example --to bob@example.test,dave@example.test --data "@$SPAM")
check "multi: accepted (swaks exit 0)" test "$rc" = 0
f=$(delivered dave "FINAL NOTICE") || f=""
check "multi: delivered to dave" test -n "$f"
if [ -n "$f" ]; then
  h=$(header_block "$f")
  check "multi: dave's verdict ham (allow list)" grep -q '^X-Mailsift-Verdict: rcpt=dave@example.test; verdict=ham; action=no action;' <<<"$h"
  check "multi: bob's verdict spam in the same copy" grep -q '^X-Mailsift-Verdict: rcpt=bob@example.test; verdict=spam;' <<<"$h"
fi

# 6. The decision log, through `mailsift log --json` (the daemon keeps running: WAL readers).
log_json=$("$MAILSIFT" --data-dir "$DATA" log --json --limit 0 2>"$WORK/log.err")
check "decision log readable" test -n "$log_json"
echo "$log_json" >"$WORK/decisions.jsonl"
check "decision log: 5 data-stage decisions" python3 - "$WORK/decisions.jsonl" "${SPAM_ID:-none}" "${HAM_ID:-none}" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ids = {r["id"]: r for r in rows}
ok = len(rows) >= 5
spam, ham = ids.get(sys.argv[2]), ids.get(sys.argv[3])
ok = ok and spam is not None and ham is not None
if ok:
    rs = spam["recipients"][0]
    ok = (spam["mail_from"] == "winner-notify@claim-prize.example" and spam["client_ip"] == "127.0.0.1"
          and spam["helo"] == "client.remote.test" and spam["queue_id"] != "" and spam["node"] == "itest"
          and rs["address"] == "bob@example.test" and rs["action"] == "add header"
          and rs["domain"] == "example.test" and len(rs["symbols"]) > 0)
    ok = ok and ham["recipients"][0]["action"] == "no action"
    rejected = [r for r in rows if any(x["action"] == "reject" and x["address"] == "carol@example.test"
                                        and x["smtp_reply"].startswith("550 5.7.1") for x in r["recipients"])]
    ok = ok and len(rejected) == 1
if not ok:
    print(json.dumps(rows, indent=1)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
check "mailsift log filters by recipient and action" test "$("$MAILSIFT" --data-dir "$DATA" log --json --to carol@example.test --action reject | wc -l)" = 1

# 7. HTTP front end of the same daemon answers too.
if command -v curl >/dev/null; then
  check "http /ping" grep -q '^pong' <(curl -s --noproxy "*" --max-time 5 "http://127.0.0.1:$HTTP_PORT/ping")
fi

# 8. SIGHUP reload keeps serving; then a message still goes through.
kill -HUP "$MS_PID"
sleep 1
rc=$(send "$WORK/after-hup.out" --from friend@ham.test --to bob@example.test --header "Subject: after reload" --body "plain text after reload")
check "mail accepted after SIGHUP reload" test "$rc" = 0
check "reload logged" grep -q 'event=reloaded' "$WORK/mailsiftd.log"

# 9. mailsiftd down + milter_default_action=tempfail: 451 at MAIL FROM, nothing lost.
kill -TERM "$MS_PID"
wait "$MS_PID"
ms_rc=$?
MS_PID=""
check "mailsiftd exits 0 on SIGTERM" test "$ms_rc" = 0
rc=$(send "$WORK/down.out" --from friend@ham.test --to bob@example.test --body "while down")
check "milter down: tempfail (swaks exit 23, 451 at MAIL)" test "$rc" = 23
check "milter down: 451 4.7.1 reply" grep -q '<\*\* *451 4.7.1' "$WORK/down.out"

echo "postfix integration: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "--- mailsiftd log" >&2; tail -40 "$WORK/mailsiftd.log" >&2
  echo "--- postfix log" >&2; tail -40 "$PF/maillog" >&2
  exit 1
fi
exit 0
