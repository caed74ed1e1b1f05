#!/usr/bin/env bash
# Tenants and feedback on a real PostgreSQL that is killed (SIGKILL) mid-traffic (issue 9 point 5;
# docs/fleet-tenants.md "Faults"): one mailsiftd with tenant.backend = feedback.backend =
# postgres (learning and the decision log embedded, so only PostgreSQL fails). It checks:
#   * with PostgreSQL down, scans are answered from the node's replica: HTTP 200, never a
#     tempfail, and a block entry made before the outage still decides (USER_BLOCK_*);
#   * spam reports taken while it is down are answered 202 "queued" and kept in the durable
#     replay queue — also across a SIGKILL of mailsiftd — and applied when PostgreSQL is back;
#   * counted in PostgreSQL afterwards: every report exactly once (a report sent twice while
#     down, and one already stored before the outage and sent again, count once).
# FAULTS_REPLAY=false runs it with fleet.replay = false: the reports during the outage are then
# refused (503) and the counts must fail (the test's own control; not run by CTest).
# Usage: faults_feedback.sh /path/to/mailsiftd /path/to/mailsift
# Exit: 0 pass, 1 fail, 77 skipped (PostgreSQL server binaries missing).
set -uo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
REPLAY="${FAULTS_REPLAY:-true}"
# shellcheck source=servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
PSQL="$PG_BIN/psql"
fleet_work faults-feedback
read -r PG_PORT HTTP_PORT MILTER_PORT < <(free_ports 3)
fleet_pg_init
start_pg() { fleet_pg_start "$PG_PORT"; }
start_pg
pg() { "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -AtX -c "$1"; }

fleet_node_toml node "$MILTER_PORT" "$HTTP_PORT" 2 <<EOT
[tenant]
backend = "postgres"
[feedback]
backend = "postgres"
[postgres]
dsn = "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
timeout_ms = 1000
replica_poll_ms = 200
[fleet]
replay = $REPLAY
breaker_ms = 500
EOT
M() { "$MAILSIFT" --config "$WORK/node.toml" "$@" >/dev/null; }
M tenant reseller add acme && M tenant domain add acme.test --reseller acme &&
  M tenant user add bob@acme.test &&
  M lists add --user bob@acme.test --block blocked@bad.test --note "before the outage" ||
  fail_start "tenant set-up"
NODE_PID=""
start_node() {
  "$MAILSIFTD" --config "$WORK/node.toml" >>"$WORK/node.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_port "$HTTP_PORT" || fail_start "mailsiftd did not start" "$WORK/node.log"
}
start_node
BASE="http://127.0.0.1:$HTTP_PORT"

cat >"$WORK/drive.py" <<'PY'
import json, sys, urllib.request, urllib.error
base, what, out, numbers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def msg(n, sender):
    return ("Return-Path: <%s>\r\nFrom: <%s>\r\nTo: bob@acme.test\r\nSubject: Offer %s\r\n"
            "Message-ID: <ff%s@promo.test>\r\n\r\nClaim your exclusive reward number %s before "
            "midnight, premium watches at outlet prices, offer %s.\r\n" % (sender, sender, n, n, n, n)).encode()
with open(out, "a") as f:
    for n in numbers:
        if what == "scan":
            url = base + "/api/v1/scan?from=blocked@bad.test&rcpt=bob@acme.test"
            body = msg(n, "blocked@bad.test")
        else:
            url = base + "/api/v1/report/spam?user=bob@acme.test&domain=acme.test&reseller=acme"
            body = msg(n, "deals%s@promo.test" % n)
        rec = {"n": n}
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=30) as r:
                rec["code"] = r.status
                d = json.load(r)
        except urllib.error.HTTPError as e:
            rec["code"] = e.code
            d = {}
        except Exception as e:
            rec["code"] = 0
            rec["error"] = str(e)
            d = {}
        if what == "scan" and d:
            r0 = d["recipients"][0]
            rec["action"] = r0.get("action", "")
            rec["block"] = any(s["name"].startswith("USER_BLOCK") for s in r0.get("symbols", []))
        if what == "report":
            rec["queued"] = bool(d.get("queued"))
        f.write(json.dumps(rec) + "\n")
PY
drive() { python3 "$WORK/drive.py" "$BASE" "$@"; }
count() { python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if eval(sys.argv[2], {}, {'r': json.loads(l)})))" "$@"; }
SCANS="$WORK/scans.jsonl"
UP="$WORK/reports_up.jsonl"
DOWN="$WORK/reports_down.jsonl"

# --- 1. all up: three reports stored --------------------------------------------------------
drive report "$UP" 1 2 3
check "reports with PostgreSQL up: 200 (3)" test "$(count "$UP" 'r["code"] == 200')" = 3

# --- 2. PostgreSQL killed ------------------------------------------------------------------
PG_PID=$(head -1 "$WORK/pg/data/postmaster.pid")
PG_ALL="$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')"
# shellcheck disable=SC2086
kill -KILL $PG_ALL
for p in $PG_ALL; do
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
rm -f "$WORK/pg/data/postmaster.pid"
echo "postgres killed (SIGKILL)"
drive scan "$SCANS" 1 2 3 4 5
# 4 sent twice; 2 was stored before the outage and is sent again.
drive report "$DOWN" 4 5 4 6 7 2 8
QUEUED=$(curl -fsS "$BASE/metrics" | awk '$1 == "mailsift_fleet_replay_pending" {print $2}')
echo "scans while down: $(count "$SCANS" 'r["code"] == 200') answered, $(count "$SCANS" 'r.get("block")') with USER_BLOCK; reports while down: $(count "$DOWN" 'r["code"] == 202') queued (202); replay queue: ${QUEUED:-?} pending"
check "scans with PostgreSQL down: all answered 200" test "$(count "$SCANS" 'r["code"] == 200')" = 5
check "no scan tempfailed (the replica answers)" test "$(count "$SCANS" 'r.get("action") == "soft reject"')" = 0
check "the block entry made before the outage still decides (USER_BLOCK_*)" \
  test "$(count "$SCANS" 'r.get("block")')" = 5
check "reports with PostgreSQL down: answered 202 queued (7)" test "$(count "$DOWN" 'r["code"] == 202 and r["queued"]')" = 7
check "the replay queue holds 6 (the repeated report once)" test "${QUEUED:-0}" = 6

# --- 3. mailsiftd SIGKILLed with the reports queued; PostgreSQL back; a new process replays ---
kill -KILL "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
echo "mailsiftd killed (SIGKILL)"
start_pg
echo "postgres restarted"
start_node
PENDING=""
for _ in $(seq 60); do
  PENDING=$(curl -fsS "$BASE/metrics" | awk '$1 == "mailsift_fleet_replay_pending" {print $2}')
  [ "$PENDING" = 0 ] && break
  sleep 0.5
done
STORED=$(pg "SELECT count(*) FROM mailsift.feedback_reports WHERE user_id = 'bob@acme.test'")
DISTINCT=$(pg "SELECT count(DISTINCT digest) FROM mailsift.feedback_reports WHERE user_id = 'bob@acme.test'")
echo "after the replay: ${PENDING:-?} pending; bob's reports in PostgreSQL: $STORED ($DISTINCT distinct)"
check "replay queue drained" test "$PENDING" = 0
check "every report stored exactly once (8 distinct reports, 10 sent)" test "$STORED" = 8
check "no report stored twice" test "$DISTINCT" = "$STORED"
check "mailsiftd never crashed (second process alive)" kill -0 "$NODE_PID"

echo "faults feedback (replay=$REPLAY): $passed passed, $failed failed"
[ "$failed" = 0 ]
