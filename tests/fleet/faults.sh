#!/usr/bin/env bash
# Faults of the fleet servers (issue 9 point 5; docs/fleet.md "Faults and degraded mode"): one
# mailsiftd on a real Redis (learning) and a real PostgreSQL (decision log) takes scans and
# spam reports while Redis, then PostgreSQL, are killed (SIGKILL) mid-traffic, and a hung Redis
# (SIGSTOP); Redis restarts; mailsiftd itself is killed (SIGKILL) with writes queued; PostgreSQL
# and a new mailsiftd start and replay what the old one queued. It counts:
#   * every scan answered (HTTP 200, never a tempfail), the daemon never crashed;
#   * scans while Redis is down carry FLEET_DEGRADED; a hung Redis costs at most one timeout;
#   * decision-log rows in PostgreSQL == scans answered (same ids, none lost, none twice);
#   * spam learned in Redis == spam reports accepted (each exactly once), after the replay.
# FAULTS_REPLAY=false runs the same with fleet.replay = false: the counts must then fail (the
# test's own control; not run by CTest).
# Usage: faults.sh /path/to/mailsiftd /path/to/mailsift
# Exit: 0 pass, 1 fail, 77 skipped (redis-server or PostgreSQL server binaries missing).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
REPLAY="${FAULTS_REPLAY:-true}"

# shellcheck source=servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
PSQL="$PG_BIN/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql || true)"

WORK=$(mktemp -d /tmp/mailsift-faults.XXXXXX)
chmod 755 "$WORK"
NODE_PID=""
cleanup() {
  [ -n "$NODE_PID" ] && kill -TERM "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
  fleet_servers_stop
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

read -r REDIS_PORT PG_PORT HTTP_PORT MILTER_PORT POLICY_PORT < <(free_ports 5)

# Redis with an fsync'd append-only file: SIGKILL loses nothing that was acknowledged, so the
# learned counts after the restart are the ones before the kill plus the replay.
start_redis() { fleet_redis_start "$REDIS_PORT" --appendonly yes --appendfsync always; }
start_redis

fleet_pg_init
start_pg() { fleet_pg_start "$PG_PORT"; }
start_pg
pg() { "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -AtX -c "$1"; }

fleet_provision "$WORK/node-f" || fail_start "tenant set-up"
fleet_node_toml node-f "$MILTER_PORT" "$HTTP_PORT" 2 <<EOF2
[store]
backend = "redis"
[redis]
address = "redis://127.0.0.1:$REDIS_PORT"
timeout_ms = 250
[decisions]
backend = "postgres"
[postgres]
dsn = "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
timeout_ms = 1000
[outbound]
policy_listen = "127.0.0.1:$POLICY_PORT"
[outbound.store]
backend = "redis"
[outbound.detect]
enabled = false
[fleet]
replay = $REPLAY
breaker_ms = 500
EOF2
start_node() {
  "$MAILSIFTD" --config "$WORK/node-f.toml" >>"$WORK/node.log" 2>&1 &
  NODE_PID=$!
  wait_port "$HTTP_PORT" || fail_start "mailsiftd did not start" "$WORK/node.log"
}
start_node
BASE="http://127.0.0.1:$HTTP_PORT"

# drive.py scan FIRST COUNT OUT | report FIRST COUNT OUT: sequential requests, one JSON line each
# (code, decision id, action, degraded?, elapsed ms, learn outcome).
cat >"$WORK/drive.py" <<'PY'
import json, sys, time, urllib.request, urllib.error
base, what, first, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def msg(n):
    return ("Return-Path: <deals%d@promo.test>\r\nFrom: Deals <deals%d@promo.test>\r\n"
            "To: bob@acme.test\r\nSubject: Your exclusive reward %d\r\nMessage-ID: <f%d@promo.test>\r\n\r\n"
            "Dear customer, your exclusive reward number %d is waiting. Claim the voucher for premium "
            "watches and designer bags at our partner outlet before midnight, offer %d expires soon.\r\n"
            % (n, n, n, n, n, n)).encode()
with open(out, "a") as f:
    for n in range(first, first + count):
        if what == "scan":
            url = base + "/api/v1/scan?from=deals%d@promo.test&rcpt=bob@acme.test" % n
        else:
            url = base + "/api/v1/report/spam?user=bob@acme.test"
        t0 = time.monotonic()
        rec = {"n": n}
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=msg(n)), timeout=30) as r:
                rec["code"] = r.status
                d = json.load(r)
        except urllib.error.HTTPError as e:
            rec["code"] = e.code
            d = {}
        except Exception as e:
            rec["code"] = 0
            rec["error"] = str(e)
            d = {}
        rec["ms"] = round((time.monotonic() - t0) * 1000, 1)
        if what == "scan" and d:
            rec["id"] = d.get("decision_id", "")
            r0 = d["recipients"][0]
            rec["action"] = r0.get("action", "")
            rec["degraded"] = any(s["name"] == "FLEET_DEGRADED" for s in r0.get("symbols", []))
        if what == "report" and d:
            rec["outcome"] = d.get("user_outcome", "")
        f.write(json.dumps(rec) + "\n")
        f.flush()
        time.sleep(0.02)
