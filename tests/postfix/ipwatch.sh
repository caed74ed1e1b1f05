#!/usr/bin/env bash
# Outbound IP protection end to end with REAL components (issue 6 point 6):
#   - unbound on 127.0.0.1 (private port) serves the DNS blocklist zone bl.test (RFC 5782 test
#     points + the listing of one outbound IP, added and removed at run time with unbound-control);
#   - mailsiftd runs the ipwatch monitor (every 5 s) with pools a=pool_a:127.0.0.21 and
#     b=pool_b:127.0.0.22 and serves the socketmap on 127.0.0.1;
#   - a private Postfix with two smtp transports bound to those addresses and
#     `sender_dependent_default_transport_maps = socketmap:inet:127.0.0.1:PORT:outbound_pool`
#     relays to a loopback SMTP sink (smtp_sink.py) that records the peer address of each message.
# Shows: clean -> mail leaves from pool a (127.0.0.21); 127.0.0.21 listed -> from pool b
# (127.0.0.22), history/alerts/API/CLI show it, support updates the delisting record; delisted ->
# pool a again; both listed -> Postfix's own default_transport (127.0.0.1) and a loud log line;
# mailsiftd down -> Postfix tempfails new recipients (451 4.3.0).
# Usage: ipwatch.sh /path/to/mailsiftd /path/to/mailsift /path/to/repo
# Exit: 0 pass, 1 fail, 77 skipped (no postfix/swaks/unbound, or not root).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
ROOT="$3"

POSTFIX=$(command -v postfix || ls /usr/sbin/postfix 2>/dev/null)
SWAKS=$(command -v swaks)
UNBOUND=$(command -v unbound || ls /usr/sbin/unbound 2>/dev/null)
UBCTL=$(command -v unbound-control || ls /usr/sbin/unbound-control 2>/dev/null)
if [ -z "$POSTFIX" ] || [ -z "$SWAKS" ] || [ -z "$UNBOUND" ] || [ -z "$UBCTL" ]; then
  echo "SKIP: postfix, swaks and unbound are needed (scripts/deps.sh)"
  exit 77
fi
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: a private Postfix instance (postfix -c DIR start) needs root"
  exit 77
fi

