#!/usr/bin/env bash
# The README's "run the main job": installs dependencies, builds the release CLI and mailsiftd,
# makes sure the demo store is trained, starts mailsiftd on loopback (milter 127.0.0.1:11332,
# HTTP 127.0.0.1:11333) and scans sample messages through the daemon's HTTP API, printing each
# recipient's verdict. The daemon is LEFT RUNNING (so Postfix or rspamc can be pointed at it);
# `scripts/run.sh --stop` stops it.
#
#   scripts/run.sh [FILE...]     default: tests/data/sample-spam.eml tests/data/sample-ham.eml
#   scripts/run.sh --stop        stop the daemon this script started
#
# Idempotent: a daemon already started by this script on the same data dir is reused (restarted
# when the binary was rebuilt since); the demo store is trained only when its directory is
# missing or empty. State lives in ${MAILSIFT_DATA_DIR:-<repo>/var/data}; the daemon's pid file
# and log are var/mailsiftd.pid and var/mailsiftd.log. MAILSIFT_MILTER_LISTEN and
# MAILSIFT_HTTP_LISTEN (HOST:PORT) move the listeners. When unbound is installed it also serves the
# demo domain's DNS on 127.0.0.1:${MAILSIFT_DEMO_DNS_PORT:-11353} (var/demo-dns/) for the domain
# doctor; --stop stops it too.
# Exit status: 0 every scan answered, 1 a scan failed, 2 the daemon did not start.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MAILSIFT_ROOT"

var="$MAILSIFT_ROOT/var"
pid_file="$var/mailsiftd.pid"
log_file="$var/mailsiftd.log"
http_listen="${MAILSIFT_HTTP_LISTEN:-127.0.0.1:11333}"
milter_listen="${MAILSIFT_MILTER_LISTEN:-127.0.0.1:11332}"

running_pid() {  # the pid of our daemon when it is alive, else nothing
  local pid
  pid="$(cat "$pid_file" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q mailsiftd "/proc/$pid/cmdline" 2>/dev/null &&
    echo "$pid"
}

stop_daemon() {
  local pid i
  pid="$(running_pid)" || { rm -f "$pid_file"; return 0; }
  log "stopping mailsiftd (pid $pid)"
  kill -TERM "$pid"
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$pid_file"
}

demo_dns_dir="$var/demo-dns"
demo_dns_port="${MAILSIFT_DEMO_DNS_PORT:-11353}"

stop_demo_dns() {
  local pid
  pid="$(cat "$demo_dns_dir/unbound.pid" 2>/dev/null)" || return 0
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q unbound "/proc/$pid/cmdline" 2>/dev/null; then
    log "stopping the demo DNS server (pid $pid)"
    kill -TERM "$pid"
  fi
  rm -f "$demo_dns_dir/unbound.pid"
}

# The demo domain's DNS, so `mailsift doctor example.test` (and the console's doctor page) has
# something real to check: a loopback unbound serving example.test on the demo cluster, with one
# stale MX and DMARC p=none left in on purpose; every other name is REFUSED (no recursion, so an
# offline machine answers at once). The key and the zone live in var/demo-dns/.
start_demo_dns() {
  local unbound
  unbound="$(command -v unbound || ls /usr/sbin/unbound 2>/dev/null)" || true
  [[ -n "$unbound" ]] || { log "no unbound: the doctor demo is off"; return 0; }
  mkdir -p "$demo_dns_dir"
  if [[ ! -s "$demo_dns_dir/demo-dkim.pem" ]]; then
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
       -out "$demo_dns_dir/demo-dkim.pem" 2>/dev/null)
  fi
  local pub
  pub="$(openssl pkey -in "$demo_dns_dir/demo-dkim.pem" -pubout -outform DER 2>/dev/null | base64 -w0)"
  # A TXT value as zone-file character-strings of at most 255 octets.
  pub="$(printf 'v=DKIM1; k=rsa; p=%s' "$pub" | fold -w 250 | sed 's/.*/"&"/' | paste -sd' ')"
  cat >"$demo_dns_dir/clusters.toml" <<EOF
