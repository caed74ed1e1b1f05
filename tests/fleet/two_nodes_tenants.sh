#!/usr/bin/env bash
# Two mailsiftd nodes whose tenant store and feedback store are one real PostgreSQL
# (tenant.backend = feedback.backend = postgres; docs/fleet-tenants.md). Provisioned in an embedded
# tenants.db moved over with `mailsift migrate`, plus a user added with the CLI against node-a's
# configuration; then:
#   (a) an API key created in the embedded store (migrated) is accepted by node-b;
#   (b) a block-list entry added through node-a's HTTP API decides node-b's next scan;
#   (c) consent and a spam report taken by node-a are what node-b reports for the user;
#   (d) the entry removed through node-b's API no longer decides node-a's scan.
# Each node's scans read its in-memory replica of the tenant tables (postgres.replica_poll_ms),
# so (b) and (d) wait for the other node's change to arrive, up to 5 s (it takes ~0.2 s).
# Usage: two_nodes_tenants.sh /path/to/mailsiftd /path/to/mailsift
# Exit: 0 pass, 1 fail, 77 skipped (server binaries missing; see servers.sh).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
# shellcheck source=servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

fleet_work two-nodes-tenants
read -r PG_PORT A_MILTER A_HTTP B_MILTER B_HTTP < <(free_ports 5)
fleet_pg_init
fleet_pg_start "$PG_PORT" "-c fsync=off"

node_conf() {  # node_conf NAME MILTER HTTP
  fleet_node_toml "$1" "$2" "$3" <<EOF
[tenant]
backend = "postgres"
[feedback]
backend = "postgres"
[postgres]
dsn = "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
timeout_ms = 5000
replica_poll_ms = 200
EOF
}
node_conf node-a "$A_MILTER" "$A_HTTP"
node_conf node-b "$B_MILTER" "$B_HTTP"
# Provisioned the way an installation moves to a fleet: an embedded tenants.db (one machine),
# copied with `mailsift migrate`; then one more user through node-a's configuration.
ME() { "$MAILSIFT" --data-dir "$WORK/embedded" "$@"; }
fleet_provision "$WORK/embedded" || fail_start "tenant set-up"
ME tenant key create --admin --label two-nodes-tenants >"$WORK/admin.key" || fail_start "key create"
KEY=$(cat "$WORK/admin.key")
MIGRATED=$("$MAILSIFT" --config "$WORK/node-a.toml" migrate --from "$WORK/embedded/tenants.db" \
  --postgres "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres")
check "mailsift migrate copies tenants.db into PostgreSQL and verifies (exit $?)" test $? = 0
echo "$MIGRATED"
check "migrate verified the user and the key" \
  bash -c "grep -qE '^tenant users +1 +1 +1 +ok' <<<'$MIGRATED' && grep -qE '^tenant api keys +1 +1 +1 +ok' <<<'$MIGRATED'"
"$MAILSIFT" --config "$WORK/node-a.toml" tenant user add carol@acme.test >/dev/null ||
  fail_start "user add through node-a's configuration"
USERS=$("$MAILSIFT" --config "$WORK/node-b.toml" tenant user list 2>&1)
check "node-b's configuration sees the migrated user and the one added through node-a's" \
  bash -c "grep -q bob@acme.test <<<'$USERS' && grep -q carol@acme.test <<<'$USERS'"
check "nothing was written to node-a's local tenants.db" test ! -e "$WORK/node-a/tenants.db"

for n in node-a node-b; do
  "$MAILSIFTD" --config "$WORK/$n.toml" >"$WORK/$n.log" 2>&1 &
  PIDS+=($!)
done
wait_port "$A_HTTP" || fail_start "node-a did not start" "$WORK/node-a.log"
wait_port "$B_HTTP" || fail_start "node-b did not start" "$WORK/node-b.log"
A="http://127.0.0.1:$A_HTTP"
B="http://127.0.0.1:$B_HTTP"
py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
AUTH=(-H "Authorization: Bearer $KEY")

# --- (a) one key for the fleet ----------------------------------------------------------------
CODE=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$B/api/v1/lists?level=user&id=bob@acme.test")
check "node-b accepts the migrated key (got $CODE)" test "$CODE" = 200

# --- (b) a block entry added on node-a decides node-b's scan ---------------------------------
msg() {
  printf 'Return-Path: <deals@promo.test>\r\nFrom: Deals <deals@promo.test>\r\nTo: bob@acme.test\r\nSubject: Offer %s\r\nMessage-ID: <t%s@promo.test>\r\n\r\nA perfectly ordinary note number %s.\r\n' "$1" "$1" "$1"
}
symbols() {  # symbols URL N -> the symbol names of message N for bob
  msg "$2" | curl -fsS --data-binary @- "$1/api/v1/scan?from=deals@promo.test&rcpt=bob@acme.test" |
    py '" ".join(s["name"] for s in d["recipients"][0]["symbols"])'
}
BEFORE=$(symbols "$B" 1)
ADDED=$(curl -fsS "${AUTH[@]}" -H 'Content-Type: application/json' \
  -d '{"level":"user","id":"bob@acme.test","kind":"block","entry":"deals@promo.test","note":"two nodes"}' \
  "$A/api/v1/lists")
echo "added through node-a: $ADDED"
ENTRY_ID=$(py 'd["id"]' <<<"$ADDED")
# eventually URL N PRESENT|ABSENT: scans (messages N, N+1, ...) until USER_BLOCK is present or
# absent, for up to 5 s; prints the last symbols.
eventually() {
  local out n="$2"
  for _ in $(seq 50); do
    out=$(symbols "$1" "$n")
    n=$((n + 1))
    if grep -q USER_BLOCK <<<"$out"; then [ "$3" = PRESENT ] && break; else [ "$3" = ABSENT ] && break; fi
    sleep 0.1
  done
  echo "$out"
}
AFTER=$(eventually "$B" 2 PRESENT)
echo "node-b symbols before: $BEFORE"
echo "node-b symbols after:  $AFTER"
check "no block-list symbol on node-b before" bash -c "! grep -q 'USER_BLOCK' <<<'$BEFORE'"
check "node-b honours node-a's block entry (USER_BLOCK_*)" grep -q "USER_BLOCK" <<<"$AFTER"

# --- (c) consent and a report taken by node-a, seen by node-b ---------------------------------
curl -fsS -X POST "${AUTH[@]}" "$A/api/v1/consent?user=bob@acme.test&state=accepted" >/dev/null
msg 3 | curl -fsS --data-binary @- "${AUTH[@]}" "$A/api/v1/report/spam?user=bob@acme.test" >/dev/null
STATE=$(curl -fsS "${AUTH[@]}" "$B/api/v1/report/user?user=bob@acme.test")
echo "node-b's view of bob's feedback: $STATE"
check "node-b sees the consent given through node-a" test "$(py 'd["consent"]' <<<"$STATE")" = accepted
check "node-b counts the report taken by node-a" test "$(py 'd["spam_reports"]' <<<"$STATE")" = 1

# --- (d) removed on node-b, gone on node-a ----------------------------------------------------
curl -fsS -X DELETE "${AUTH[@]}" "$B/api/v1/lists?id=$ENTRY_ID" >/dev/null
check "the entry removed through node-b no longer decides node-a's scan" \
  bash -c "! grep -q 'USER_BLOCK' <<<'$(eventually "$A" 100 ABSENT)'"

echo "two nodes (tenants): $passed passed, $failed failed"
[ "$failed" = 0 ]
