#!/usr/bin/env bash
# Outbound end to end with a REAL Postfix: a submission-like smtpd on 127.0.0.1 with SMTP AUTH
# (smtpd_sasl_type = dovecot against a real Dovecot auth service from Debian's dovecot-core, so
# sasl_username and the milter's {auth_authen} are real) and
# `check_policy_service` pointing at mailsiftd's policy listener (outbound.policy_listen), and
# mailsiftd as the smtpd's milter (so {auth_authen} is the SASL login) with a DKIM key for
# example.test (dkim_sign.keys); accepted mail is relayed to a loopback SMTP sink (smtp_sink.py).
# Checks: a clean authenticated message is queued; a suspended user gets the documented 550 5.7.1
# text at RCPT; the decision log holds that exact reply with direction outbound; a user over the
# messages/hour limit is tempfailed with 451 4.7.1; re-activation lets the user send again;
# phishing content from an authenticated user is refused at end of data with the acceptable use
# reply (and logged, and never delivered); a clean message arrives at the sink with a
# DKIM-Signature that dkimpy (python3-dkim, an independent verifier) verifies against the public
# key, and that fails once the body is changed; with the tenant store knowing carol@example.test,
# a From of bank.test (another domain of carol's reseller) is refused as forged.
# Usage: outbound.sh /path/to/mailsiftd /path/to/mailsift /path/to/repo
# Exit: 0 pass, 1 fail, 77 skipped (no postfix/swaks/dovecot/openssl/python3-dkim, or not root).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
ROOT="$3"

POSTFIX=$(command -v postfix || ls /usr/sbin/postfix 2>/dev/null)
SWAKS=$(command -v swaks)
DOVECOT=$(command -v dovecot || ls /usr/sbin/dovecot 2>/dev/null)
if [ -z "$POSTFIX" ] || [ -z "$SWAKS" ]; then
  echo "SKIP: postfix and swaks are needed"
  exit 77
fi
# dkimpy is Debian's python3-dkim: the system interpreter, whatever python3 is first on PATH.
SYSPY=/usr/bin/python3
if [ -z "$DOVECOT" ] || ! command -v doveadm >/dev/null || ! command -v openssl >/dev/null ||
  ! "$SYSPY" -c 'import dkim' 2>/dev/null; then
  echo "SKIP: dovecot-core, openssl and python3-dkim are needed (scripts/deps.sh)"
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
SINK_PID=""
cleanup() {
  [ -f "$WORK/dovecot.conf" ] && doveadm -c "$WORK/dovecot.conf" stop >/dev/null 2>&1
  [ -d "$CONF" ] && "$POSTFIX" -c "$CONF" stop >/dev/null 2>&1
  for p in $MS_PID $SINK_PID; do
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
on_exit cleanup
read -r SMTP_PORT POLICY_PORT AUTH_PORT MILTER_PORT SINK_PORT < <(free_ports 5)

# ---- SASL: a real Dovecot (Debian dovecot-core) running only its auth service ----
printf '%s\n' 'alice@example.test:{PLAIN}alicepw' 'bob@example.test:{PLAIN}bobpw' \
  'carol@example.test:{PLAIN}carolpw' >"$WORK/users"
chmod 644 "$WORK/users"
mkdir -p "$WORK/dovecot"
cat >"$WORK/dovecot.conf" <<EOF
# Private Dovecot: no mail protocols, only the auth service Postfix's smtpd_sasl_type=dovecot uses.
base_dir = $WORK/dovecot
instance_name = mailsift-outbound-$$
listen = 127.0.0.1
protocols = none
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $WORK/dovecot.log
default_internal_user = dovenull
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = $WORK/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  inet_listener sasl {
    address = 127.0.0.1
    port = $AUTH_PORT
  }
}
service anvil {
  chroot =
}
EOF
"$DOVECOT" -c "$WORK/dovecot.conf" || { echo "dovecot did not start" >&2; cat "$WORK/dovecot.log" >&2; exit 1; }
wait_port "$AUTH_PORT" || { echo "dovecot auth not listening" >&2; cat "$WORK/dovecot.log" >&2; exit 1; }

# ---- the sink: where accepted mail goes (raw copies in $WORK/sink) ----
mkdir -p "$WORK/sink"
python3 "$ROOT/tests/postfix/smtp_sink.py" "$SINK_PORT" "$WORK/sink.jsonl" "$WORK/sink" 2>"$WORK/sink.log" &
SINK_PID=$!
wait_port "$SINK_PORT" || { echo "sink did not start" >&2; cat "$WORK/sink.log" >&2; exit 1; }

