#!/usr/bin/env bash
# End to end: the real `mailsift doctor` against a REAL DNS server (Debian's unbound with
# local-data on 127.0.0.1, private port) serving a healthy domain (good.test, cluster c1), a broken
# one (bad.test, cluster c2: stale MX, SPF missing an IP, mismatched DKIM key, DMARC p=none, PTR
# missing / not forward-confirmed), a domain on no known cluster and one whose lookups are REFUSED.
# DKIM keys are generated here with openssl; the clusters file points at them.
# With mailsiftd as second argument, also GET /api/v1/doctor/DOMAIN with tenant API keys.
# Usage: run.sh /path/to/mailsift [/path/to/mailsiftd]     Exit: 0 pass, 1 fail, 77 skip (no unbound / openssl).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFT="$1"
UNBOUND=$(command -v unbound || ls /usr/sbin/unbound 2>/dev/null)
[ -n "$UNBOUND" ] || { echo "SKIP: unbound is needed (scripts/deps.sh)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl is needed"; exit 77; }

WORK=$(mktemp -d /tmp/mailsift-doctor.XXXXXX)
MS_PID=""
cleanup() {
  [ -n "$MS_PID" ] && kill -TERM "$MS_PID" 2>/dev/null && wait "$MS_PID" 2>/dev/null
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
on_exit cleanup
read -r DNS_PORT < <(free_ports 1)

# ---- keys: what the clusters sign with, and a stray one published by the broken domain ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/c1-rsa.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$WORK/c1-ed.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/c2-rsa.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/stray.pem" 2>/dev/null
rsa_p() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0; }
ed_p() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0; }
# A TXT value as zone-file character-strings of at most 255 octets.
txt() { printf '%s' "$1" | fold -w 250 | sed 's/.*/"&"/' | paste -sd' '; }
C1_RSA=$(txt "v=DKIM1; k=rsa; p=$(rsa_p "$WORK/c1-rsa.pem")")
C1_ED=$(txt "v=DKIM1; k=ed25519; p=$(ed_p "$WORK/c1-ed.pem")")
STRAY=$(txt "v=DKIM1; k=rsa; p=$(rsa_p "$WORK/stray.pem")")

cat >"$WORK/clusters.toml" <<EOF
[[cluster]]
name = "c1"
mx = ["mx1.c1.test", "mx2.c1.test"]
outbound = ["192.0.2.10", "192.0.2.11"]
spf_include = "_spf.c1.test"
dmarc_rua = "mailto:dmarc@c1.test"
ptr = { "192.0.2.10" = "out1.c1.test", "192.0.2.11" = "out2.c1.test" }
[[cluster.dkim]]
selector = "s1"
key_file = "c1-rsa.pem"
[[cluster.dkim]]
selector = "s2"
key_file = "c1-ed.pem"

[[cluster]]
name = "c2"
mx = ["mx1.c2.test", "mx2.c2.test"]
outbound = ["198.51.100.20", "198.51.100.21", "198.51.100.32/28"]
spf_include = "_spf.c2.test"
ptr = { "198.51.100.20" = "out1.c2.test", "198.51.100.21" = "out2.c2.test" }
[[cluster.dkim]]
selector = "c2"
key_file = "c2-rsa.pem"
EOF