PY
drive() { python3 "$WORK/drive.py" "$BASE" "$@"; }
policy() {  # policy N -> "ACTION-LINE ELAPSED_MS" of one outbound policy request for bob
  python3 "$(dirname "${BASH_SOURCE[0]}")/policy_request.py" --timed --timeout 30 "$POLICY_PORT" "$1"
}
SCANS="$WORK/scans.jsonl"
REPORTS="$WORK/reports.jsonl"
count_lines() { python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if eval(sys.argv[2], {}, {'r': json.loads(l)})))" "$@"; }

# --- 1. all up ---------------------------------------------------------------------------------
drive scan 1 10 "$SCANS"
drive report 1001 3 "$REPORTS"
read -r POLICY_UP _ < <(policy 1)

# --- 2. Redis killed mid-traffic ---------------------------------------------------------------
drive scan 11 30 "$SCANS" &
TRAFFIC=$!
sleep 0.4
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=""
echo "redis killed (SIGKILL) during scans 11-40"
wait "$TRAFFIC"
drive report 1004 3 "$REPORTS"
# Sending limits need the shared counters: with Redis down the policy listener tempfails.
POLICY_DOWN=()
POLICY_DOWN_MS=()
for n in 2 3 4 5 6; do
  read -r a ms < <(policy "$n")
  POLICY_DOWN+=("$a")
  POLICY_DOWN_MS+=("$ms")
done
echo "policy with Redis down: ${POLICY_DOWN[0]} (ms: ${POLICY_DOWN_MS[*]})"
DEGRADED_2=$(count_lines "$SCANS" 'r["n"] > 11 and r.get("degraded")')

# --- 3. PostgreSQL killed too, mid-traffic -----------------------------------------------------
drive scan 41 30 "$SCANS" &
TRAFFIC=$!
sleep 0.4
PG_PID=$(head -1 "$WORK/pg/data/postmaster.pid")
PG_ALL="$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')"
# shellcheck disable=SC2086
kill -KILL $PG_ALL  # the postmaster and its children, like a machine crash
echo "postgres killed (SIGKILL postmaster $PG_PID and its children) during scans 41-70"
wait "$TRAFFIC"
drive report 1007 2 "$REPORTS"
check "mailsiftd still running with both servers down" kill -0 "$NODE_PID"

# --- 4. Redis back, PostgreSQL still down ------------------------------------------------------
for p in $PG_ALL; do
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
rm -f "$WORK/pg/data/postmaster.pid"
start_redis
echo "redis restarted"
sleep 1
drive scan 71 10 "$SCANS"
drive report 1009 2 "$REPORTS"

# --- 5. a hung Redis (SIGSTOP): every call bounded by redis.timeout_ms, then the breaker ---------
kill -STOP "$REDIS_PID"
drive scan 81 10 "$SCANS"
kill -CONT "$REDIS_PID"
HUNG_MAX=$(python3 -c "import json; print(max(json.loads(l)['ms'] for l in open('$SCANS') if 81 <= json.loads(l)['n'] <= 90))")
HUNG_MEDIAN=$(python3 -c "import json,statistics; print(statistics.median(json.loads(l)['ms'] for l in open('$SCANS') if 82 <= json.loads(l)['n'] <= 90))")
echo "hung redis: slowest scan ${HUNG_MAX} ms, median of the next 9 ${HUNG_MEDIAN} ms"

# --- 6. mailsiftd crashes (SIGKILL) with writes still queued; PostgreSQL back; a new process
# replays the file the old one left -----------------------------------------------------------
sleep 1  # the group-commit window (decisions.flush_ms) has passed: answered scans are queued
QUEUED=$(curl -fsS "$BASE/metrics" | awk '$1 == "mailsift_fleet_replay_pending" {print $2}')
check "mailsiftd alive after every fault (before its own SIGKILL)" kill -0 "$NODE_PID"
kill -KILL "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
echo "mailsiftd killed (SIGKILL) with ${QUEUED:-?} writes queued"
check "writes were queued when mailsiftd was killed" test "${QUEUED:-0}" -gt 0
start_pg
echo "postgres restarted"
start_node
echo "mailsiftd restarted"
drive scan 91 10 "$SCANS"
PENDING=""
for _ in $(seq 60); do
  PENDING=$(curl -fsS "$BASE/metrics" | awk '$1 == "mailsift_fleet_replay_pending" {print $2}')
  [ "$PENDING" = 0 ] && break
  sleep 0.5
