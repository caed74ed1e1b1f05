#!/usr/bin/env bash
# End to end with a REAL Dovecot (Debian dovecot-imapd + dovecot-sieve): IMAPSieve pipes a message
# moved into Junk to deploy/imapsieve/mailsift-report, which reports it to mailsiftd as spam; moving
# it out of Junk reports "not spam"; copying it to Trash reports nothing. Checked through
# mailsiftd's own state (GET /api/v1/report/user).
# Usage: run.sh /path/to/mailsiftd /path/to/repo
# Exit: 0 pass, 1 fail, 77 skipped (dovecot/sievec not installed, or not root).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
ROOT="$2"
DOVECOT=$(command -v dovecot || ls /usr/sbin/dovecot 2>/dev/null)
SIEVEC=$(command -v sievec || ls /usr/bin/sievec 2>/dev/null)
if [ -z "$DOVECOT" ] || [ -z "$SIEVEC" ]; then
  echo "SKIP: dovecot-imapd and dovecot-sieve are needed (scripts/deps.sh)"
  exit 77
fi
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: a private Dovecot instance needs root (it switches to the mail user)"
  exit 77
fi

WORK=$(mktemp -d /tmp/mailsift-dovecot.XXXXXX)
chmod 755 "$WORK"
MS_PID=""
cleanup() {
  [ -f "$WORK/dovecot.conf" ] && doveadm -c "$WORK/dovecot.conf" stop >/dev/null 2>&1
  if [ -n "$MS_PID" ]; then
    kill -TERM "$MS_PID" 2>/dev/null
    wait "$MS_PID" 2>/dev/null
  fi
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

read -r IMAP_PORT MILTER_PORT HTTP_PORT < <(free_ports 3)

# ---- mailsiftd on an empty embedded store ----
mkdir -p "$WORK/data"
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

# ---- Dovecot: private instance, IMAPSieve scripts and the report client from deploy/ ----
mkdir -p "$WORK/run" "$WORK/log" "$WORK/mail" "$WORK/bin" "$WORK/sieve"
chown nobody:nogroup "$WORK/mail"
cp "$ROOT/deploy/imapsieve/report-spam.sieve" "$ROOT/deploy/imapsieve/report-ham.sieve" "$WORK/sieve/"
# The pipe program gets no environment from the IMAP user: bake the URL into a wrapper.
cat >"$WORK/bin/mailsift-report" <<EOF2
#!/bin/sh
MAILSIFT_URL=http://127.0.0.1:$HTTP_PORT exec "$WORK/bin/mailsift-report.real" "\$@" 2>>"$WORK/log/report.log"
EOF2
cp "$ROOT/deploy/imapsieve/mailsift-report" "$WORK/bin/mailsift-report.real"
chmod 755 "$WORK/bin/"*
: >"$WORK/log/report.log"
chmod 666 "$WORK/log/report.log"
sed -e "s|/tmp/dv/|$WORK/|g" -e "s|port = 10143|port = $IMAP_PORT|" \
    -e "s|instance_name = dv-test|instance_name = mailsift-test-$$|" \
    "$ROOT/tests/dovecot/dovecot.conf.in" >"$WORK/dovecot.conf"
for s in report-spam report-ham; do
  "$SIEVEC" -c "$WORK/dovecot.conf" "$WORK/sieve/$s.sieve" || { echo "FAIL: sievec $s"; exit 1; }
done
"$DOVECOT" -c "$WORK/dovecot.conf" || { echo "FAIL: dovecot did not start"; exit 1; }
wait_port "$IMAP_PORT" || { echo "FAIL: dovecot IMAP not listening"; cat "$WORK/log/dovecot.log"; exit 1; }

state() {  # state USER -> JSON of the user's feedback state
  curl -fsS "http://127.0.0.1:$HTTP_PORT/api/v1/report/user?user=$1"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# ---- IMAP: append to INBOX, move to Junk (spam), move back (ham), copy to Trash (nothing) ----
python3 - "$IMAP_PORT" <<'EOF2' || { echo "FAIL: IMAP session"; cat "$WORK/log/dovecot.log"; exit 1; }
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.test", "test")
msg = (b"Return-Path: <offers@bad.test>\r\nFrom: Offers <offers@bad.test>\r\n"
       b"To: alice@example.test\r\nSubject: cheap watches\r\nMessage-Id: <spam-1@bad.test>\r\n\r\n"
       b"Replica watches at unbeatable prices, order today and save ninety percent on every "
       b"luxury brand we carry in our online store.\r\n")
M.append("INBOX", None, None, msg)
M.select("INBOX")
uid = M.search(None, "ALL")[1][0].split()[-1].decode()
assert M._simple_command("MOVE", uid, "Junk")[0] == "OK"
M.select("Junk")
uid = M.search(None, "ALL")[1][0].split()[-1].decode()
assert M._simple_command("MOVE", uid, "INBOX")[0] == "OK"
M.select("INBOX")
uid = M.search(None, "ALL")[1][0].split()[-1].decode()
assert M.copy(uid, "Trash")[0] == "OK"
M.logout()
EOF2

# The pipe runs synchronously with the IMAP command, so the reports have landed by now.
S=$(state alice@example.test)
echo "state: $S"
check "move into Junk reported spam" test "$(echo "$S" | field "['spam_reports']")" = 1
check "move out of Junk reported not spam" test "$(echo "$S" | field "['ham_reports']")" = 1
check "copy to Trash reported nothing more" test "$(echo "$S" | field "['reports']")" = 2
check "report client logged no error" test ! -s "$WORK/log/report.log"
S2=$(state bob@example.test)
check "other users untouched" test "$(echo "$S2" | field "['reports']")" = 0

echo "dovecot: $passed passed, $failed failed"
[ "$failed" = 0 ]
