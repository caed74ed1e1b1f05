#!/usr/bin/env bash
# bench/pg_log_bench.sh — what the PostgreSQL decision log's record_batch costs, per way of
# writing a batch (bench/pg_log_bench.cc): decisions/s, PostgreSQL server CPU and client CPU per
# decision. Starts a private PostgreSQL (Debian package, 127.0.0.1, private port, temp dir, fsync
# off as bench/fleet: round trips and CPU, not the disk), runs the modes interleaved ROUNDS times
# (the machine is shared: interleaving spreads the noise over every mode), stops the server.
#
# Environment: PG_BENCH_ROUNDS (3), PG_BENCH_DECISIONS (20000), PG_BENCH_BATCHES ("256 32"),
# PG_BENCH_MODES ("per_decision arrays": the write path before and since the batch statements),
# PG_BENCH_ARGS: extra pg_log_bench options (e.g. --no-analyze),
# PG_BENCH_STATEMENTS=1: load pg_stat_statements and print, after each run, where the server's
# time went per statement (calls, plan and execution ms; itself costs some server CPU).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROUNDS="${PG_BENCH_ROUNDS:-3}"
DECISIONS="${PG_BENCH_DECISIONS:-20000}"
BATCHES="${PG_BENCH_BATCHES:-256 32}"
MODES="${PG_BENCH_MODES:-per_decision arrays}"

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL server missing: apt-get install postgresql"
BENCH="$(build_dir release)/src/fleet/pg_log_bench"
if [[ "${MAILSIFT_BENCH_NO_BUILD:-0}" != 1 ]]; then
  "$MAILSIFT_ROOT/scripts/build.sh" release pg_log_bench >&2 || die "cannot build pg_log_bench"
fi
[[ -x "$BENCH" ]] || die "no pg_log_bench at $BENCH"
AS_PG=()
[[ "$(id -u)" = 0 ]] && AS_PG=(runuser -u postgres --)

# Under /tmp, where the postgres user can reach it.
srv="$(mktemp -d /tmp/mailsift-pg-log-bench.XXXXXX)"
chmod 755 "$srv"
cleanup() {
  [[ -f "$srv/data/postmaster.pid" ]] &&
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$srv/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$srv"
}
trap cleanup EXIT
[[ "$(id -u)" = 0 ]] && chown postgres: "$srv"
extra=""
[[ "${PG_BENCH_STATEMENTS:-0}" = 1 ]] &&
  extra="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$srv/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
  >"$srv/initdb.log" 2>&1 || die "initdb failed: $(tail "$srv/initdb.log")"
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$srv/data" -l "$srv/server.log" -w -t 60 \
  -o "-p $port -k $srv -c listen_addresses=127.0.0.1 -c fsync=off $extra" start \
  >"$srv/pg_ctl.log" 2>&1 || die "PostgreSQL did not start: $(tail "$srv/pg_ctl.log")"
postmaster="$(head -1 "$srv/data/postmaster.pid")"
dsn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
psql_q() { "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAq -c "$1"; }
[[ -n "$extra" ]] && psql_q "CREATE EXTENSION pg_stat_statements" >/dev/null

echo "# commit $(git -C "$MAILSIFT_ROOT" rev-parse --short HEAD), $(date -u +%FT%TZ), $(nproc) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), postgres $("$PG_BIN/postgres" --version | awk '{print $3}') (fsync off)"
for round in $(seq 1 "$ROUNDS"); do
  for batch in $BATCHES; do
    for mode in $MODES; do
      # shellcheck disable=SC2086  # PG_BENCH_ARGS is split on purpose
      "$BENCH" --dsn "$dsn" --postmaster "$postmaster" --mode "$mode" --batch "$batch" \
        --decisions "$DECISIONS" --schema "r${round}_${mode}_${batch}" ${PG_BENCH_ARGS:-} | sed "s/^/round=$round /"
      if [[ -n "$extra" ]]; then
        psql_q "SELECT format('    %8s calls %9s ms plan %9s ms exec  %s', calls,
                  round(total_plan_time::numeric, 1), round(total_exec_time::numeric, 1),
                  left(regexp_replace(query, '\s+', ' ', 'g'), 90))
                FROM pg_stat_statements ORDER BY total_plan_time + total_exec_time DESC LIMIT 8"
        psql_q "SELECT pg_stat_statements_reset()" >/dev/null
      fi
    done
  done
done