done
sleep 0.5
METRICS=$(curl -fsS "$BASE/metrics" | grep '^mailsift_fleet_' | tr '\n' ' ')
echo "metrics: $METRICS"

read -r POLICY_BACK _ < <(policy 7)
echo "policy: up ${POLICY_UP}, after the restarts ${POLICY_BACK}"

# --- counts ------------------------------------------------------------------------------------
TOTAL=$(wc -l <"$SCANS")
ANSWERED=$(count_lines "$SCANS" 'r["code"] == 200')
TEMPFAIL=$(count_lines "$SCANS" 'r.get("action") == "soft reject"')
REPORTED=$(count_lines "$REPORTS" 'r["code"] == 200 and r.get("outcome") in ("learned", "relearned")')
REPORTS_MADE=$(wc -l <"$REPORTS")
python3 -c "import json; print('\n'.join(json.loads(l)['id'] for l in open('$SCANS') if json.loads(l).get('id')))" | sort >"$WORK/ids.scans"
pg "SELECT id FROM mailsift.decisions WHERE direction = 'inbound'" | sort >"$WORK/ids.pg"
PG_POLICY=$(pg "SELECT count(*) FROM mailsift.decisions WHERE direction = 'outbound'")
PG_ROWS=$(wc -l <"$WORK/ids.pg")
PG_DISTINCT=$(sort -u "$WORK/ids.pg" | wc -l)
LEARNED=$(redis-cli -p "$REDIS_PORT" HGET 'ms:tot:{u:bob@acme.test}' s)
echo "scans: $TOTAL sent, $ANSWERED answered 200, $TEMPFAIL tempfailed, $DEGRADED_2 FLEET_DEGRADED after the Redis kill"
echo "decision log: $PG_ROWS inbound rows in PostgreSQL ($PG_DISTINCT distinct ids) for $ANSWERED scans; $PG_POLICY outbound rows for 7 policy requests"
echo "spam reports: $REPORTS_MADE sent, $REPORTED accepted as learned; Redis spam total for bob: ${LEARNED:-none}"

check "mailsiftd (second process) never crashed" kill -0 "$NODE_PID"

check "every scan answered (HTTP 200)" test "$ANSWERED" = "$TOTAL"
check "no scan tempfailed (degraded mode scores locally)" test "$TEMPFAIL" = 0
check "scans after the Redis kill say FLEET_DEGRADED" test "$DEGRADED_2" -ge 5
check "a scan with Redis up again has no FLEET_DEGRADED" \
  test "$(count_lines "$SCANS" 'r["n"] == 100 and not r.get("degraded")')" = 1
check "a hung Redis costs at most ~3 timeouts for one scan (${HUNG_MAX} ms)" \
  python3 -c "import sys; sys.exit(0 if $HUNG_MAX < 3 * 250 + 500 else 1)"
check "after the first timeout the breaker makes scans fast (median ${HUNG_MEDIAN} ms)" \
  python3 -c "import sys; sys.exit(0 if $HUNG_MEDIAN < 250 else 1)"
check "every report accepted" test "$REPORTED" = "$REPORTS_MADE"
check "replay queue drained (pending ${PENDING:-?})" test "$PENDING" = 0
check "decision-log rows == scans answered" test "$PG_ROWS" = "$ANSWERED"
check "policy decisions in the log == policy requests (7)" test "$PG_POLICY" = 7
check "no decision written twice" test "$PG_DISTINCT" = "$PG_ROWS"
check "the log holds exactly the answered scans' ids" cmp -s "$WORK/ids.scans" "$WORK/ids.pg"
check "Redis learned each report exactly once" test "${LEARNED:-0}" = "$REPORTED"
check "outbound policy with Redis up: DUNNO" test "$POLICY_UP" = "action=DUNNO"
check "outbound policy with Redis down: tempfail (4xx), all 5 requests" \
  test "$(printf '%s\n' "${POLICY_DOWN[@]}" | grep -c '^action=4[0-9][0-9]_')" = 5
check "outbound policy with Redis down answers fast (ms: ${POLICY_DOWN_MS[*]})" \
  python3 -c "import sys; sys.exit(0 if max(map(float, sys.argv[1:])) < 250 else 1)" "${POLICY_DOWN_MS[@]}"
check "outbound policy after the restart: DUNNO" test "$POLICY_BACK" = "action=DUNNO"
check "degraded / recovered logged" grep -q "event=fleet_recovered" "$WORK/node.log"

echo "faults (replay=$REPLAY): $passed passed, $failed failed"
[ "$failed" = 0 ]