WORK=$(mktemp -d /tmp/mailsift-ipwatch.XXXXXX)
chmod 755 "$WORK"
PF="$WORK/pf"
CONF="$PF/etc"
DATA="$WORK/data"
MS_PID="" SINK_PID=""
cleanup() {
  [ -d "$CONF" ] && "$POSTFIX" -c "$CONF" stop >/dev/null 2>&1
  for p in $MS_PID $SINK_PID; do
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
on_exit cleanup
read -r DNS_PORT SMTP_PORT MAP_PORT HTTP_PORT SINK_PORT < <(free_ports 5)
IP_A=127.0.0.21
IP_B=127.0.0.22

# ---- unbound: bl.test with the RFC 5782 test points; listings are added/removed later ----
start_unbound "$WORK" "$DNS_PORT" 2.0.0.127.bl.test A <<EOF2 || exit 1
  local-zone: "bl.test." static
  local-data: 'bl.test. 60 IN SOA ns.bl.test. hostmaster.bl.test. 1 60 60 60 1'
  local-data: '2.0.0.127.bl.test. 60 IN A 127.0.0.2'
EOF2
ub() { "$UBCTL" -c "$WORK/unbound.conf" "$@" >>"$WORK/unbound-control.log" 2>&1; }
rev() { echo "$1" | awk -F. '{print $4"."$3"."$2"."$1}'; }
list_ip() { ub local_data "$(rev "$1").bl.test. 60 IN A 127.0.0.2"; }
unlist_ip() { ub local_data_remove "$(rev "$1").bl.test."; }

# ---- SMTP sink: records the peer address of every delivery ----
python3 "$ROOT/tests/postfix/smtp_sink.py" "$SINK_PORT" "$WORK/sink.jsonl" 2>"$WORK/sink.log" &
SINK_PID=$!
wait_port "$SINK_PORT" || { echo "FAIL: sink did not start"; cat "$WORK/sink.log"; exit 1; }

# ---- mailsiftd: monitor + socketmap + HTTP API ----
mkdir -p "$DATA"
cat >"$WORK/mailsift.toml" <<EOF2
[server]
milter_listen = ""
http_listen = "127.0.0.1:$HTTP_PORT"
threads = 2
[dns]
servers = "127.0.0.1:$DNS_PORT"
timeout_ms = 500
cache_entries = 0
[ipwatch]
pools = "a=pool_a:$IP_A;b=pool_b:$IP_B"
lists = "bl=bl.test:ip:1"
interval_seconds = 5
map_listen = "inet:127.0.0.1:$MAP_PORT"
EOF2
MS() { "$MAILSIFT" --config "$WORK/mailsift.toml" --data-dir "$DATA" "$@"; }
ADMIN_KEY=$(MS tenant key create --admin --label ipwatch-test)
RESELLER_KEY=""
"$MAILSIFTD" --config "$WORK/mailsift.toml" --data-dir "$DATA" 2>"$WORK/mailsiftd.log" &
MS_PID=$!
wait_port "$MAP_PORT" || { echo "FAIL: mailsiftd did not start"; cat "$WORK/mailsiftd.log"; exit 1; }
wait_port "$HTTP_PORT" || { echo "FAIL: mailsiftd HTTP did not start"; cat "$WORK/mailsiftd.log"; exit 1; }

rounds() { grep -c 'event=ipwatch_round' "$WORK/mailsiftd.log"; }
wait_rounds() {  # wait_rounds N: until N more rounds finished (interval 5 s)
  local target=$(($(rounds) + $1))
  for _ in $(seq 200); do [ "$(rounds)" -ge "$target" ] && return 0; sleep 0.1; done
  return 1
}

# ---- Postfix: two pool transports with different source addresses ----
mkdir -p "$CONF" "$PF/spool" "$PF/data"
chown postfix:postfix "$PF/data"
cp /etc/postfix/dynamicmaps.cf "$CONF/"
cp -r /etc/postfix/dynamicmaps.cf.d "$CONF/" 2>/dev/null
cp /etc/postfix/postfix-files "$CONF/" 2>/dev/null
cp -r /etc/postfix/postfix-files.d "$CONF/" 2>/dev/null
cat >"$CONF/main.cf" <<EOF2
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
myhostname = out.test.invalid
mydomain = test.invalid
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtpd_relay_restrictions = permit_mynetworks, reject
# Every remote destination goes to the test sink (in production: empty, the recipient's MX).
relayhost = [127.0.0.1]:$SINK_PORT
default_transport = smtp
# The documented steering (docs/outbound.md "Outbound IPs"):
sender_dependent_default_transport_maps = socketmap:inet:127.0.0.1:$MAP_PORT:outbound_pool
EOF2
cat >"$CONF/master.cf" <<EOF2
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pool_a    unix  -       -       n       -       -       smtp
  -o smtp_bind_address=$IP_A
  -o smtp_helo_name=pool-a.out.test.invalid
pool_b    unix  -       -       n       -       -       smtp
  -o smtp_bind_address=$IP_B
  -o smtp_helo_name=pool-b.out.test.invalid
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
EOF2
if ! "$POSTFIX" -c "$CONF" start >"$WORK/postfix-start.log" 2>&1; then
  echo "FAIL: postfix did not start" >&2
  cat "$WORK/postfix-start.log" "$PF/maillog" >&2 2>/dev/null
  exit 1
fi
wait_port "$SMTP_PORT" || { echo "FAIL: postfix not listening" >&2; exit 1; }

# send TAG: one message from a new sender (Postfix caches the last resolve per process), then
# waits for the sink; prints the peer address the sink saw for it.
send() {
  "$SWAKS" --server "127.0.0.1:$SMTP_PORT" --helo client.test --timeout 15 \
    --from "$1@example.test" --to "friend@dest.example" --header "Subject: ipwatch $1" \
    --body "hello from $1" >"$WORK/$1.out" 2>&1 || { echo "swaks-failed"; return; }
  for _ in $(seq 150); do
    local peer
    peer=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["subject"] == "ipwatch " + sys.argv[2]:
        print(d["peer"], d["helo"]); break' "$WORK/sink.jsonl" "$1" 2>/dev/null)
    [ -n "$peer" ] && { echo "$peer"; return; }
    sleep 0.1
  done
  echo "not-delivered"
}
api() { curl -s -o "$WORK/api.json" -w '%{http_code}' "$@"; }
jq_py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$WORK/api.json"; }

# 1. Nothing listed: mail leaves from pool a (first in preference order).
wait_rounds 1 || { echo "FAIL: no monitor round"; cat "$WORK/mailsiftd.log"; exit 1; }
P=$(send clean1)
echo "clean: $P"
check "nothing listed: mail leaves from pool a ($IP_A)" test "$P" = "$IP_A pool-a.out.test.invalid"
check "status: both pools healthy" grep -q "new mail goes to: pool a (pool_a)" <(MS ipwatch status)

# 2. unbound lists 127.0.0.21: the monitor marks it unhealthy, new mail leaves from pool b.
list_ip "$IP_A"
check "unbound lists $IP_A" test "$(dig +short -p "$DNS_PORT" @127.0.0.1 "$(rev $IP_A).bl.test" A)" = 127.0.0.2
wait_rounds 2
check "mailsiftd logged the listing" grep -q "event=ipwatch_listed ip=$IP_A pool=a list=bl codes=127.0.0.2" "$WORK/mailsiftd.log"
P=$(send listed1)
echo "listed: $P"
check "$IP_A listed: mail leaves from pool b ($IP_B), not the listed address" test "$P" = "$IP_B pool-b.out.test.invalid"
check "status shows $IP_A LISTED and pool b chosen" bash -c "MS() { \"$MAILSIFT\" --config '$WORK/mailsift.toml' --data-dir '$DATA' \"\$@\"; }; out=\$(MS ipwatch status); grep -q '$IP_A (pool a): LISTED' <<<\"\$out\" && grep -q 'new mail goes to: pool b (pool_b)' <<<\"\$out\""
MS ipwatch status >"$WORK/status-listed.txt"
check "history: one open episode for $IP_A on bl" grep -q "^$IP_A *bl *listed .*(127.0.0.2) *delisted - (still listed)" <(MS ipwatch history "$IP_A")

# 3. The HTTP API (admin key only) and support's delisting record.
check "API without key: 401" test "$(api "http://127.0.0.1:$HTTP_PORT/api/v1/outbound-ips")" = 401
check "API with a wrong key: 401" test "$(api -H "Authorization: Bearer msk_nope" "http://127.0.0.1:$HTTP_PORT/api/v1/outbound-ips")" = 401
check "API with the admin key: 200" test "$(api -H "Authorization: Bearer $ADMIN_KEY" "http://127.0.0.1:$HTTP_PORT/api/v1/outbound-ips")" = 200
check "API: answer is pool_b, $IP_A listed on bl" test "$(jq_py 'd["answer"]["transport"] + " " + d["ips"][0]["ip"] + " " + d["ips"][0]["listed"][0]["list"]')" = "pool_b $IP_A bl"
check "API: delisting record opened by the monitor (state none)" test "$(jq_py 'd["ips"][0]["delisting"]["state"]')" = none
check "CLI: support marks the delisting requested" grep -q "$IP_A: delisting requested (updated by support-jo)" \
  <(MS ipwatch delisting "$IP_A" --state requested --note "removal form sent, ticket 4711" --by support-jo)
code=$(api -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
  -d '{"note":"list operator answered: within 24h","by":"support-kim"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/outbound-ips/$IP_A/delisting")
check "API: POST a note to the delisting record" test "$code" = 200
check "API: record has both notes, state requested" test "$(jq_py '(d["state"], "ticket 4711" in d["notes"], "within 24h" in d["notes"], d["updated_by"])')" = "('requested', True, True, 'support-kim')"

# 4. Delisted: the monitor closes the episode, the record becomes delisted, pool a is back.
unlist_ip "$IP_A"
wait_rounds 2
check "mailsiftd logged the delisting" grep -q "event=ipwatch_delisted ip=$IP_A pool=a list=bl" "$WORK/mailsiftd.log"
P=$(send delisted1)
echo "delisted: $P"
check "after delisting: mail leaves from pool a again" test "$P" = "$IP_A pool-a.out.test.invalid"
check "history: the episode has a delisting time" grep -q "^$IP_A *bl *listed .* delisted 20" <(MS ipwatch history "$IP_A")
check "delisting record: state delisted by ipwatch, support's notes kept" \
  bash -c "out=\$(\"$MAILSIFT\" --config '$WORK/mailsift.toml' --data-dir '$DATA' ipwatch delisting $IP_A); grep -q '$IP_A: delisted' <<<\"\$out\" && grep -q 'ticket 4711' <<<\"\$out\" && grep -q 'state requested -> delisted' <<<\"\$out\""

# 5. Both pools listed: no healthy pool; the table answers NOTFOUND (ipwatch.default_transport is
#    empty), so Postfix uses its own default_transport (smtp, bound to inet_interfaces 127.0.0.1).
list_ip "$IP_A"
list_ip "$IP_B"
wait_rounds 2
check "all pools unhealthy logged as an error" grep -q "level=error event=ipwatch_all_pools_unhealthy" "$WORK/mailsiftd.log"
P=$(send allbad1)
echo "all listed: $P"
check "all listed: Postfix's default_transport (127.0.0.1), never a pool address" test "${P%% *}" = 127.0.0.1
check "answering without a healthy pool is logged loudly" grep -q "level=error event=ipwatch_no_healthy_pool" "$WORK/mailsiftd.log"
check "alerts in the store: listed, delisted, all_pools_unhealthy" bash -c "out=\$(\"$MAILSIFT\" --config '$WORK/mailsift.toml' --data-dir '$DATA' ipwatch status); grep -q ' listed $IP_A bl' <<<\"\$out\" && grep -q ' delisted $IP_A bl' <<<\"\$out\" && grep -q 'all_pools_unhealthy' <<<\"\$out\""

# 6. mailsiftd down: the table lookup fails and Postfix's smtpd tempfails the recipient (451
#    4.3.0): nothing is accepted that could leave from a guessed pool; the client retries.
kill -TERM "$MS_PID" 2>/dev/null
wait "$MS_PID" 2>/dev/null
MS_PID=""
"$SWAKS" --server "127.0.0.1:$SMTP_PORT" --helo client.test --timeout 15 --from down1@example.test \
  --to friend@dest.example --header "Subject: ipwatch down1" --body x >"$WORK/down1.out" 2>&1
check "mailsiftd down: smtpd answers 451 4.3.0 Temporary lookup failure at RCPT" \
  grep -q '451 4.3.0 <friend@dest.example>: Temporary lookup failure' "$WORK/down1.out"
check "mailsiftd down: Postfix logs the socketmap lookup error" \
  grep -q "warning: socketmap:inet:127.0.0.1:$MAP_PORT:outbound_pool lookup error" "$PF/maillog"
sleep 1
check "mailsiftd down: nothing delivered" bash -c "! grep -q 'ipwatch down1' '$WORK/sink.jsonl'"

echo "ipwatch postfix integration: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "--- mailsiftd log" >&2; tail -40 "$WORK/mailsiftd.log" >&2
  echo "--- postfix log" >&2; tail -40 "$PF/maillog" >&2
  echo "--- sink" >&2; cat "$WORK/sink.jsonl" >&2
  echo "--- unbound-control" >&2; cat "$WORK/unbound-control.log" >&2
  cat "$WORK/status-listed.txt" >&2
  exit 1
fi
exit 0
