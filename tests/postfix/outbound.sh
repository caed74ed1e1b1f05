#!/usr/bin/env bash
# Outbound end to end with a REAL Postfix: a submission-like smtpd on 127.0.0.1 with SMTP AUTH
# (smtpd_sasl_type = dovecot against fake_dovecot_auth.py, so sasl_username is real) and
# `check_policy_service` pointing at mailsiftd's policy listener (outbound.policy_listen).
# Checks: a clean authenticated message is queued; a suspended user gets the documented 550 5.7.1
# text at RCPT; the decision log holds that exact reply with direction outbound; a user over the
# messages/hour limit is tempfailed with 451 4.7.1; re-activation lets the user send again.
# Usage: outbound.sh /path/to/mailsiftd /path/to/mailsift /path/to/repo
# Exit: 0 pass, 1 fail, 77 skipped (no postfix/swaks, or not root).
set -uo pipefail
MAILSIFTD="$1"
MAILSIFT="$2"
ROOT="$3"

POSTFIX=$(command -v postfix || ls /usr/sbin/postfix 2>/dev/null)
SWAKS=$(command -v swaks)
if [ -z "$POSTFIX" ] || [ -z "$SWAKS" ]; then
  echo "SKIP: postfix and swaks are needed"
  exit 77
fi
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: a private Postfix instance (postfix -c DIR start) needs root"
  exit 77
fi