start_unbound "$WORK" "$DNS_PORT" good.test MX <<EOF || exit 1
  local-zone: "test." static
  local-zone: "in-addr.arpa." static
  local-zone: "refused.test." refuse
  # the provider's side
  local-data: '_spf.c1.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 ip4:192.0.2.11 -all"'
  local-data: '_spf.c2.test. 300 IN TXT "v=spf1 ip4:198.51.100.20/31 ip4:198.51.100.32/28 -all"'
  local-data: 's2._domainkey.c1.test. 300 IN TXT $C1_ED'
  local-data: 'out1.c1.test. 300 IN A 192.0.2.10'
  local-data: 'out2.c1.test. 300 IN A 192.0.2.11'
  local-data: '10.2.0.192.in-addr.arpa. 300 IN PTR out1.c1.test.'
  local-data: '11.2.0.192.in-addr.arpa. 300 IN PTR out2.c1.test.'
  local-data: '21.100.51.198.in-addr.arpa. 300 IN PTR out2.c2.test.'
  local-data: 'out2.c2.test. 300 IN A 198.51.100.99'
  # good.test: right for cluster c1 (s2 delegated to the provider by CNAME)
  local-data: 'good.test. 300 IN MX 10 mx1.c1.test.'
  local-data: 'good.test. 300 IN MX 20 mx2.c1.test.'
  local-data: 'good.test. 300 IN TXT "v=spf1 include:_spf.c1.test -all"'
  local-data: 's1._domainkey.good.test. 300 IN TXT $C1_RSA'
  local-data: 's2._domainkey.good.test. 300 IN CNAME s2._domainkey.c1.test.'
  local-data: '_dmarc.good.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"'
  # bad.test: on cluster c2 with a stale MX, an SPF missing IPs, a stray DKIM key, p=none
  local-data: 'bad.test. 300 IN MX 10 mx1.c2.test.'
  local-data: 'bad.test. 300 IN MX 20 mx.oldprovider.test.'
  local-data: 'bad.test. 300 IN TXT "v=spf1 ip4:198.51.100.20 ~all"'
  local-data: 'c2._domainkey.bad.test. 300 IN TXT $STRAY'
  local-data: '_dmarc.bad.test. 300 IN TXT "v=DMARC1; p=none"'
  # elsewhere.test: hosted on no known cluster
  local-data: 'elsewhere.test. 300 IN MX 10 mx.elsewhere.test.'
EOF

