#!/usr/bin/env bash
# The support console end to end in headless Chromium: a real mailsiftd on 127.0.0.1 private
# ports with a temp data dir; tenants and API keys seeded with the CLI; traffic seeded by scanning
# .eml files through the HTTP API; then tests/console/e2e.js (playwright-core driving Debian's
# /usr/bin/chromium) logs in as a reseller and walks every page, checking content and saving a
# screenshot of each into ARTIFACTS (default: <build>/test-artifacts/console).
# Usage: run.sh /path/to/mailsiftd /path/to/mailsift [ARTIFACTS]
# Exit: 0 pass, 1 fail, 77 skipped (no chromium, node or npm).
# MAILSIFT_E2E_SKIP_CASE=1 skips checking the case-lookup report (before the case API exists).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
MAILSIFTD="$1"
MAILSIFT="$2"
BUILD_DIR="$(cd "$(dirname "$MAILSIFTD")/../.." && pwd)"
ARTIFACTS="${3:-$BUILD_DIR/test-artifacts/console}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/deps.sh)"; exit 77; }
done
[ -x "$CHROMIUM" ] || { echo "skip: $CHROMIUM not installed (scripts/deps.sh)"; exit 77; }

# playwright-core from the lock file, installed in the build tree (not the source tree).
NODE_DIR="$BUILD_DIR/test-artifacts/console-node"
mkdir -p "$NODE_DIR"
if ! cmp -s "$HERE/package-lock.json" "$NODE_DIR/package-lock.json" ||
  [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --ignore-scripts >npm.log 2>&1) ||
    { echo "FAIL: npm ci"; cat "$NODE_DIR/npm.log"; exit 1; }
fi

WORK=$(mktemp -d /tmp/mailsift-console.XXXXXX)
MS_PID=""
cleanup() {
  [ -n "$MS_PID" ] && kill -TERM "$MS_PID" 2>/dev/null && wait "$MS_PID" 2>/dev/null
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
read -r MILTER_PORT HTTP_PORT < <(free_ports 2)
mkdir -p "$WORK/data"
ms() { "$MAILSIFT" --data-dir "$WORK/data" "$@"; }
ms tenant reseller add acme --name Acme >/dev/null || exit 1
ms tenant domain add example.org --reseller acme >/dev/null || exit 1
ms tenant user add dave@example.org >/dev/null || exit 1
ms tenant reseller add other --name Other >/dev/null || exit 1
ms tenant domain add other.test --reseller other >/dev/null || exit 1
ms tenant user add eve@other.test >/dev/null || exit 1
ms lists add --user dave@example.org --block blocked.example --note "seeded by the e2e test" \
  >/dev/null || exit 1
ms tenant policy set --domain example.org --spam-score 5.5 >/dev/null || exit 1
KEY="$(ms tenant key create --reseller acme --label console-e2e)" || exit 1
cat >"$WORK/mailsift.toml" <<EOF2
[server]
milter_listen = "127.0.0.1:$MILTER_PORT"
http_listen = "127.0.0.1:$HTTP_PORT"
threads = 2
data_dir = "$WORK/data"
EOF2
"$MAILSIFTD" --config "$WORK/mailsift.toml" >"$WORK/mailsiftd.log" 2>&1 &
MS_PID=$!
wait_port "$HTTP_PORT" || { echo "FAIL: mailsiftd did not start"; cat "$WORK/mailsiftd.log"; exit 1; }
URL="http://127.0.0.1:$HTTP_PORT"
DATA="$HERE/../data"
scan() {  # scan FILE QUERY -> decision id
  curl -fsS --data-binary @"$1" "$URL/api/v1/scan?$2" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["decision_id"])'
}
SPAM_ID=$(scan "$DATA/sample-spam.eml" \
  "from=winner-notify@claim-prize.example&rcpt=dave@example.org&ip=203.0.113.200&helo=host-212.dynamic.isp.test") ||
  { echo "FAIL: seeding scan"; cat "$WORK/mailsiftd.log"; exit 1; }
scan "$DATA/sample-ham.eml" "from=friend@example.net&rcpt=dave@example.org&ip=198.51.100.20" >/dev/null || exit 1
OTHER_ID=$(scan "$DATA/sample-spam.eml" "from=winner-notify@claim-prize.example&rcpt=eve@other.test") || exit 1
echo "seeded decisions: $SPAM_ID (dave), $OTHER_ID (eve, reseller other)"
sleep 0.3  # group commit: decisions are durable within decisions.flush_ms

TZ_NAME="America/Toronto"
export CONSOLE_URL="$URL" CONSOLE_KEY="$KEY" OTHER_DECISION="$OTHER_ID" ARTIFACTS \
  SEED_USER="dave@example.org" SEED_RESELLER="acme" SEED_SENDER="winner-notify@claim-prize.example" \
  SEED_SUBJECT="FINAL NOTICE: claim your" SEED_TZ="$TZ_NAME" \
  SEED_AT="$(TZ="$TZ_NAME" date '+%Y-%m-%d %H:%M')" \
  BOUNCE_FILE="$HERE/../../src/bounce/corpus/postfix-userunknown.eml" CHROMIUM
rm -rf "$ARTIFACTS"
NODE_PATH="$NODE_DIR/node_modules" timeout 180 node "$HERE/e2e.js"
rc=$?
if [ $rc -ne 0 ]; then
  echo "--- mailsiftd log"
  tail -20 "$WORK/mailsiftd.log"
  exit 1
fi
