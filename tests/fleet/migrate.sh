#!/usr/bin/env bash
# mailsift migrate against real servers (issue 9 point 6; docs/fleet.md "Migrating from the
# embedded store"). An embedded node (SQLite) learns with the CLI and scans through mailsiftd
# (decision log), an account status is set with the CLI (outbound.db); `mailsift migrate` copies
# the three files into one redis-server + one PostgreSQL started here; then:
#   - the per-kind table says every kind ok, written = source; Redis and PostgreSQL hold the counts;
#   - a mailsiftd on the fleet backends (empty data dir but the same tenants) gives the same score
#     and the same symbols as the embedded node for a message;
#   - a second migrate writes nothing and changes no count (idempotent);
#   - after the fleet learns one more message in a migrated scope, migrate exits 1 (MISMATCH).
# Usage: migrate.sh /path/to/mailsiftd /path/to/mailsift
# Exit: 0 pass, 1 fail, 77 skipped (redis-server or PostgreSQL server binaries missing).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
DATA="$(cd "$(dirname "${BASH_SOURCE[0]}")/../data" && pwd)"

# shellcheck source=servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

fleet_work migrate

read -r REDIS_PORT PG_PORT E_MILTER E_HTTP F_MILTER F_HTTP < <(free_ports 6)

fleet_redis_start "$REDIS_PORT" --appendonly no
fleet_pg_init
fleet_pg_start "$PG_PORT" "-c fsync=off"
DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAq)
RCLI=(redis-cli -p "$REDIS_PORT")

conf() {  # conf NAME MILTER HTTP BACKENDS (tenants stay per node)
  fleet_node_toml "$1" "$2" "$3" <<EOF
[decisions]
flush_ms = 0
$4
EOF
}
fleet_provision "$WORK/embedded" || fail_start "provisioning the embedded node"
fleet_provision "$WORK/fleet" || fail_start "provisioning the fleet node"
conf embedded "$E_MILTER" "$E_HTTP" ""
conf fleet "$F_MILTER" "$F_HTTP" "backend = \"postgres\"
[store]
backend = \"redis\"
[redis]
address = \"redis://127.0.0.1:$REDIS_PORT\"
timeout_ms = 2000
[postgres]
dsn = \"$DSN\"
timeout_ms = 5000
[outbound.store]
backend = \"redis\""