# The quick start's one cluster (format: docs/doctor.md).
[[cluster]]
name = "demo"
mx = ["mx1.demo.test", "mx2.demo.test"]
outbound = ["192.0.2.25", "192.0.2.26"]
spf_include = "_spf.demo.test"
ptr = { "192.0.2.25" = "out1.demo.test", "192.0.2.26" = "out2.demo.test" }
[[cluster.dkim]]
selector = "demo"
key_file = "demo-dkim.pem"
EOF
  cat >"$demo_dns_dir/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$demo_dns_port
  port: $demo_dns_port
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$demo_dns_dir"
  pidfile: "$demo_dns_dir/unbound.pid"
  use-syslog: no
  logfile: "$demo_dns_dir/unbound.log"
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "." refuse
  local-zone: "test." static
  local-zone: "2.0.192.in-addr.arpa." static
  local-data: '_spf.demo.test. 300 IN TXT "v=spf1 ip4:192.0.2.25 ip4:192.0.2.26 -all"'
  local-data: 'mx1.demo.test. 300 IN A 192.0.2.30'
  local-data: 'mx2.demo.test. 300 IN A 192.0.2.31'
  local-data: 'out1.demo.test. 300 IN A 192.0.2.25'
  local-data: 'out2.demo.test. 300 IN A 192.0.2.26'
  local-data: '25.2.0.192.in-addr.arpa. 300 IN PTR out1.demo.test.'
  local-data: '26.2.0.192.in-addr.arpa. 300 IN PTR out2.demo.test.'
  local-data: 'example.test. 300 IN MX 10 mx1.demo.test.'
  local-data: 'example.test. 300 IN MX 20 mx2.demo.test.'
  local-data: 'example.test. 300 IN MX 30 mx.old-provider.test.'
  local-data: 'example.test. 300 IN TXT "v=spf1 include:_spf.demo.test -all"'
  local-data: 'demo._domainkey.example.test. 300 IN TXT $pub'
  local-data: '_dmarc.example.test. 300 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@example.test"'
remote-control:
  control-enable: no
EOF
  stop_demo_dns
  "$unbound" -d -c "$demo_dns_dir/unbound.conf" >>"$demo_dns_dir/unbound.log" 2>&1 </dev/null &
  disown
  local i
  for i in $(seq 1 50); do
    [[ -s "$demo_dns_dir/unbound.pid" ]] && break
    sleep 0.1
  done
  if [[ -s "$demo_dns_dir/unbound.pid" ]]; then
    log "demo DNS for example.test on 127.0.0.1:$demo_dns_port (var/demo-dns/)"
  else
    log "the demo DNS server did not start (var/demo-dns/unbound.log): the doctor demo is off"
  fi
}

if [[ "${1:-}" == --stop ]]; then
  stop_daemon
  stop_demo_dns
  exit 0
fi

scripts/deps.sh
scripts/build.sh release mailsift mailsiftd
bin="$(mailsift_bin)"
daemon="$(build_dir release)/src/server/mailsiftd"
[[ -x "$bin" && -x "$daemon" ]] || die "no CLI at $bin or daemon at $daemon after the build"

data_dir="${MAILSIFT_DATA_DIR:-$var/data}"
mkdir -p "$var"
# The demo store, pid file and log are local state, never part of a commit.
[[ -f "$var/.gitignore" ]] || printf '*\n' >"$var/.gitignore"
mkdir -p "$data_dir"

