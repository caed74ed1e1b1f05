#!/usr/bin/env bash
# Two mailsiftd nodes sharing one real Redis and one real PostgreSQL (issue 9 point 4;
# docs/fleet.md "Two nodes"). Each node has its own data dir (tenants, lists, feedback memory stay
# local and are provisioned identically on both, as a provider's provisioning would); learned
# state and outbound counters are on Redis, the decision log on PostgreSQL.
#   (a) a "mark as spam" report through node A raises node B's score of the next similar message;
#   (b) outbound.user.messages_per_hour = 3 holds across both policy listeners (requests
#       alternate A/B; the 4th and 5th are refused by the limit rule wherever they land);
#   (c) GET /api/v1/case on either node, and `mailsift log` with either node's configuration,
#       list decisions made by both nodes;
#   (d) an account disabled with `mailsift account` (node-b's config) is refused by node-a's
#       listener and shown by node-a's case lookup.
# Usage: two_nodes.sh /path/to/mailsiftd /path/to/mailsift
# Exit: 0 pass, 1 fail, 77 skipped (redis-server or PostgreSQL server binaries missing).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"

# shellcheck source=servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

fleet_work two-nodes

read -r REDIS_PORT PG_PORT A_MILTER A_HTTP A_POLICY B_MILTER B_HTTP B_POLICY < <(free_ports 8)

# --- one Redis, one PostgreSQL (127.0.0.1, private ports, temp dirs) --------------------------
fleet_redis_start "$REDIS_PORT" --appendonly no

fleet_pg_init
fleet_pg_start "$PG_PORT" "-c fsync=off"

# --- two nodes -------------------------------------------------------------------------------
node_conf() {  # node_conf NAME MILTER HTTP POLICY
  fleet_provision "$WORK/$1" || return 1
  "$MAILSIFT" --data-dir "$WORK/$1" tenant key create --admin --label two-nodes >"$WORK/$1.key" ||
    return 1
  fleet_node_toml "$1" "$2" "$3" <<EOF
[store]
backend = "redis"
[redis]
address = "redis://127.0.0.1:$REDIS_PORT"
timeout_ms = 2000
[decisions]
backend = "postgres"
flush_ms = 0
[postgres]
dsn = "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
timeout_ms = 5000
[outbound]
policy_listen = "127.0.0.1:$4"
[outbound.store]
backend = "redis"
[outbound.user]
messages_per_hour = 3
[outbound.detect]
enabled = false
EOF
}
node_conf node-a "$A_MILTER" "$A_HTTP" "$A_POLICY" || fail_start "node-a set-up"
node_conf node-b "$B_MILTER" "$B_HTTP" "$B_POLICY" || fail_start "node-b set-up"
for n in node-a node-b; do
  "$MAILSIFTD" --config "$WORK/$n.toml" >"$WORK/$n.log" 2>&1 &
  PIDS+=($!)
done
wait_port "$A_HTTP" || fail_start "node-a did not start" "$WORK/node-a.log"
wait_port "$B_HTTP" || fail_start "node-b did not start" "$WORK/node-b.log"
wait_port "$A_POLICY" || fail_start "node-a policy listener" "$WORK/node-a.log"
wait_port "$B_POLICY" || fail_start "node-b policy listener" "$WORK/node-b.log"
A="http://127.0.0.1:$A_HTTP"
B="http://127.0.0.1:$B_HTTP"
py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- (a) a report through A changes B's verdict ------------------------------------------------
msg() {  # msg N: one campaign, a different number per copy
  printf 'Return-Path: <deals@promo.test>\r\nFrom: Deals <deals@promo.test>\r\nTo: bob@acme.test\r\nSubject: Your exclusive reward %s\r\nMessage-ID: <r%s@promo.test>\r\n\r\nDear customer, your exclusive reward number %s is waiting. Claim the voucher for premium watches and designer bags at our partner outlet before midnight, quantities are limited and the offer expires soon.\r\n' "$1" "$1" "$1"
}
scan() {  # scan URL N -> "SCORE SYMBOL..." of message N for bob
  msg "$2" | curl -fsS --data-binary @- "$1/api/v1/scan?from=deals@promo.test&rcpt=bob@acme.test" |
    py 'str(d["recipients"][0]["score"]) + " " + " ".join(s["name"] for s in d["recipients"][0]["symbols"])'
}
A_FIRST=$(scan "$A" 1)
B_BEFORE=$(scan "$B" 2)
B_AGAIN=$(scan "$B" 3)  # control: node-b seeing more copies by itself changes nothing
REPORT=$(msg 1 | curl -fsS --data-binary @- "$A/api/v1/report/spam?user=bob@acme.test")
echo "report through node-a: $REPORT"
B_AFTER=$(scan "$B" 4)
echo "node-a, copy 1: $A_FIRST"
echo "node-b, copy 2 before the report: $B_BEFORE"
echo "node-b, copy 3 before the report: $B_AGAIN"
echo "node-b, copy 4 after the report:  $B_AFTER"
check "node-a stored bob's fingerprint of the report" test "$(echo "$REPORT" | py 'd["fingerprint_stored"]')" = True
check "node-b alone does not move the score" test "${B_BEFORE%% *}" = "${B_AGAIN%% *}"
check "node-b scores the next copy at least 1 higher after node-a's report" \
  python3 -c "import sys; sys.exit(0 if float('${B_AFTER%% *}') >= float('${B_AGAIN%% *}') + 1 else 1)"