# ---- DKIM key for example.test; the TXT record as it would be published ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/dkim.pem" 2>/dev/null
DKIM_TXT="v=DKIM1; k=rsa; p=$(openssl pkey -in "$WORK/dkim.pem" -pubout -outform DER | base64 -w0)"

# ---- mailsiftd: policy listener + milter (outbound profile, DKIM signing) ----
mkdir -p "$DATA"
cat >"$WORK/mailsift.toml" <<EOF
[server]
milter_listen = "inet:127.0.0.1:$MILTER_PORT"
http_listen = ""
threads = 1
node_name = "itest-out"
[outbound]
policy_listen = "inet:127.0.0.1:$POLICY_PORT"
user.messages_per_hour = 3
[dkim_sign]
enabled = true
keys = "example.test:s2026:$WORK/dkim.pem"
EOF
"$MAILSIFTD" --config "$WORK/mailsift.toml" --data-dir "$DATA" 2>"$WORK/mailsiftd.log" &
MS_PID=$!
if ! wait_port "$POLICY_PORT" || ! wait_port "$MILTER_PORT"; then
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
# Accepted mail leaves through the smtp client to the loopback sink.
relayhost = [127.0.0.1]:$SINK_PORT
smtp_bind_address = 127.0.0.1
# mailsiftd as the submission service's milter: {auth_authen} reaches it at MAIL FROM (Postfix's
# default milter_mail_macros), end-of-data replies and the DKIM-Signature come from it.
smtpd_milters = inet:127.0.0.1:$MILTER_PORT
non_smtpd_milters =
milter_protocol = 6
milter_default_action = tempfail
milter_command_timeout = 10s
milter_content_timeout = 30s
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

# 0. SASL really goes through Dovecot: a wrong password is refused at AUTH.
rc=$(send "$WORK/badpw.out" alice@example.test wrongpw)
check "wrong password refused by Dovecot at AUTH (swaks exit 28, 535 5.7.8)" \
  bash -c "test '$rc' = 28 && grep -q '<\*\* *535 5.7.8' '$WORK/badpw.out'"

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

# 7. Milter, end of data: carol (authenticated through SASL, so the milter's {auth_authen} is
#    carol@example.test) sends phishing content: refused with the acceptable use reply.
printf '%s\r\n' "From: IT Helpdesk <carol@example.test>" "To: friend@dest.example" \
  "Subject: Action required on your mailbox" "Message-ID: <phish-1@example.test>" \
  "MIME-Version: 1.0" "Content-Type: text/plain" "" "Dear user," "" \
  "Please verify your account within 24 hours or it will be closed:" \
  "http://198.51.100.23/secure/login.php?user=you" "" "Helpdesk" >"$WORK/phish.eml"
printf '%s\r\n' "From: Carol <carol@example.test>" "To: friend@dest.example" \
  "Subject: lunch on friday" "Date: Sat, 28 Nov 2026 20:00:00 +0000" \
  "Message-ID: <lunch-1@example.test>" "" "Noon at the usual place? I will book a table for four." \
  "" "Carol" >"$WORK/clean.eml"
send_data() {  # send_data OUTFILE FILE; prints swaks' exit code
  "$SWAKS" --server "127.0.0.1:$SMTP_PORT" --helo laptop.client.test --timeout 30 \
    --auth PLAIN --auth-user carol@example.test --auth-password carolpw \
    --from carol@example.test --to friend@dest.example --data "$2" >"$1" 2>&1
  echo $?
}
rc=$(send_data "$WORK/phish.out" "$WORK/phish.eml")
check "phishing from an authenticated user: refused after DATA (swaks exit 26)" test "$rc" = 26
AUP_REPLY=$(grep -o "550 5.7.1 Message refused by the provider's acceptable use policy: .* (ref [0-9T.Z-]*[0-9a-f]*)" "$WORK/phish.out" | head -1)
echo "phishing reply: $AUP_REPLY"
check "phishing: documented 550 5.7.1 acceptable use reply at end of data" \
  bash -c "test -n \"\$1\" && grep '^<\*\*' '$WORK/phish.out' | grep -qF \"\$1\"" _ "$AUP_REPLY"
check "phishing: the reply names the phishing rule" grep -q 'looks like phishing' <<<"$AUP_REPLY"
MS log --json --direction outbound --user carol@example.test --action reject >"$WORK/phish-log.jsonl" 2>"$WORK/phish-log.err"
check "decision log: end-of-data reject for carol with the reply the client saw" \
  "$SYSPY" - "$WORK/phish-log.jsonl" "$AUP_REPLY" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = len(rows) == 1 and sys.argv[2] != ""
