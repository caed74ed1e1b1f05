# Shared helpers for the shell integration tests (source it): pass/fail counting, loopback port
# picking and waiting. Tests keep their own start/stop logic for the servers they run.

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
