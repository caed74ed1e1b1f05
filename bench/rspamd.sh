# shellcheck shell=bash
# Shared by bench/server and bench/auth: an offline Rspamd 3.4 (the unpacked Debian package,
# tests/rspamc/install-rspamd.sh) on private loopback ports with its own config, db and log dirs,
# and the helpers to drive and measure it (free ports, /ping wait, CPU ticks from /proc).
# Sourced, never run; needs scripts/common.sh (die) sourced first.
#
#   rspamd_config DIR WORKERS   fresh DIR/local.d: ports, logging, WORKERS normal workers;
#                               the caller then adds its own local.d files (modules, options)
#   rspamd_launch DIR [DBDIR]   starts it (DBDIR defaults to DIR/db; pass a shared one so a second
#                               instance reuses the compiled Hyperscan databases), waits for /ping;
#                               sets RSPAMD_PID and RSPAMD_PORT; returns 1 when it did not start
#   rspamd_pids [PID]           the main process and its workers (for cpu_ticks); PID defaults
#                               to the instance started last
#   rspamd_worker_pids [PID]    its normal workers only: the processes that scan messages
#   rspamd_settle [PID]         waits (up to 2 min) until it stops using CPU, e.g. after its
#                               hs_helper compiled the Hyperscan databases in the background
#   rspamd_stop [PID]           stops that instance
#
# Environment: RSPAMD_PREFIX (default /opt/rspamd-3.4).
RSPAMD_PREFIX="${RSPAMD_PREFIX:-/opt/rspamd-3.4}"
RSPAMD="$RSPAMD_PREFIX/usr/bin/rspamd"
# shellcheck disable=SC2034  # used by the scripts that source this file
CLK_TCK="$(getconf CLK_TCK)"

# Modules that only ask the network or a store (Redis, ClickHouse, ...), plus the sender
# authentication ones; bench/auth enables the latter again.
# shellcheck disable=SC2034  # used by the scripts that source this file
RSPAMD_NETWORK_MODULES=(rbl spf dkim dmarc arc asn fuzzy_check emails phishing url_redirector
  dkim_signing greylist ratelimit replies neural mx_check whitelist dcc metadata_exporter
  clickhouse elastic history_redis reputation external_services antivirus)

# Ports handed out so far in this run are never reused: the kernel may return a just-released
# port again on the next bind to port 0. (Kept in a file: free_port runs in command
# substitutions, i.e. subshells.)
USED_PORTS_FILE="$(mktemp)"
free_port() {
  local p
  while :; do
    p="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    grep -qx "$p" "$USED_PORTS_FILE" || break
  done
  echo "$p" >>"$USED_PORTS_FILE"
  echo "$p"
}

# cpu_ticks PID...: utime+stime of the processes, in clock ticks.
cpu_ticks() {
  local total=0 p f
  for p in "$@"; do
    [[ -r "/proc/$p/stat" ]] || continue
    # Fields after "(comm) ": state is [0], utime [11], stime [12].
    read -r -a f <<<"$(sed 's/^.*) //' "/proc/$p/stat")"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

wait_for_ping() {  # wait_for_ping PORT PID [TENTHS_OF_SECONDS]
  local _
  for _ in $(seq 1 "${3:-300}"); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 &&
      grep -q pong <&3) 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

rspamd_config() {
  local rs="$1" workers="$2"
  rm -rf "$rs" && mkdir -p "$rs/local.d" "$rs/run" "$rs/log"
  RSPAMD_PORT="$(free_port)"
  cat >"$rs/local.d/worker-normal.inc" <<EOF
bind_socket = "127.0.0.1:$RSPAMD_PORT";
count = $workers;
EOF
  echo "bind_socket = \"127.0.0.1:$(free_port)\";" >"$rs/local.d/worker-controller.inc"
  echo "bind_socket = \"127.0.0.1:$(free_port)\";" >"$rs/local.d/worker-proxy.inc"
  echo "bind_socket = \"127.0.0.1:$(free_port)\"; count = 1;" >"$rs/local.d/worker-fuzzy.inc"
  cat >"$rs/local.d/logging.inc" <<'EOF'
type = "file";
filename = "$LOGDIR/rspamd.log";
level = "error";
EOF
  echo "$RSPAMD_PORT" >"$rs/port"
}

rspamd_launch() {
  local rs="$1" db="${2:-$1/db}" share="$RSPAMD_PREFIX/usr/share/rspamd"
  mkdir -p "$db"
  RSPAMD_PORT="$(cat "$rs/port")"
  LD_LIBRARY_PATH="$RSPAMD_PREFIX/usr/lib/rspamd" "$RSPAMD" -f -i -u root -g root \
    -c "$RSPAMD_PREFIX/etc/rspamd/rspamd.conf" \
    --var="CONFDIR=$RSPAMD_PREFIX/etc/rspamd" --var="LOCAL_CONFDIR=$rs" \
    --var="RULESDIR=$share/rules" --var="LUALIBDIR=$share/lualib" \
    --var="PLUGINSDIR=$share/plugins" --var="SHAREDIR=$share" --var="WWWDIR=$share/www" \
    --var="DBDIR=$db" --var="RUNDIR=$rs/run" --var="LOGDIR=$rs/log" \
    >"$rs/stdout.log" 2>&1 &
  RSPAMD_PID=$!
  # Rspamd compiles its rules at start: minutes on a busy 2-core machine (less with a warm DBDIR).
  wait_for_ping "$RSPAMD_PORT" "$RSPAMD_PID" 6000
}

# shellcheck disable=SC2046  # one pid per word
rspamd_pids() {
  local pid="${1:-$RSPAMD_PID}"
  echo "$pid" $(ps -o pid= --ppid "$pid")
}

rspamd_worker_pids() {
  ps -o pid=,args= --ppid "${1:-$RSPAMD_PID}" | awk '$2 == "rspamd:" && $3 == "normal" { print $1 }'
}

rspamd_settle() {
  local pid="${1:-$RSPAMD_PID}" prev=-1 now _
  for _ in $(seq 1 120); do
    # shellcheck disable=SC2046  # one pid per word
    now="$(cpu_ticks $(rspamd_pids "$pid"))"
    ((now - prev <= 2)) && return 0  # at most 20 ms of CPU in the last second
    prev="$now"
    sleep 1
  done
}

rspamd_stop() {
  local pid="${1:-${RSPAMD_PID:-}}"
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ "$pid" != "${RSPAMD_PID:-}" ]] || RSPAMD_PID=""
}