check "no FUZZY_SPAM on node-b before the report" bash -c "! grep -qw FUZZY_SPAM <<<'$B_AGAIN'"
check "FUZZY_SPAM on node-b after it (bob's fingerprint from Redis)" grep -qw FUZZY_SPAM <<<"$B_AFTER"
check "bob's learned state is in the shared Redis" \
  test "$(redis-cli -p "$REDIS_PORT" --scan --pattern 'ms:tot:{u:bob@acme.test}' | wc -l)" = 1

# --- (b) one sending limit across both policy listeners --------------------------------------
policy() {  # policy PORT N -> the action line
  python3 "$(dirname "${BASH_SOURCE[0]}")/policy_request.py" --timeout 10 "$1" "$2"
}
VERDICTS=()
for n in 1 2 3 4 5; do
  if ((n % 2)); then port=$A_POLICY node=node-a; else port=$B_POLICY node=node-b; fi
  out=$(policy "$port" "$n")
  echo "policy request $n via $node: $out"
  VERDICTS+=("$out")
done
for n in 0 1 2; do
  check "request $((n + 1)) accepted" test "${VERDICTS[$n]}" = "action=DUNNO"
done
check "request 4 (node-b) refused by the hourly limit" grep -q "4.7.1 Rate limit: 3 messages/hour" <<<"${VERDICTS[3]}"
check "request 5 (node-a) refused by the hourly limit" grep -q "4.7.1 Rate limit: 3 messages/hour" <<<"${VERDICTS[4]}"
check "the counter is one Redis key for both nodes" \
  test "$(redis-cli -p "$REDIS_PORT" --scan --pattern 'ms:ob:c:{msg1m:user:bob@acme.test}' | wc -l)" = 1

# --- (c) a case lookup on either node sees both nodes' decisions -------------------------------
AT=$(date -u '+%Y-%m-%d %H:%M')
case_json() {  # case_json URL KEYFILE -> the case lookup of bob around now
  curl -fsS -G -H "Authorization: Bearer $(cat "$2")" --data-urlencode "user=bob@acme.test" \
    --data-urlencode "at=$AT" --data-urlencode "tz=UTC" --data-urlencode "window=30m" \
    "$1/api/v1/case"
}
COUNT='" ".join("%s/%s:%d" % (n, w, sum(1 for m in d["messages"] if m["node"] == n and m["direction"] == w)) for n in ("node-a", "node-b") for w in ("inbound", "outbound"))'
IDS='" ".join(sorted(m["decision_id"] for m in d["messages"]))'
sleep 0.5
case_json "$A" "$WORK/node-a.key" >"$WORK/case-a.json"
case_json "$B" "$WORK/node-b.key" >"$WORK/case-b.json"
for n in a b; do
  GOT=$(py "$COUNT" <"$WORK/case-$n.json")
  echo "case lookup on node-$n: $GOT"
  # Inbound: node-a scanned copy 1, node-b copies 2, 3, 4. Outbound policy decisions: requests
  # 1, 3, 5 on node-a, 2 and 4 on node-b.
  check "case on node-$n sees both nodes' decisions" \
    test "$GOT" = "node-a/inbound:1 node-a/outbound:3 node-b/inbound:3 node-b/outbound:2"