if ok:
    r = rows[0]; rc = r["recipients"][0]
    ok = (r["direction"] == "outbound" and r["auth_user"] == "carol@example.test"
          and rc["stage"] == "data" and rc["smtp_reply"] == sys.argv[2]
          and any(s["name"] == "AUP_PHISHING" for s in rc["symbols"]))
if not ok:
    print(json.dumps(rows, indent=1)[:3000], "\nexpected reply:", sys.argv[2], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF

# 8. A clean message from carol: accepted, DKIM-signed by the milter, relayed to the sink.
rc=$(send_data "$WORK/clean.out" "$WORK/clean.eml")
check "clean message from carol accepted (swaks exit 0)" test "$rc" = 0
RAW=""
for _ in $(seq 150); do
  RAW=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["subject"] == "lunch on friday":
        print(d["raw"]); break' "$WORK/sink.jsonl" 2>/dev/null)
  [ -n "$RAW" ] && break
  sleep 0.1
done
check "clean message delivered to the sink" test -n "$RAW"
RAW=${RAW:-/nonexistent}
check "delivered copy carries a DKIM-Signature d=example.test s=s2026" \
  "$SYSPY" -c 'import re, sys; h = open(sys.argv[1], "rb").read().split(b"\r\n\r\n")[0]; sys.exit(0 if re.search(rb"(?m)^DKIM-Signature:(.|\r\n[ \t])*\bd=example\.test;(.|\r\n[ \t])*\bs=s2026;", h) else 1)' "$RAW"
check "no X-Spam headers leave with outbound mail" bash -c "! grep -qi '^X-Spam' '$RAW'"
# dkimpy verifies with the public key we generated, served by its DNS hook (only that name).
cat >"$WORK/verify.py" <<'EOF'
import sys, dkim
raw = open(sys.argv[1], "rb").read()
txt = sys.argv[2].encode()
if len(sys.argv) > 3:  # tamper: change one word of the body
    raw = raw.replace(b"table for four", b"table for five")
def dns(name, timeout=5):
    return txt if name == b"s2026._domainkey.example.test." else None
sys.exit(0 if dkim.verify(raw, dnsfunc=dns) else 1)
EOF
check "DKIM-Signature verifies with the published key (dkimpy)" "$SYSPY" "$WORK/verify.py" "$RAW" "$DKIM_TXT"
check "a changed body fails verification (the check can fail)" bash -c "! '$SYSPY' '$WORK/verify.py' '$RAW' '$DKIM_TXT' tamper"
check "the phishing message never reached the sink" bash -c "! grep -q 'Action required' '$WORK/sink.jsonl'"

# 9. Forged From against the tenant's domains (mailsiftd's tenant store): reseller acme hosts
#    example.test (carol's) and bank.test; carol may not send as bank.test, same reseller or not.
MS tenant reseller add acme >/dev/null
MS tenant domain add example.test --reseller acme >/dev/null
MS tenant domain add bank.test --reseller acme >/dev/null
MS tenant user add carol@example.test >/dev/null
check "tenant store: carol registered under example.test" grep -q 'carol@example.test' <(MS tenant user list 2>&1)
printf '%s\r\n' "From: Security Team <security@bank.test>" "To: friend@dest.example" \
  "Subject: account notice" "Message-ID: <notice-1@example.test>" "" \
  "Your statement is ready." >"$WORK/forged.eml"
rc=$(send_data "$WORK/forged.out" "$WORK/forged.eml")
check "From a sibling domain of the same reseller: refused after DATA (swaks exit 26)" test "$rc" = 26
check "forged From: 550 5.7.1 reply; carol owns example.test only (not the reseller's bank.test)" \
  grep -q "<\*\* *550 5.7.1 Message refused by the provider's acceptable use policy: From address uses a domain the sending user does not own \[From security@bank.test by carol@example.test (owns example.test)\] (ref " "$WORK/forged.out"
check "the forged message never reached the sink" bash -c "! grep -q 'account notice' '$WORK/sink.jsonl'"

echo "outbound postfix integration: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "--- mailsiftd log" >&2; tail -40 "$WORK/mailsiftd.log" >&2
  echo "--- postfix log" >&2; tail -40 "$PF/maillog" >&2
  echo "--- dovecot log" >&2; tail -20 "$WORK/dovecot.log" >&2
  for f in "$WORK"/*.out; do echo "--- $f" >&2; tail -15 "$f" >&2; done
  echo "--- sink" >&2; cat "$WORK/sink.jsonl" >&2 2>/dev/null
  exit 1
fi
exit 0
