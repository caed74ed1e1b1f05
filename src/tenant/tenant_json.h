// mailsift::tenant JSON shapes shared by the HTTP API and `mailsift tenant/lists --json`.
// Shapes are documented in docs/tenants.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tenant/list_check.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {

using Json = nlohmann::ordered_json;

std::string iso8601(int64_t unix_seconds);  // "2026-11-28T16:00:00Z"
Json to_json(const Reseller& r);
Json to_json(const Domain& d);
Json to_json(const User& u);
Json to_json(const PolicyOverrides& p);
// {"user","domain","reseller","spam_action":{"value","level","id"},...}
Json to_json(const EffectivePolicy& p);
// {"id","level","owner","kind","type","value","created_at","created_at_iso","created_by","note",
//  "expires_at"}
Json to_json(const ListEntry& e);
// {"verdict":"block|allow|none","deciding":{entry + "matched"}|null,"matches":[...],
//  "symbols":[{"name","score","detail"}]}
Json to_json(const ListCheckResult& r);
// Dump that never throws on invalid UTF-8 (replaced).
std::string dump(const Json& j);

}  // namespace mailsift::tenant
