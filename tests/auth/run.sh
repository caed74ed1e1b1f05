#!/usr/bin/env bash
# End to end: mailsiftd with authentication on, against a REAL DNS server (Debian's unbound with
# local-data on 127.0.0.1, private port) serving SPF, DKIM keys (the RFC 8463 example, from
# ../shared), DMARC, PTR and a DNS blocklist. Checks the verdict symbols and the
# Authentication-Results mailsiftd writes, the removal of a forged one, and that a DMARC
# p=reject spoof goes to the spam folder (not rejected) by default.
# Usage: run.sh /path/to/mailsiftd /path/to/repo     Exit: 0 pass, 1 fail, 77 skip (no unbound).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
ROOT="$2"
UNBOUND=$(command -v unbound || ls /usr/sbin/unbound 2>/dev/null)
[ -n "$UNBOUND" ] || { echo "SKIP: unbound is needed (scripts/deps.sh)"; exit 77; }
VECTORS="$ROOT/../shared/testdata/dkim/stalwart-mail-auth/resources/dkim/001.txt"
[ -f "$VECTORS" ] || { echo "FAIL: missing $VECTORS"; exit 1; }

WORK=$(mktemp -d /tmp/mailsift-auth.XXXXXX)
UB_PID="" MS_PID=""
cleanup() {
  [ -n "$MS_PID" ] && kill -TERM "$MS_PID" 2>/dev/null && wait "$MS_PID" 2>/dev/null
  [ -n "$UB_PID" ] && kill -TERM "$UB_PID" 2>/dev/null && wait "$UB_PID" 2>/dev/null
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
read -r DNS_PORT MILTER_PORT HTTP_PORT < <(free_ports 3)

# ---- unbound: the zones ----
ED_KEY=$(sed -n 1p "$VECTORS" | cut -d' ' -f2-)
RSA_KEY=$(sed -n 2p "$VECTORS" | cut -d' ' -f2-)
cat >"$WORK/unbound.conf" <<EOF2
server:
  interface: 127.0.0.1@$DNS_PORT
  port: $DNS_PORT
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$WORK"
  pidfile: "$WORK/unbound.pid"
  use-syslog: no
  logfile: ""
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "example.com." static
  local-zone: "example." static
  local-zone: "in-addr.arpa." static
  local-zone: "bl.test." static
  local-data: 'brisbane._domainkey.football.example.com. 300 IN TXT "$ED_KEY"'
  local-data: 'test._domainkey.football.example.com. 300 IN TXT "$RSA_KEY"'
  local-data: 'football.example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"'
  local-data: '_dmarc.football.example.com. 300 IN TXT "v=DMARC1; p=reject"'
  local-data: 'mail.football.example.com. 300 IN A 192.0.2.10'
  local-data: '10.2.0.192.in-addr.arpa. 300 IN PTR mail.football.example.com.'
  local-data: 'bank.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"'
  local-data: '_dmarc.bank.example. 300 IN TXT "v=DMARC1; p=reject"'
  local-data: '66.113.0.203.bl.test. 300 IN A 127.0.0.2'
  local-data: '2.0.0.127.bl.test. 300 IN A 127.0.0.2'
remote-control:
  control-enable: no
EOF2
"$UNBOUND" -d -c "$WORK/unbound.conf" >"$WORK/unbound.log" 2>&1 &
UB_PID=$!
for _ in $(seq 50); do dig +short -p "$DNS_PORT" @127.0.0.1 football.example.com TXT 2>/dev/null | grep -q spf1 && break; sleep 0.1; done

# ---- mailsiftd with auth on ----
mkdir -p "$WORK/data"
cat >"$WORK/mailsift.toml" <<EOF2
[server]
milter_listen = "127.0.0.1:$MILTER_PORT"
http_listen = "127.0.0.1:$HTTP_PORT"
threads = 1
data_dir = "$WORK/data"
[auth]
enabled = true
authserv_id = "mx.test"
[dns]
servers = "127.0.0.1:$DNS_PORT"
timeout_ms = 1000
[dnsbl]
lists = "bl=bl.test:ip:3"
EOF2
"$MAILSIFTD" --config "$WORK/mailsift.toml" >"$WORK/mailsiftd.log" 2>&1 &
MS_PID=$!
wait_port "$HTTP_PORT" || { echo "FAIL: mailsiftd did not start"; cat "$WORK/mailsiftd.log"; exit 1; }

scan() {  # scan QUERY FILE -> JSON
  curl -fsS --data-binary @"$2" "http://127.0.0.1:$HTTP_PORT/api/v1/scan?$1"
}
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# 1. The RFC 8463 example from an authorised IP, with a forged Authentication-Results on top.
{ printf 'Authentication-Results: mx.test; dkim=pass header.d=bank.example\r\n'
  sed -n '4,$p' "$VECTORS" | sed 's/$/\r/'; } >"$WORK/good.eml"
J=$(scan "ip=192.0.2.10&helo=mail.football.example.com&from=joe@football.example.com&rcpt=suzie@shopping.example.net" "$WORK/good.eml")
AR=$(echo "$J" | jq_py 'd["authentication_results"]')
echo "$AR"
SYMS=$(echo "$J" | jq_py '" ".join(s["name"] for s in d["recipients"][0]["symbols"])')
check "spf pass in A-R" grep -q "spf=pass smtp.mailfrom=joe@football.example.com" <<<"$AR"
check "both DKIM signatures pass (ed25519 + rsa)" test "$(grep -o "dkim=pass header.d=football.example.com" <<<"$AR" | wc -l)" = 2
check "dmarc pass in A-R" grep -q "dmarc=pass" <<<"$AR"
check "iprev pass in A-R" grep -q "iprev=pass" <<<"$AR"
check "A-R carries our authserv-id" grep -q "^mx.test;" <<<"$AR"
check "forged A-R claiming mx.test is removed" test "$(echo "$J" | jq_py 'd["forged_authentication_results"]')" = "[1]"
check "symbols R_SPF_ALLOW R_DKIM_ALLOW DMARC_POLICY_ALLOW" bash -c "grep -q R_SPF_ALLOW <<<'$SYMS' && grep -q R_DKIM_ALLOW <<<'$SYMS' && grep -q DMARC_POLICY_ALLOW <<<'$SYMS'"

# 2. A spoof of bank.example (p=reject) from a blocklisted IP: spam folder, not reject.
printf 'From: Bank <alerts@bank.example>\r\nTo: bob@shopping.example.net\r\nSubject: Verify your account\r\nMessage-ID: <x1@bank.example>\r\n\r\nPlease verify.\r\n' >"$WORK/spoof.eml"
J=$(scan "ip=203.0.113.66&helo=evil.example&from=alerts@bank.example&rcpt=bob@shopping.example.net" "$WORK/spoof.eml")
SYMS=$(echo "$J" | jq_py '" ".join(s["name"] for s in d["recipients"][0]["symbols"])')
ACTION=$(echo "$J" | jq_py 'd["recipients"][0]["action"]')
echo "spoof: $ACTION; $SYMS"
check "spoof: SPF fail" grep -q R_SPF_FAIL <<<"$SYMS"
check "spoof: DMARC reject policy" grep -q DMARC_POLICY_REJECT <<<"$SYMS"
check "spoof: blocklisted client IP" grep -q RBL_BL <<<"$SYMS"
check "spoof: spam folder by default, not reject" test "$ACTION" = "add header"
check "spoof: A-R dmarc=fail" bash -c "echo '$J' | grep -q 'dmarc=fail'"

echo "auth: $passed passed, $failed failed"
[ "$failed" = 0 ]
