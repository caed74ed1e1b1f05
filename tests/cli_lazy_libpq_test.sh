#!/usr/bin/env bash
# The CLI opens libpq only when it connects to PostgreSQL (src/fleet/pq_lazy.cc):
#   1. libpq.so.5 is not a NEEDED entry of the binary, and the binary exports no PQ* symbol
#      (an exported one would capture libpq's internal calls once libpq is opened);
#   2. a PostgreSQL connection still goes through libpq: a refused port gives libpq's own
#      "Connection refused" as a temporary error (exit 3).
#   tests/cli_lazy_libpq_test.sh PATH/TO/mailsift
set -euo pipefail
bin="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }

needed="$(readelf -d "$bin" | awk '/NEEDED/ {print $NF}')"
if grep -q 'libpq' <<<"$needed"; then fail "libpq is NEEDED: $needed"; fi
if nm -D --defined-only "$bin" | awk '{print $NF}' | grep -q '^PQ'; then
  fail "the binary exports PQ* symbols"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n' >"$tmp/m.eml"
# Port 1 on loopback: nothing listens there, so the connect is refused at once.
rc=0
"$bin" --data-dir "$tmp" --set store.backend=postgres \
  --set postgres.dsn="host=127.0.0.1 port=1 dbname=x connect_timeout=2" \
  --set postgres.timeout_ms=2000 scan "$tmp/m.eml" >"$tmp/out" 2>"$tmp/err" || rc=$?
[[ "$rc" == 3 ]] || fail "exit $rc, want 3 (temporary): $(cat "$tmp/err")"
grep -q 'postgres: connect: .*Connection refused' "$tmp/err" || fail "unexpected error: $(cat "$tmp/err")"
echo "ok: libpq not loaded at start, loaded on connect ($(wc -l <<<"$needed") NEEDED entries)"
