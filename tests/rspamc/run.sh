#!/usr/bin/env bash
# Real client test: Debian's rspamc 3.4 (the `rspamd` package) against mailsift's HTTP front end.
#
#   tests/rspamc/run.sh SERVER_BIN [SERVER_ARGS...]
#
# SERVER_BIN is http_test_server (fake backend: scripted verdicts, exact actions checked) or
# mailsiftd (real engine on an empty temp data dir: any Rspamd action accepted, learning checked
# exactly). Runs `rspamc symbols`, `-j symbols`, `learn_spam`
# (twice: the second is "already learned"), `learn_ham`, `fuzzy_add`, and GET /ping, and checks
# rspamc's output. Exits 77 (CTest SKIP_RETURN_CODE) when rspamc is not installed.
#
# rspamc is looked up on PATH, then in /opt/rspamd-3.4 (tests/rspamc/install-rspamd.sh unpacks
# Debian's package there when apt cannot install it next to libvectorscan-dev).
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # free_ports

server_bin="${1:?usage: run.sh SERVER_BIN [ARGS...]}"
shift

if command -v rspamc >/dev/null 2>&1; then
  RSPAMC=(rspamc)
elif [[ -x /opt/rspamd-3.4/usr/bin/rspamc ]]; then
  RSPAMC=(env LD_LIBRARY_PATH=/opt/rspamd-3.4/usr/lib/rspamd /opt/rspamd-3.4/usr/bin/rspamc)
else
  echo "SKIP: rspamc not installed (scripts/deps.sh or tests/rspamc/install-rspamd.sh)"
  exit 77
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ "$(basename "$server_bin")" == mailsiftd ]]; then
  real=1
  read -r http_port milter_port < <(free_ports 2)
  echo "$http_port" >"$work/port.tmp"
  mkdir -p "$work/data"
  "$server_bin" --data-dir "$work/data" --set "server.http_listen=127.0.0.1:$http_port" \
    --set "server.milter_listen=inet:127.0.0.1:$milter_port" "$@" >"$work/server.log" 2>&1 &
  server_pid=$!
  # mailsiftd has no port file: wait until /ping answers.
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; then
      mv "$work/port.tmp" "$work/port"
      break
    fi
    sleep 0.1
  done
else
  real=0
  "$server_bin" --port 0 --port-file "$work/port" "$@" 2>"$work/server.log" &
  server_pid=$!
fi
for _ in $(seq 1 100); do
  [[ -s "$work/port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "FAIL: server died"; exit 1; }
  sleep 0.1
done
port="$(cat "$work/port")"
host="127.0.0.1:$port"

failures=0
check() {  # check NAME OUTPUT REGEX
  if grep -Eq -- "$3" <<<"$2"; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected /$3/ in:"
    sed 's/^/     | /' <<<"$2"
    failures=$((failures + 1))
  fi
}

printf 'From: bob@example.test\r\nTo: alice@example.test\r\nSubject: cheap\r\nMessage-ID: <rspamc-1@example.test>\r\n\r\nSPAMWORD offer\r\n' >"$work/spam.eml"
printf 'From: bob@example.test\r\nTo: alice@example.test\r\nSubject: lunch\r\nMessage-ID: <rspamc-2@example.test>\r\n\r\nSee you at noon.\r\n' >"$work/ham.eml"

# Scan, as Postfix/Dovecot scripts do, with the full envelope rspamc can send.
out="$("${RSPAMC[@]}" -h "$host" --from bob@example.test --rcpt alice@example.test \
  --rcpt carol@example.test --ip 192.0.2.1 --helo mx.remote.test --user bob \
  --deliver alice@example.test symbols "$work/spam.eml" 2>&1)"
if ((real)); then
  check "symbols: action" "$out" '^Action: (no action|greylist|add header|rewrite subject|soft reject|reject)$'
  check "symbols: spam flag" "$out" '^Spam: (true|false)$'
else
  check "symbols: action" "$out" '^Action: add header$'
  check "symbols: spam flag" "$out" '^Spam: true$'
fi
check "symbols: score / required" "$out" '^Score: [0-9]+\.[0-9]+ / [0-9]+\.[0-9]+$'
check "symbols: a symbol line" "$out" '^Symbol: [A-Z0-9_]+ \(-?[0-9]+\.[0-9]+\)'
check "symbols: message id" "$out" '^Message-ID: rspamc-1@example.test$'

out="$("${RSPAMC[@]}" -h "$host" symbols "$work/ham.eml" 2>&1)"
check "ham: no action" "$out" '^Action: no action$'
check "ham: not spam" "$out" '^Spam: false$'
((real)) || check "symbols: a symbol line" "$out" '^Symbol: FAKE_BASE'

# JSON output: rspamc re-prints the reply it parsed.
out="$("${RSPAMC[@]}" -h "$host" -j symbols "$work/spam.eml" 2>&1)"
check "json: action key" "$out" '"action": "[a-z ]+"'
check "json: required_score key" "$out" '"required_score":'
check "json: metric_score key" "$out" '"metric_score":'

# Learning (controller endpoints), with a password as rspamc -P sends it.
out="$("${RSPAMC[@]}" -h "$host" -P secret learn_spam "$work/spam.eml" 2>&1)"
check "learn_spam" "$out" 'success = true;'
out="$("${RSPAMC[@]}" -h "$host" -P secret learn_spam "$work/spam.eml" 2>&1)"
check "learn_spam again: already learned" "$out" 'has been already learned as spam, ignore it'
out="$("${RSPAMC[@]}" -h "$host" -P secret -d alice@example.test learn_ham "$work/ham.eml" 2>&1)"
check "learn_ham" "$out" 'success = true;'
out="$("${RSPAMC[@]}" -h "$host" -P secret -f 1 -w 10 fuzzy_add "$work/spam.eml" 2>&1)"
check "fuzzy_add" "$out" 'success = true;'

# rspamc 3.4 has no ping command; its servers answer GET /ping with "pong".
pong="$(exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && cat <&3)"
check "GET /ping" "$pong" '^pong'

if ((failures > 0)); then
  echo "rspamc test: $failures failure(s); server log:"
  cat "$work/server.log"
  exit 1
fi
echo "rspamc test: all checks passed against $(basename "$server_bin") on $host"
