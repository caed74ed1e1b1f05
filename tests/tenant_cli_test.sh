#!/usr/bin/env bash
# End-to-end tests of `mailsift tenant ...` and `mailsift lists ...` (docs/tenants.md) on the
# SQLite tenant store in a fresh data dir: model, policy provenance, lists, check, exit codes.
# Usage: tenant_cli_test.sh /path/to/mailsift
set -uo pipefail
MS="$1"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export MAILSIFT_DATA_DIR="$WORK/data"
passed=0
failed=0

check() {  # check NAME CONDITION-COMMAND...
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
  fi
}
jq_py() {  # jq_py JSON PYTHON-EXPR(j) -> printed value
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

"$MS" tenant reseller add acme --name "Acme Hosting" >/dev/null
check "reseller add exits 0" test $? -eq 0
"$MS" tenant reseller add ACME >/dev/null 2>"$WORK/err"
check "duplicate reseller exits 1" test $? -eq 1
check "duplicate reseller says so" grep -q "already exists" "$WORK/err"
"$MS" tenant reseller add "bad id!" >/dev/null 2>&1
check "malformed reseller id exits 2" test $? -eq 2
"$MS" tenant reseller add globex >/dev/null
"$MS" tenant domain add acme.test --reseller acme >/dev/null
check "domain add exits 0" test $? -eq 0
"$MS" tenant domain add orphan.test --reseller nope >/dev/null 2>&1
check "domain of unknown reseller exits 1" test $? -eq 1
"$MS" tenant domain add globex.test --reseller globex >/dev/null
"$MS" tenant user add Bob@Acme.Test >/dev/null
check "user add exits 0" test $? -eq 0
"$MS" tenant user add x@unknown.test >/dev/null 2>&1
check "user of unknown domain exits 1" test $? -eq 1
check "user list shows bob" test "$("$MS" tenant user list --domain acme.test | cut -f1)" = "bob@acme.test"
out="$("$MS" tenant domain list --json)"
check "domain list json" test "$(jq_py "$out" 'len(j)')" = "2"

# Policy per level with provenance.
"$MS" tenant policy set --reseller acme --spam-score 7 >/dev/null
"$MS" tenant policy set --domain acme.test --action reject --reject-score 20 >/dev/null
"$MS" tenant policy set --user bob@acme.test --learning off >/dev/null
check "policy set exits 0" test $? -eq 0
out="$("$MS" tenant policy show --user bob@acme.test --json)"
check "effective spam_action from domain" test "$(jq_py "$out" 'j["spam_action"]["value"]+"@"+j["spam_action"]["level"]+":"+j["spam_action"]["id"]')" = "reject@domain:acme.test"
check "effective spam_score from reseller" test "$(jq_py "$out" 'str(j["spam_score"]["value"])+"@"+j["spam_score"]["level"]')" = "7.0@reseller"
check "effective learning from user" test "$(jq_py "$out" 'str(j["learning_enabled"]["value"])+"@"+j["learning_enabled"]["level"]')" = "False@user"
"$MS" tenant policy show --user bob@acme.test >"$WORK/show"
check "human show names provenance" grep -q "reject_score *20 *from domain:acme.test" "$WORK/show"
"$MS" tenant policy set --reseller acme --clear spam_score >/dev/null
out="$("$MS" tenant policy show --user bob@acme.test --json)"
check "cleared value inherits from config" test "$(jq_py "$out" 'j["spam_score"]["level"]')" = "global"
"$MS" tenant policy set --user bob@acme.test --domain acme.test --spam-score 1 >/dev/null 2>&1
check "two owners is a usage error" test $? -eq 2
"$MS" tenant policy show --user ghost@acme.test >/dev/null 2>&1
check "show of unknown user exits 1" test $? -eq 1

# Lists.
out="$("$MS" lists add --user bob@acme.test --block 198.51.100.77/24 --note "ticket 42" --json)"
check "lists add exits 0" test $? -eq 0
check "cidr canonical" test "$(jq_py "$out" 'j["value"]')" = "198.51.100.0/24"
check "created_by defaults to cli" test "$(jq_py "$out" 'j["created_by"][:4]')" = "cli:"
block_id="$(jq_py "$out" 'j["id"]')"
"$MS" lists add --domain acme.test --allow '*.partner.test' --by support >/dev/null
"$MS" lists add --reseller acme --block partner.test --expires +1d >/dev/null
check "expires accepted" test $? -eq 0
"$MS" lists add --user bob@acme.test --block 10.0.0.0/99 >/dev/null 2>"$WORK/err"
check "bad cidr exits 2" test $? -eq 2
check "bad cidr message" grep -q "prefix length" "$WORK/err"
"$MS" lists add --user bob@acme.test --block 198.51.100.0/24 >/dev/null 2>&1
check "duplicate entry exits 1" test $? -eq 1
"$MS" lists add --user bob@acme.test 1.2.3.4 >/dev/null 2>&1
check "no --block/--allow exits 2" test $? -eq 2

"$MS" lists check --user bob@acme.test --from spam@x.test --ip 198.51.100.9 >"$WORK/check"
check "check exits 0" test $? -eq 0
check "check says block by the user entry" grep -q "bob@acme.test: block (USER_BLOCK_IP)" "$WORK/check"
check "check says since when" grep -q "since 20" "$WORK/check"
check "check shows the note" grep -q "ticket 42" "$WORK/check"
out="$("$MS" lists check --user bob@acme.test --from a@news.partner.test --dmarc pass --json)"
check "domain allow beats reseller block (more specific)" test "$(jq_py "$out" 'j["verdict"]')" = "allow"
out="$("$MS" lists check --user bob@acme.test --from a@partner.test --json)"
check "without DMARC pass the allow is void" test "$(jq_py "$out" 'j["verdict"]+"/"+j["deciding"]["level"]')" = "block/reseller"
check "ALLOW_DMARC_FAIL_IGNORED reported" test "$(jq_py "$out" 'j["symbols"][-1]["name"]')" = "ALLOW_DMARC_FAIL_IGNORED"
out="$("$MS" lists check --user bob@acme.test --from a@else.test --ip 2001:db8::1 --json)"
check "no match is none" test "$(jq_py "$out" 'j["verdict"]')" = "none"
"$MS" lists check --user bob@acme.test --ip not-an-ip >/dev/null 2>&1
check "bad ip exits 2" test $? -eq 2

check "show lists the entry" test "$("$MS" lists show --user bob@acme.test | wc -l)" -eq 1
"$MS" lists remove "$block_id" >/dev/null
check "remove exits 0" test $? -eq 0
"$MS" lists remove "$block_id" >/dev/null 2>&1
check "second remove exits 1" test $? -eq 1
check "show is empty after remove" test -z "$("$MS" lists show --user bob@acme.test)"

# Keys: printed once, only the hash is stored.
key="$("$MS" tenant key create --reseller acme --label panel)"
check "key format" test "${#key}" -eq 68
check "key not stored in clear" bash -c "! grep -qa '${key#msk_}' '$WORK/data/tenants.db'*"
"$MS" tenant key create >/dev/null 2>&1
check "key needs a role" test $? -eq 2

echo "tenant cli: $passed passed, $failed failed"
test "$failed" -eq 0
