// mailsift::decisions — a Decision as JSON, the one shape shared by `mailsift log --json`, the
// test seeder and (later) the daemon's HTTP API.
//
// Owns: the field names. A decision is an object with every Decision field under its C++ name
// plus "time_utc" (ISO 8601, Z); each recipient an object with every RecipientDecision field;
// symbols [{"name", "score"}].
//
// Failure semantics: decision_from_json returns kMalformed naming the first field of the wrong
// type; absent fields keep their defaults; the time comes from time_unix_ms, else time_utc.
// SECURITY: input may be untrusted JSON; only typed reads, no recursion beyond the fixed shape.
#pragma once

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "decisions/decisions.h"

namespace mailsift::decisions {

nlohmann::json decision_to_json(const Decision& decision);
Result<Decision> decision_from_json(const nlohmann::json& json);

}  // namespace mailsift::decisions
