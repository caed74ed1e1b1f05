#!/usr/bin/env bash
# Puts Debian 12's Rspamd 3.4 (rspamc client, and rspamd for bench/server) under /opt/rspamd-3.4.
#
# Why not `apt-get install rspamd`: the package depends on libhyperscan5, which conflicts with
# libvectorscan5 (our libvectorscan-dev), so apt refuses. Vectorscan provides the same
# libhs.so.5 ABI, so the unpacked binaries run against it with
# LD_LIBRARY_PATH=/opt/rspamd-3.4/usr/lib/rspamd. The package's other run-time libraries are
# installed normally. Idempotent; nothing is registered with dpkg, no service is started.
set -euo pipefail

PREFIX="${RSPAMD_PREFIX:-/opt/rspamd-3.4}"
if [[ -x "$PREFIX/usr/bin/rspamc" ]]; then
  echo "rspamd: present in $PREFIX"
  exit 0
fi
SUDO=()
[[ "$(id -u)" == 0 ]] || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get install -y --no-install-recommends libglib2.0-0 libicu72 libluajit2-5.1-2 \
  libsodium23 libunwind8 libpcre2-8-0 libsqlite3-0 perl ca-certificates
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download rspamd)
"${SUDO[@]}" mkdir -p "$PREFIX"
"${SUDO[@]}" dpkg-deb -x "$tmp"/rspamd_*.deb "$PREFIX"
LD_LIBRARY_PATH="$PREFIX/usr/lib/rspamd" "$PREFIX/usr/bin/rspamc" --version
echo "rspamd: unpacked into $PREFIX"
