#!/usr/bin/env bash
# End to end: mailsiftd with authentication on, against a REAL DNS server (Debian's unbound with
# local-data on 127.0.0.1, private port) serving SPF, DKIM keys (the RFC 8463 example, from
# ../shared), DMARC, PTR and a DNS blocklist. Checks the verdict symbols and the
# Authentication-Results mailsiftd writes, the removal of a forged one, and that a DMARC
# p=reject spoof goes to the spam folder (not rejected) by default. Signing: outbound mail gets a
# DKIM-Signature (rsa-2048 and ed25519 keys made here, public halves published in the zone) that
# verifies through the real resolver when scanned again, and an inbound message gets an ARC set
# whose chain validates (arc=pass) when re-checked.
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
MS_PID=""
cleanup() {
  [ -n "$MS_PID" ] && kill -TERM "$MS_PID" 2>/dev/null && wait "$MS_PID" 2>/dev/null
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
on_exit cleanup
read -r DNS_PORT MILTER_PORT HTTP_PORT < <(free_ports 3)

# ---- signing keys (docs/signing.md): fresh keys, public halves go into the zone ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$WORK/ed.pem" 2>/dev/null
RSA_PUB=$(openssl pkey -in "$WORK/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
# RFC 8463: p= is the raw 32-byte key, the tail of the SubjectPublicKeyInfo.
ED_PUB=$(openssl pkey -in "$WORK/ed.pem" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0)
# TXT character-strings are at most 255 octets: split the RSA record.
RSA_TXT=$(printf 'v=DKIM1; k=rsa; p=%s' "$RSA_PUB" | fold -w 250 | sed 's/.*/"&"/' | paste -sd' ')

# ---- unbound: the zones ----
ED_KEY=$(sed -n 1p "$VECTORS" | cut -d' ' -f2-)
RSA_KEY=$(sed -n 2p "$VECTORS" | cut -d' ' -f2-)
start_unbound "$WORK" "$DNS_PORT" football.example.com TXT <<EOF2 || exit 1
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
  local-zone: "sender.example." static
  local-data: 'sender.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"'
  local-data: '_dmarc.sender.example. 300 IN TXT "v=DMARC1; p=reject; adkim=s"'
  local-data: 's2026._domainkey.sender.example. 300 IN TXT $RSA_TXT'
  local-data: 'ed2026._domainkey.ed.sender.example. 300 IN TXT "v=DKIM1; k=ed25519; p=$ED_PUB"'
  local-data: 'arc1._domainkey.sender.example. 300 IN TXT $RSA_TXT'
EOF2

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
[dkim_sign]
enabled = true
keys = "sender.example:s2026:$WORK/rsa.pem, ed.sender.example:ed2026:$WORK/ed.pem"
[arc_seal]
enabled = true
domain = "sender.example"
selector = "arc1"
key = "$WORK/rsa.pem"
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

# 3. Outbound: signed by mailsiftd; the signed message verifies through unbound (rsa, ed25519).
# prepend_headers values fold with "\n\t": the MTA writes them with CRLF.
prepend() {  # prepend JSON-FILE MESSAGE-FILE -> the message with the fields on top
  python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = b"".join((h["name"] + ": " + h["value"].replace("\n", "\r\n") + "\r\n").encode()
               for h in d.get("prepend_headers", []))
sys.stdout.buffer.write(out + open(sys.argv[2], "rb").read())
PY
}
for who in "alice@sender.example:rsa-sha256:sender.example" "bob@ed.sender.example:ed25519-sha256:ed.sender.example"; do
  IFS=: read -r addr alg dom <<<"$who"
  printf 'From: Someone <%s>\r\nTo: carol@remote.example\r\nSubject: Quarterly figures\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <q-%s>\r\n\r\nThe figures are attached.\r\n' "$addr" "$addr" >"$WORK/out.eml"
  scan "outbound=1&ip=192.0.2.10&helo=mail.football.example.com&from=$addr&rcpt=carol@remote.example" "$WORK/out.eml" >"$WORK/out.json"
  check "$alg: outbound message gets a DKIM-Signature d=$dom" grep -q "d=$dom" <<<"$(jq_py '[h["value"] for h in d.get("prepend_headers",[]) if h["name"]=="DKIM-Signature"]' <"$WORK/out.json")"
  curl -fsS --data-binary @"$WORK/out.eml" -H "From: $addr" -H 'IP: 192.0.2.10' -H 'Rcpt: carol@remote.example' -H 'Outbound: 1' "http://127.0.0.1:$HTTP_PORT/checkv2" >"$WORK/rspamd.json"
  check "$alg: Rspamd-shaped reply carries dkim-signature" grep -q "d=$dom" <<<"$(jq_py 'd.get("dkim-signature","")' <"$WORK/rspamd.json")"
  prepend "$WORK/out.json" "$WORK/out.eml" >"$WORK/signed.eml"
  J=$(scan "ip=192.0.2.10&helo=mail.football.example.com&from=$addr&rcpt=carol@remote.example" "$WORK/signed.eml")
  AR=$(echo "$J" | jq_py 'd["authentication_results"]')
  echo "signed ($alg): $AR" | tr -s '\n\t' '  '; echo
  check "$alg: our signature verifies through unbound" grep -q "dkim=pass header.d=$dom" <<<"$AR"
  check "$alg: DMARC (adkim=s) passes on it" grep -q "dmarc=pass" <<<"$AR"
  check "$alg: inbound scan of it adds no DKIM-Signature" test "$(echo "$J" | jq_py 'len([h for h in d.get("prepend_headers",[]) if h["name"]=="DKIM-Signature"])')" = 0
  sed 's/attached/missing/' "$WORK/signed.eml" >"$WORK/tampered.eml"
  AR=$(scan "ip=192.0.2.10&helo=mail.football.example.com&from=$addr&rcpt=carol@remote.example" "$WORK/tampered.eml" | jq_py 'd["authentication_results"]')
  check "$alg: a changed body fails" grep -q "dkim=fail" <<<"$AR"
done

# 4. Inbound: mailsiftd seals it (ARC set on top, cv=none); the next hop's check says arc=pass.
scan "ip=192.0.2.10&helo=mail.football.example.com&from=joe@football.example.com&rcpt=suzie@shopping.example.net" "$WORK/good.eml" >"$WORK/in.json"
check "inbound message gets ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results" test "$(jq_py '",".join(h["name"] for h in d.get("prepend_headers",[]))' <"$WORK/in.json")" = "ARC-Seal,ARC-Message-Signature,ARC-Authentication-Results"
check "our seal: i=1 cv=none" grep -q "cv=none" <<<"$(jq_py 'd["prepend_headers"][0]["value"]' <"$WORK/in.json")"
prepend "$WORK/in.json" "$WORK/good.eml" >"$WORK/sealed.eml"
J=$(scan "ip=192.0.2.10&helo=mail.football.example.com&from=joe@football.example.com&rcpt=suzie@shopping.example.net" "$WORK/sealed.eml")
AR=$(echo "$J" | jq_py 'd["authentication_results"]')
check "re-checked: the ARC chain we sealed validates (arc=pass)" grep -q "arc=pass" <<<"$AR"
check "re-checked: the second seal records cv=pass" grep -q "cv=pass" <<<"$(echo "$J" | jq_py 'd["prepend_headers"][0]["value"]')"

echo "auth: $passed passed, $failed failed"
[ "$failed" = 0 ]
