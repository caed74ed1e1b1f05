# shellcheck shell=bash
# Sourced by tests/fleet/*.sh after tests/lib.sh: the real servers a fleet test needs — one
# redis-server and one PostgreSQL cluster on 127.0.0.1, private ports, data under $WORK — found,
# started and stopped the same way in every script. Exits 77 (skip) when a server binary is
# missing; a server that does not start is a failure (fail_start shows its log).
REDIS_SERVER="$(command -v redis-server || true)"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$REDIS_SERVER" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
  echo "SKIP: needs redis-server and the PostgreSQL server (apt-get install redis-server postgresql)"
  exit 77
fi
AS_PG=()  # PostgreSQL refuses to run as root
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "SKIP: running as root without a postgres user"; exit 77; }
  AS_PG=(runuser -u postgres --)
fi
REDIS_PID=""

fail_start() {  # fail_start MESSAGE [LOG...]: print the logs' tails and fail the test
  echo "FAIL: $1"
  shift
  for f in "$@"; do echo "--- $f"; tail -20 "$f"; done
  exit 1
}

# fleet_redis_start PORT [redis-server options...]: no snapshots unless the options ask; sets
# REDIS_PID.
fleet_redis_start() {
  local port="$1"
  shift
  mkdir -p "$WORK/redis"
  "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save "" --dir "$WORK/redis" \
    --logfile "$WORK/redis/redis.log" "$@" &
  REDIS_PID=$!
  wait_port "$port" || fail_start "redis-server did not start" "$WORK/redis/redis.log"
}

fleet_pg_init() {  # a fresh cluster in $WORK/pg/data, trust auth for user postgres
  mkdir -p "$WORK/pg"
  [ "$(id -u)" = 0 ] && chown postgres: "$WORK/pg"
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C \
    --no-sync >"$WORK/initdb.log" 2>&1 || fail_start "initdb failed" "$WORK/initdb.log"
}

# fleet_pg_start PORT [extra postgres settings, e.g. "-c fsync=off"]
fleet_pg_start() {
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 60 \
    -o "-p $1 -k $WORK/pg -c listen_addresses=127.0.0.1${2:+ $2}" start \
    >"$WORK/pg_ctl.log" 2>&1 || fail_start "PostgreSQL did not start" "$WORK/pg_ctl.log"
}

fleet_servers_stop() {  # for the scripts' exit trap; a stopped (SIGSTOP) Redis is woken first
  if [ -n "$REDIS_PID" ]; then
    kill -CONT "$REDIS_PID" 2>/dev/null
    kill -TERM "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  fi
  [ -f "$WORK/pg/data/postmaster.pid" ] &&
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1
}

# fleet_work NAME: a work directory $WORK (readable by the postgres user) and an exit trap that
# stops the processes in PIDS (TERM, then wait), then the servers, then removes $WORK
# (KEEP_WORK=1 keeps it).
fleet_work() {
  WORK=$(mktemp -d "/tmp/mailsift-$1.XXXXXX")
  chmod 755 "$WORK"
  PIDS=()
  trap fleet_work_cleanup EXIT
}
fleet_work_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  fleet_servers_stop
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}

# fleet_node_toml NAME MILTER HTTP [THREADS] <<EOF ... EOF: writes $WORK/NAME.toml, a node whose
# data dir is $WORK/NAME (created), listening on 127.0.0.1 (milter and HTTP ports), with the
# [server] section first and the sections read from stdin after it.
fleet_node_toml() {
  local name="$1" milter="$2" http="$3" threads="${4:-1}"
  mkdir -p "$WORK/$name"
  {
    printf '[server]\nmilter_listen = "inet:127.0.0.1:%s"\nhttp_listen = "127.0.0.1:%s"\n' \
      "$milter" "$http"
    printf 'threads = %s\ndata_dir = "%s"\nnode_name = "%s"\n' "$threads" "$WORK/$name" "$name"
    cat
  } >"$WORK/$name.toml"
}

# fleet_provision DIR: the tenants every fleet test uses (reseller acme, domain acme.test, user
# bob@acme.test) in the embedded tenant store under DIR (created).
fleet_provision() {
  mkdir -p "$1"
  "$MAILSIFT" --data-dir "$1" tenant reseller add acme --name Acme >/dev/null &&
    "$MAILSIFT" --data-dir "$1" tenant domain add acme.test --reseller acme >/dev/null &&
    "$MAILSIFT" --data-dir "$1" tenant user add bob@acme.test >/dev/null
}