done
check "both nodes answer the same decisions" \
  test "$(py "$IDS" <"$WORK/case-a.json")" = "$(py "$IDS" <"$WORK/case-b.json")"
# The CLI's search (`mailsift log`) with either node's configuration reads the same shared log:
# every decision of the window, from both nodes, the same on both.
LOGCOUNT='import json,sys; ds=[json.loads(l) for l in sys.stdin if l.strip()]; print(" ".join("%s/%s:%d" % (n, w, sum(1 for d in ds if d["node"] == n and d["direction"] == w)) for n in ("node-a", "node-b") for w in ("inbound", "outbound")))'
for n in a b; do
  "$MAILSIFT" --config "$WORK/node-$n.toml" log --at "$AT" --window 30m --limit 0 --json \
    >"$WORK/log-$n.jsonl"
  check "mailsift log with node-$n's config exits 0" test $? = 0
  GOT=$(python3 -c "$LOGCOUNT" <"$WORK/log-$n.jsonl")
  echo "mailsift log with node-$n's config: $GOT"
  check "mailsift log with node-$n's config sees both nodes' decisions" \
    test "$GOT" = "node-a/inbound:1 node-a/outbound:3 node-b/inbound:3 node-b/outbound:2"
done
check "mailsift log: the same decisions with either node's config" \
  cmp -s <(python3 -c 'import json,sys; print(sorted(json.loads(l)["id"] for l in sys.stdin))' <"$WORK/log-a.jsonl") \
  <(python3 -c 'import json,sys; print(sorted(json.loads(l)["id"] for l in sys.stdin))' <"$WORK/log-b.jsonl")
CODE=$(curl -s -o /dev/null -w '%{http_code}' -G -H "Authorization: Bearer $(cat "$WORK/node-a.key")" \
  --data-urlencode "user=bob@acme.test" --data-urlencode "at=$AT" "$B/api/v1/case")
check "node-a's key is unknown to node-b (API keys are per node)" test "$CODE" = 401

# --- account status: set with the CLI against node-b's configuration, enforced by node-a ------
"$MAILSIFT" --config "$WORK/node-b.toml" account disable bob@acme.test --reason "phished" \
  --by two-nodes >/dev/null
check "mailsift account disable (node-b's config) exits 0" test $? = 0
OUT=$(policy "$A_POLICY" 6)
echo "policy request 6 via node-a after the disable: $OUT"
check "node-a refuses bob: sending disabled" grep -q "5.7.1 Sending disabled for bob@acme.test: phished" <<<"$OUT"
ACCOUNT=$(case_json "$A" "$WORK/node-a.key" | py '[c["answer"] for c in d["checks"] if c["name"] == "account"][0]')
echo "node-a case lookup, account check: $ACCOUNT"
check "node-a's case lookup shows the status" grep -q "bob@acme.test is sending_disabled .*: phished" <<<"$ACCOUNT"
# The CLI's case lookup with node-a's configuration: the shared log and the shared status.
"$MAILSIFT" --config "$WORK/node-a.toml" case --reseller acme --user bob@acme.test --at "$AT" \
  --tz UTC --window 30m --json >"$WORK/case-cli.json"
check "mailsift case (node-a's config) exits 0" test $? = 0
GOT=$(py "$COUNT" <"$WORK/case-cli.json")
echo "mailsift case with node-a's config: $GOT"
# Request 6 (refused above) is node-a's fourth outbound decision.
check "mailsift case sees both nodes' decisions" \
  test "$GOT" = "node-a/inbound:1 node-a/outbound:4 node-b/inbound:3 node-b/outbound:2"
ACCOUNT=$(py '[c["answer"] for c in d["checks"] if c["name"] == "account"][0]' <"$WORK/case-cli.json")
echo "mailsift case, account check: $ACCOUNT"
check "mailsift case shows the status set through node-b" \
  grep -q "bob@acme.test is sending_disabled .*: phished" <<<"$ACCOUNT"

# The global scope's local mirror (redis.mirror_scopes, default "g:") on /metrics.
MIRROR=$(curl -fsS "$B/metrics" | awk '$1 == "mailsift_redis_mirror_served_total" {print $2}')
echo "node-b: scope reads served by the mirror: ${MIRROR:-none}"
check "node-b's /metrics counts scope reads its mirror served" test "${MIRROR:-0}" -gt 0

echo "two nodes: $passed passed, $failed failed"
[ "$failed" = 0 ]