WORK=$(mktemp -d /tmp/mailsift-outbound.XXXXXX)
chmod 755 "$WORK"
PF="$WORK/pf"
CONF="$PF/etc"
DATA="$WORK/data"
MS_PID=""
AUTH_PID=""
cleanup() {
  [ -d "$CONF" ] && "$POSTFIX" -c "$CONF" stop >/dev/null 2>&1
  for p in $MS_PID $AUTH_PID; do
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

passed=0
failed=0
check() {
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
  fi
}
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
read -r SMTP_PORT POLICY_PORT AUTH_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

# ---- SASL (Dovecot auth protocol) ----
printf 'alice@example.test:alicepw\nbob@example.test:bobpw\n' >"$WORK/users"
python3 "$ROOT/tests/postfix/fake_dovecot_auth.py" "$AUTH_PORT" "$WORK/users" 2>"$WORK/auth.log" &
AUTH_PID=$!
wait_port "$AUTH_PORT" || { echo "auth server did not start" >&2; cat "$WORK/auth.log" >&2; exit 1; }

# ---- mailsiftd: policy listener only ----
mkdir -p "$DATA"
cat >"$WORK/mailsift.toml" <<EOF
[server]
milter_listen = ""
http_listen = ""
threads = 1
node_name = "itest-out"
[outbound]
policy_listen = "inet:127.0.0.1:$POLICY_PORT"
user.messages_per_hour = 3
EOF
"$MAILSIFTD" --config "$WORK/mailsift.toml" --data-dir "$DATA" 2>"$WORK/mailsiftd.log" &
MS_PID=$!
if ! wait_port "$POLICY_PORT"; then
  echo "mailsiftd did not start:" >&2
  cat "$WORK/mailsiftd.log" >&2
  exit 1
fi
MS() { "$MAILSIFT" --config "$WORK/mailsift.toml" --data-dir "$DATA" "$@"; }

# ---- Postfix: submission-like smtpd ----
mkdir -p "$CONF" "$PF/spool" "$PF/data"
chown postfix:postfix "$PF/data"
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
myhostname = submit.test.invalid
mydomain = test.invalid
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks =
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
# Outbound delivery is not under test: accepted mail is queued, then discarded by this transport.
default_transport = discard:outbound delivery disabled in tests
relay_transport = discard:outbound delivery disabled in tests
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$AUTH_PORT
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
# The documented placement (docs/outbound.md).
smtpd_recipient_restrictions = check_policy_service { inet:127.0.0.1:$POLICY_PORT, timeout=10s, default_action=DEFER_IF_PERMIT }, permit_sasl_authenticated, reject
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

send() {  # send OUTFILE USER PASSWORD [TO]; prints swaks' exit code
  "$SWAKS" --server "127.0.0.1:$SMTP_PORT" --helo laptop.client.test --timeout 15 \
    --auth PLAIN --auth-user "$2" --auth-password "$3" --from "$2" --to "${4:-friend@dest.example}" \
    --header "Subject: outbound test" --body "hello" >"$1" 2>&1
  echo $?
}

# 1. alice authenticates and sends: queued.
rc=$(send "$WORK/ok.out" alice@example.test alicepw)
check "authenticated clean message queued (swaks exit 0)" test "$rc" = 0
check "queued reply" grep -q '<- *250 2.0.0 Ok: queued' "$WORK/ok.out"

# 2. Suspended by support: 550 5.7.1 with the documented text at RCPT.
MS account suspend alice@example.test --reason "phishing complaint 4411" --by support-jo >/dev/null
check "account status shows the suspension" grep -q 'suspended: phishing complaint 4411' <(MS account status alice@example.test)
rc=$(send "$WORK/suspended.out" alice@example.test alicepw)
check "suspended user refused at RCPT (swaks exit 24)" test "$rc" = 24
REPLY=$(grep -o '550 5.7.1 <friend@dest.example>: Recipient address rejected: Account suspended for alice@example.test: phishing complaint 4411 (ref [0-9T.Z-]*[0-9a-f]*)' "$WORK/suspended.out" | head -1)
check "suspended: documented 550 5.7.1 reply with reference" test -n "$REPLY"

# 3. The decision log has exactly that reply, direction outbound.
MS log --json --direction outbound --user alice@example.test --action reject >"$WORK/log.jsonl" 2>"$WORK/log.err"
check "decision log: the reject with the reply the client saw" python3 - "$WORK/log.jsonl" "$REPLY" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = len(rows) == 1
if ok:
    r = rows[0]; rc = r["recipients"][0]
    ok = (r["direction"] == "outbound" and r["auth_user"] == "alice@example.test"
          and r["node"] == "itest-out" and rc["smtp_reply"] == sys.argv[2] and rc["stage"] == "rcpt"
          and ("(ref " + r["id"] + ")") in rc["smtp_reply"])
if not ok:
    print(json.dumps(rows, indent=1)[:3000], "\nexpected reply:", sys.argv[2], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF

# 4. Reversible: activate, alice sends again.
MS account activate alice@example.test --reason "ticket 991 closed" >/dev/null
rc=$(send "$WORK/reactivated.out" alice@example.test alicepw)
check "re-activated user can send again" test "$rc" = 0

# 5. bob over messages/hour (limit 3 in the test config): the 4th message is tempfailed.
for i in 1 2 3; do
  rc=$(send "$WORK/bob$i.out" bob@example.test bobpw)
  check "bob message $i queued" test "$rc" = 0
done
rc=$(send "$WORK/bob4.out" bob@example.test bobpw)
check "bob over the limit: tempfail at RCPT (swaks exit 24)" test "$rc" = 24
check "rate limit reply 451 4.7.1" grep -q '451 4.7.1 <friend@dest.example>: Recipient address rejected: Rate limit: 3 messages/hour for bob@example.test' "$WORK/bob4.out"
check "account limits shows bob at the limit" grep -q 'user:bob@example.test *messages/hour 3 / 3' <(MS account limits bob@example.test)

# 6. Unauthenticated relay attempt is not ours (rejected by Postfix, not logged as outbound).
"$SWAKS" --server "127.0.0.1:$SMTP_PORT" --helo x.test --from x@y.example --to friend@dest.example \
  --timeout 30 >"$WORK/unauth.out" 2>&1
check "unauthenticated relay refused by Postfix" grep -q '<\*\* *554 5.7.1 .*Relay access denied' "$WORK/unauth.out"
check "no outbound decision without a login" test "$(MS log --json --direction outbound --from x@y.example | wc -l)" = 0

echo "outbound postfix integration: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "--- mailsiftd log" >&2; tail -40 "$WORK/mailsiftd.log" >&2
  echo "--- postfix log" >&2; tail -40 "$PF/maillog" >&2
  for f in "$WORK"/*.out; do echo "--- $f" >&2; tail -15 "$f" >&2; done
  exit 1
fi
exit 0