if [[ -z "$(ls -A "$data_dir")" ]]; then
  spam=(tests/data/train/spam/*.eml) ham=(tests/data/train/ham/*.eml)
  log "training the demo store in $data_dir: ${#spam[@]} spam, ${#ham[@]} ham from tests/data/train/"
  if ! learn_log="$({ "$bin" --data-dir "$data_dir" learn spam "${spam[@]}" &&
                      "$bin" --data-dir "$data_dir" learn ham "${ham[@]}"; } 2>&1)"; then
    printf '%s\n' "$learn_log" >&2
    rm -rf "$data_dir"
    die "training the demo store failed"
  fi
fi

# The demo tenant the README's support examples use: reseller "demo" owns example.test, whose
# mailbox user@example.test receives the sample scans; var/admin.key holds an admin API key for
# the HTTP API and the console (created once, mode 600).
if [[ ! -s "$var/admin.key" ]]; then
  log "seeding the demo tenant: reseller demo, domain example.test, user user@example.test"
  t() { "$bin" --data-dir "$data_dir" "$@" >/dev/null; }
  has() { "$bin" --data-dir "$data_dir" tenant "$1" list 2>/dev/null | grep -qiF "$2"; }
  has reseller demo || t tenant reseller add demo --name "Demo reseller"
  has domain example.test || t tenant domain add example.test --reseller demo
  has user user@example.test || t tenant user add user@example.test
  "$bin" --data-dir "$data_dir" lists show --user user@example.test 2>/dev/null |
    grep -qF bulk-offers.example || t lists add --user user@example.test --block bulk-offers.example --note "demo: user blocked" \
    --by demo-seed
  (umask 077 && "$bin" --data-dir "$data_dir" tenant key create --admin --label demo-console \
     >"$var/admin.key.tmp" && mv "$var/admin.key.tmp" "$var/admin.key")
fi

ping_ok() { curl -fsS --max-time 2 "http://$http_listen/ping" 2>/dev/null | grep -q pong; }

start_demo_dns

# Reuse our running daemon unless the binary is newer than it (then restart on the new one).
if pid="$(running_pid)" && [[ ! "$daemon" -nt "$pid_file" ]] && ping_ok; then
  log "mailsiftd already running (pid $pid), HTTP $http_listen, milter $milter_listen"
else
  stop_daemon
  if ping_ok; then
    die "something else answers on $http_listen (set MAILSIFT_HTTP_LISTEN to another HOST:PORT)"
  fi
  log "starting mailsiftd: milter $milter_listen, HTTP $http_listen, data $data_dir (log $log_file)"
  doctor_args=()
  [[ -s "$demo_dns_dir/unbound.pid" ]] &&
    doctor_args=(--set "doctor.clusters_file=$demo_dns_dir/clusters.toml"
                 --set "doctor.dns_servers=127.0.0.1:$demo_dns_port")
  nohup "$daemon" --data-dir "$data_dir" --set "server.http_listen=$http_listen" \
    --set "server.milter_listen=inet:$milter_listen" "${doctor_args[@]}" >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  for _ in $(seq 1 300); do
    ping_ok && break
    kill -0 "$(cat "$pid_file")" 2>/dev/null || break
    sleep 0.1
  done
  if ! ping_ok; then
    tail -20 "$log_file" >&2
    rm -f "$pid_file"
    echo "error: mailsiftd did not start (log above)" >&2
    exit 2
  fi
fi

(($# > 0)) || set -- tests/data/sample-spam.eml tests/data/sample-ham.eml
log "scanning $* through http://$http_listen/api/v1/scan"
rc=0
for f in "$@"; do
  if ! reply="$(curl -fsS --max-time 30 --data-binary "@$f" \
      "http://$http_listen/api/v1/scan?rcpt=user@example.test&from=sender@example.net&ip=192.0.2.1")"; then
    echo "$f: scan failed" >&2
    rc=1
    continue
  fi
  python3 - "$f" "$reply" <<'PY'
import json, sys
path, j = sys.argv[1], json.loads(sys.argv[2])
print(f"{path}: decision {j.get('decision_id', '?')}")
for r in j.get("recipients", []):
    print(f"  {r['address']}: {r['action']} (score {r['score']:.2f}, spam at {r['required_score']:.2f})")
    for s in r.get("symbols", []):
        if s["score"] != 0:
            print(f"    {s['name']:<28} {s['score']:+7.2f}  {s['description']}")
if j.get("log_error"):
    print(f"  decision log: {j['log_error']}")
PY
done
echo "mailsiftd keeps running (pid $(cat "$pid_file")): milter $milter_listen, HTTP $http_listen;" \
  "stop it with: scripts/run.sh --stop"
exit "$rc"
