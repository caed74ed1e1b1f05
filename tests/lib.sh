# Shared helpers for the shell integration tests (source it): pass/fail counting, loopback port
# picking and waiting, exit hooks (on_exit) and a private unbound (start_unbound). Tests keep
# their own start/stop logic for the other servers they run.

passed=0
failed=0
# check NAME COMMAND...: runs COMMAND, counts and prints ok/FAIL.
check() {
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
  fi
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# free_ports N: N distinct free loopback ports on one line (bound together, so a just-released
# port is never handed out twice).
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])' "$1"
}

# on_exit COMMAND: runs COMMAND (eval'd) when the shell exits, after every hook added later (last
# in, first out: a server started after the work directory is stopped before it is removed).
# Use it instead of `trap ... EXIT`, which would replace the hooks.
_lib_exit_hooks=()
on_exit() {
  _lib_exit_hooks=("$1" "${_lib_exit_hooks[@]}")
  trap _lib_run_exit_hooks EXIT
}
_lib_run_exit_hooks() {
  local hook
  for hook in "${_lib_exit_hooks[@]}"; do eval "$hook"; done
}

# start_unbound DIR PORT NAME TYPE: Debian's unbound on 127.0.0.1:PORT with the server: lines
# read from stdin (local-zone:, local-data:, ...); config DIR/unbound.conf, log DIR/unbound.log,
# unbound-control on the socket DIR/unbound.ctl (`unbound-control -c DIR/unbound.conf ...`).
# Returns once NAME TYPE has an answer, 1 (log printed) if none within 5 s. Stopped on exit
# (on_exit); its pid is in UNBOUND_PID.
start_unbound() {
  local dir="$1" port="$2" name="$3" type="$4" bin
  bin=$(command -v unbound || echo /usr/sbin/unbound)
  {
    cat <<EOF
server:
  interface: 127.0.0.1@$port
  port: $port
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: "$dir/unbound.pid"
  use-syslog: no
  logfile: ""
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
EOF
    sed 's/^[[:space:]]*/  /'
    cat <<EOF
remote-control:
  control-enable: yes
  control-interface: $dir/unbound.ctl
  control-use-cert: no
EOF
  } >"$dir/unbound.conf"
  "$bin" -d -c "$dir/unbound.conf" >"$dir/unbound.log" 2>&1 &
  UNBOUND_PID=$!
  on_exit "kill -TERM $UNBOUND_PID 2>/dev/null; wait $UNBOUND_PID 2>/dev/null"
  for _ in $(seq 50); do
    [ -n "$(dig +short -p "$port" @127.0.0.1 "$name" "$type" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  echo "unbound did not answer $name $type on 127.0.0.1:$port:" >&2
  cat "$dir/unbound.log" >&2
  return 1
}