cat >"$WORK/mailsift.toml" <<EOF
[dns]
servers = "127.0.0.1:$DNS_PORT"
timeout_ms = 500
tries = 1
[doctor]
clusters_file = "$WORK/clusters.toml"
EOF
doctor() { "$MAILSIFT" --config "$WORK/mailsift.toml" doctor "$@"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# 1. The healthy domain: every check passes, exit 0.
OUT=$(doctor good.test); RC=$?
echo "$OUT"
check "good: exit 0" test "$RC" = 0
check "good: cluster c1 from its MX" grep -q "cluster c1 (from its MX)" <<<"$OUT"
check "good: status pass" grep -q "^status: pass" <<<"$OUT"
no_bad_line() { ! grep -qE '^(FAIL|WARN|TEMP)' <<<"$1"; }
check "good: no FAIL/WARN/TEMP line" no_bad_line "$OUT"
check "good: DKIM via CNAME matches" grep -q "PASS  dkim:s2 .*matches the signing key (ed25519)" <<<"$OUT"
J=$(doctor good.test --json)
check "good json: status pass" test "$(jq_py 'd["status"]' <<<"$J")" = pass
check "good json: 7 findings all pass" test "$(jq_py 'sum(f["status"]=="pass" for f in d["findings"])' <<<"$J")" = 7
check "good json: 1 SPF lookup" test "$(jq_py 'd["spf_dns_lookups"]' <<<"$J")" = 1

# 2. The broken domain: exit 1, each problem with the exact records.
OUT=$(doctor bad.test); RC=$?
echo "$OUT"
check "bad: exit 1" test "$RC" = 1
check "bad: cluster c2" grep -q "cluster c2 (from its MX)" <<<"$OUT"
check "bad: stale MX to remove" grep -q "remove:  bad.test. IN MX 20 mx.oldprovider.test." <<<"$OUT"
check "bad: missing MX to publish" grep -q "publish: bad.test. IN MX 20 mx2.c2.test." <<<"$OUT"
check "bad: SPF names the unauthorised IP" grep -q "198.51.100.21 gets spf=softfail (~all)" <<<"$OUT"
check "bad: SPF record to publish" grep -qF 'publish: bad.test. IN TXT "v=spf1 ip4:198.51.100.20 include:_spf.c2.test ~all"' <<<"$OUT"
check "bad: DKIM key mismatch" grep -q "FAIL  dkim:c2 .*does not match the signing key" <<<"$OUT"
check "bad: DKIM record to publish" grep -qF "publish: c2._domainkey.bad.test. IN TXT \"v=DKIM1; k=rsa; p=$(rsa_p "$WORK/c2-rsa.pem" | cut -c1-200)" <<<"$OUT"
check "bad: DMARC p=none warns" grep -q "WARN  dmarc .*p=none" <<<"$OUT"
check "bad: DMARC record to publish" grep -qF 'publish: _dmarc.bad.test. IN TXT "v=DMARC1; p=quarantine"' <<<"$OUT"
check "bad: PTR missing" grep -qF "publish: 20.100.51.198.in-addr.arpa. IN PTR out1.c2.test." <<<"$OUT"
check "bad: PTR not forward-confirmed" grep -qF "publish: out2.c2.test. IN A 198.51.100.21" <<<"$OUT"
J=$(doctor bad.test --json)
check "bad json: status fail" test "$(jq_py 'd["status"]' <<<"$J")" = fail
check "bad json: failing checks" test "$(jq_py '",".join(f["check"] for f in d["findings"] if f["status"]=="fail")' <<<"$J")" = "mx,spf,dkim:c2,ptr:198.51.100.20,ptr:198.51.100.21"
check "bad json: dmarc warn" test "$(jq_py '[f["status"] for f in d["findings"] if f["check"]=="dmarc"][0]' <<<"$J")" = warn

# 3. On no known cluster: says so and lists the MX; --cluster forces one.
OUT=$(doctor elsewhere.test); RC=$?
echo "$OUT"
check "elsewhere: exit 1" test "$RC" = 1
check "elsewhere: cannot tell, lists MX" grep -q "cannot tell which cluster.*10 mx.elsewhere.test" <<<"$OUT"
OUT=$(doctor elsewhere.test --cluster c1)
check "elsewhere --cluster c1: MX to publish" grep -q "publish: elsewhere.test. IN MX 10 mx1.c1.test." <<<"$OUT"

# 4. DNS refusing: could not check (temporary), exit 3, never pass.
OUT=$(doctor x.refused.test --cluster c1); RC=$?
echo "$OUT"
check "refused: exit 3" test "$RC" = 3
check "refused: could not check (temporary)" grep -q "TEMP  mx .*could not check (temporary)" <<<"$OUT"

# 5. Configuration errors are exit 2.
"$MAILSIFT" --config "$WORK/mailsift.toml" --set doctor.clusters_file=/nonexistent doctor good.test >/dev/null 2>&1
check "missing clusters file: exit 2" test "$?" = 2

# 6. `mailsift bounce --live`: a bounce blaming the sender domain's SPF runs the doctor's SPF
#    check of that domain (bad.test: fail, with the record to publish; good.test: pass).
bounce_for() {  # bounce_for SENDER: a Postfix-style DSN refusing SENDER's mail for SPF
  printf 'From: MAILER-DAEMON@mx1.c2.test\nTo: %s\nSubject: Undelivered Mail Returned to Sender\n' "$1"
  printf 'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
  printf -- '--B\nContent-Type: text/plain\n\n<bob@far.example>: host mx.far.example[203.0.113.9] said:\n'
  printf '    550 5.7.23 SPF validation failed (in reply to end of DATA command)\n\n'
  printf -- '--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx1.c2.test\n\n'
  printf 'Final-Recipient: rfc822; bob@far.example\nAction: failed\nStatus: 5.7.23\n'
  printf 'Diagnostic-Code: smtp; 550 5.7.23 SPF validation failed\n\n'
  printf -- '--B\nContent-Type: text/rfc822-headers\n\nFrom: %s\nTo: bob@far.example\nSubject: hi\n\n--B--\n' "$1"
}
bounce_for ann@bad.test >"$WORK/bad-bounce.eml"
bounce_for ann@good.test >"$WORK/good-bounce.eml"
OUT=$("$MAILSIFT" --config "$WORK/mailsift.toml" bounce --live "$WORK/bad-bounce.eml"); RC=$?
echo "$OUT"
check "bounce --live: exit 0 (findings are data)" test "$RC" = 0
check "bounce --live: reason authfailure" grep -q "authfailure" <<<"$OUT"
check "bounce --live: bad.test SPF fails live" grep -q "live spf fail: .*198.51.100.21" <<<"$OUT"
check "bounce --live: the SPF record to publish" grep -q "publish: bad.test. IN TXT" <<<"$OUT"
J=$("$MAILSIFT" --config "$WORK/mailsift.toml" bounce --live --json "$WORK/good-bounce.eml")
check "bounce --live --json: good.test SPF passes" \
  test "$(jq_py 'd["recipients"][0]["advice"]["live"][0]["check"], d["recipients"][0]["advice"]["live"][0]["status"]' <<<"$J")" = "spf pass"
OUT=$("$MAILSIFT" --config "$WORK/mailsift.toml" bounce "$WORK/bad-bounce.eml")
check "bounce without --live: no DNS, the check is only named" grep -q "check: spf:bad.test" <<<"$OUT"

# 7. Over HTTP in mailsiftd: admin any domain, a reseller only its own, no key 401.
if [ -n "${2:-}" ]; then
  MAILSIFTD="$2"
  read -r MILTER_PORT HTTP_PORT < <(free_ports 2)
  mkdir -p "$WORK/data"
  T() { "$MAILSIFT" --data-dir "$WORK/data" tenant "$@"; }
  T reseller add acme --name Acme >/dev/null && T domain add good.test --reseller acme >/dev/null &&
    T reseller add other --name Other >/dev/null && T domain add bad.test --reseller other >/dev/null ||
    { echo "FAIL: tenant setup"; exit 1; }
  ADMIN=$(T key create --admin --label test) && ACME=$(T key create --reseller acme --label test) ||
    { echo "FAIL: key create"; exit 1; }
  cp "$WORK/mailsift.toml" "$WORK/daemon.toml"
  printf '[server]\nmilter_listen = "127.0.0.1:%s"\nhttp_listen = "127.0.0.1:%s"\nthreads = 1\ndata_dir = "%s"\n' \
    "$MILTER_PORT" "$HTTP_PORT" "$WORK/data" >>"$WORK/daemon.toml"
  "$MAILSIFTD" --config "$WORK/daemon.toml" >"$WORK/mailsiftd.log" 2>&1 &
  MS_PID=$!
  wait_port "$HTTP_PORT" || { echo "FAIL: mailsiftd did not start"; cat "$WORK/mailsiftd.log"; exit 1; }
  URL="http://127.0.0.1:$HTTP_PORT/api/v1/doctor"
  code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
  check "http: no key 401" test "$(code "$URL/good.test")" = 401
  check "http: unknown key 401" test "$(code -H "Authorization: Bearer msk_nope" "$URL/good.test")" = 401
  check "http: reseller, other reseller's domain 403" test "$(code -H "Authorization: Bearer $ACME" "$URL/bad.test")" = 403
  J=$(curl -fsS -H "Authorization: Bearer $ACME" "$URL/good.test")
  check "http: reseller, own domain: pass" test "$(jq_py 'd["status"]' <<<"$J")" = pass
  J=$(curl -fsS -H "Authorization: Bearer $ADMIN" "$URL/bad.test")
  echo "$J" | cut -c1-300
  check "http: admin, any domain: fail with findings" test "$(jq_py 'd["status"], len(d["findings"])' <<<"$J")" = "fail 6"
  J=$(curl -fsS -H "Authorization: Bearer $ADMIN" "$URL/good.test?cluster=c2")
  check "http: ?cluster=c2" test "$(jq_py 'd["cluster"], d["cluster_source"]' <<<"$J")" = "c2 option"
fi

echo "doctor: $passed passed, $failed failed"
[ "$failed" = 0 ]