# --- the embedded node learns (CLI), scans (decision log), and has an account status ----------
E=("$MAILSIFT" --data-dir "$WORK/embedded")
"${E[@]}" learn spam "$DATA"/train/spam/*.eml >/dev/null || fail_start "learn spam (global)"
"${E[@]}" learn ham "$DATA"/train/ham/*.eml >/dev/null || fail_start "learn ham (global)"
"${E[@]}" learn spam --user bob@acme.test "$DATA"/train/spam/0[1-4].eml >/dev/null ||
  fail_start "learn spam (bob)"
"${E[@]}" account disable bob@acme.test --reason phished >/dev/null || fail_start "account disable"

py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
scan() {  # scan URL FILE -> "SCORE SYMBOL..." for bob
  curl -fsS --data-binary @"$2" "$1/api/v1/scan?from=deals@promo.test&rcpt=bob@acme.test" |
    py 'str(d["recipients"][0]["score"]) + " " + " ".join(sorted(s["name"] + "=" + str(s["score"]) for s in d["recipients"][0]["symbols"]))'
}
SPAM_MSG="$DATA/sample-spam.eml"
HAM_MSG="$DATA/sample-ham.eml"
"$MAILSIFTD" --config "$WORK/embedded.toml" >"$WORK/embedded.log" 2>&1 &
EPID=$!
PIDS+=($EPID)
wait_port "$E_HTTP" || fail_start "embedded node did not start" "$WORK/embedded.log"
E_SPAM=$(scan "http://127.0.0.1:$E_HTTP" "$SPAM_MSG")
E_HAM=$(scan "http://127.0.0.1:$E_HTTP" "$HAM_MSG")
echo "embedded node, spam sample: $E_SPAM"
echo "embedded node, ham sample:  $E_HAM"
kill -TERM "$EPID" && wait "$EPID"
PIDS=()

# --- migrate -----------------------------------------------------------------------------------
FROM=("$WORK/embedded/mailsift.db" "$WORK/embedded/decisions.db" "$WORK/embedded/outbound.db")
MIG=("$MAILSIFT" migrate --redis "127.0.0.1:$REDIS_PORT" --postgres "$DSN" --from "${FROM[@]}")
"$MAILSIFT" migrate --dry-run --redis "127.0.0.1:$REDIS_PORT" --postgres "$DSN" \
  --from "${FROM[@]}" >"$WORK/dry.out" 2>&1
DRY_RC=$?
DRY_KEYS=$("${RCLI[@]}" dbsize)
DRY_PG=$("${PSQL[@]}" -c "SELECT count(*) FROM mailsift.decisions" 2>/dev/null || echo 0)
cat "$WORK/dry.out"
"${MIG[@]}" >"$WORK/first.out" 2>&1
FIRST_RC=$?
cat "$WORK/first.out"
col() {  # col FILE KIND N -> column N (1 = source, 2 = written, 3 = destination) of KIND's row
  awk -v k="$2" -v n="$3" '{ line = $0; sub(/^[a-z -]*[a-z] +/, "", line); split(line, f, / +/);
    name = $0; sub(/ +[0-9].*$/, "", name); if (name == k) print f[n] }' "$1"
}
check "dry run exits 0" test "$DRY_RC" = 0
check "dry run writes nothing (Redis empty, no decision in PostgreSQL)" test "$DRY_KEYS/$DRY_PG" = 0/0
check "first migrate exits 0" test "$FIRST_RC" = 0
check "dry run marks the missing kinds" grep -q "^learned messages .*missing" "$WORK/dry.out"
# Token counts are not written as numbers (they follow from the learned messages): source =
# destination only.
s=$(col "$WORK/first.out" "token counts" 1)
check "token counts: source ($s) > 0 = destination" \
  test -n "$s" -a "$s" != 0 -a "$s" = "$(col "$WORK/first.out" "token counts" 3)"
for kind in "learned messages" "fuzzy records" "decisions" "decision recipients" \
  "account statuses"; do
  s=$(col "$WORK/first.out" "$kind" 1)
  check "$kind: source ($s) > 0, written = source = destination" \
    test -n "$s" -a "$s" != 0 -a "$s" = "$(col "$WORK/first.out" "$kind" 2)" -a \
    "$s" = "$(col "$WORK/first.out" "$kind" 3)"
done
LEARNED_SRC=$(sqlite3 "$WORK/embedded/mailsift.db" "SELECT count(*) FROM learned" 2>/dev/null ||
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM learned').fetchone()[0])" "$WORK/embedded/mailsift.db")
redis_learned() {  # HLEN of every ms:msg:{scope} summed
  local n=0 k
  for k in $("${RCLI[@]}" --scan --pattern 'ms:msg:*'); do n=$((n + $("${RCLI[@]}" hlen "$k"))); done
  echo "$n"
}
R1=$(redis_learned)
P1=$("${PSQL[@]}" -c "SELECT count(*) FROM mailsift.decisions")
TOT1=$("${RCLI[@]}" hgetall 'ms:tot:{u:bob@acme.test}' | tr '\n' ' ')
check "Redis holds every learned message ($LEARNED_SRC in SQLite, $R1 in Redis)" test "$R1" = "$LEARNED_SRC"
check "PostgreSQL holds the embedded node's 2 decisions" test "$P1" = 2
check "Redis holds bob's account status" \
  bash -c "'${RCLI[0]}' -p $REDIS_PORT hget ms:ob:status user:bob@acme.test | grep -q sending_disabled"

# --- a node on the fleet backends scores like the embedded one ---------------------------------
"$MAILSIFTD" --config "$WORK/fleet.toml" >"$WORK/fleet.log" 2>&1 &
PIDS+=($!)
wait_port "$F_HTTP" || fail_start "fleet node did not start" "$WORK/fleet.log"
F_SPAM=$(scan "http://127.0.0.1:$F_HTTP" "$SPAM_MSG")
F_HAM=$(scan "http://127.0.0.1:$F_HTTP" "$HAM_MSG")
echo "fleet node, spam sample:    $F_SPAM"
echo "fleet node, ham sample:     $F_HAM"
check "spam sample: same score and symbols on the fleet node" test "$F_SPAM" = "$E_SPAM"
check "ham sample: same score and symbols on the fleet node" test "$F_HAM" = "$E_HAM"
check "the comparison is not vacuous (a learned-state symbol fired)" \
  grep -Eq "BAYES|FUZZY" <<<"$E_SPAM $E_HAM"

# --- a second migrate is idempotent ------------------------------------------------------------
"${MIG[@]}" >"$WORK/second.out" 2>&1
SECOND_RC=$?
cat "$WORK/second.out"
check "second migrate exits 0" test "$SECOND_RC" = 0
check "second migrate writes nothing" \
  test "$(awk 'NR > 1 { w += $(NF - 2) } END { print w + 0 }' "$WORK/second.out")" = 0
check "learned messages in Redis unchanged" test "$(redis_learned)" = "$R1"
check "bob's totals unchanged" test "$("${RCLI[@]}" hgetall 'ms:tot:{u:bob@acme.test}' | tr '\n' ' ')" = "$TOT1"
# The fleet node logged its own 2 scans meanwhile: 4 decisions, none doubled.
check "PostgreSQL decisions: 2 migrated + 2 from the fleet node, none doubled" \
  test "$("${PSQL[@]}" -c "SELECT count(*) FROM mailsift.decisions")" = 4

# --- the fleet learns more in a migrated scope: verification reports it ----------------------
"$MAILSIFT" --config "$WORK/fleet.toml" learn spam --user bob@acme.test "$DATA"/train/spam/05.eml \
  >/dev/null || fail_start "fleet learn"
"${MIG[@]}" >"$WORK/third.out" 2>&1
THIRD_RC=$?
cat "$WORK/third.out"
check "migrate after the fleet learned more exits 1" test "$THIRD_RC" = 1
check "... with a MISMATCH row for learned messages" grep -q "^learned messages .*MISMATCH" "$WORK/third.out"

echo "migrate: $passed passed, $failed failed"
[ "$failed" = 0 ]
