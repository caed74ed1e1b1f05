// mailsift::fleet — the FLEET_DEGRADED symbol: a scan whose shared-store reads were answered
// locally (Redis/PostgreSQL unavailable, resilient.h) says so in its verdict.
//
// Owns: two checks added to every engine of a fleet node. A pre-filter message check forgets
// any stale mark on the scanning thread; a post-filter recipient check emits FLEET_DEGRADED
// (score fleet.degraded_score, default 0) when a store read for this message was degraded.
// Failure semantics: none (they never fail).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "scan/check.h"

namespace mailsift::fleet {

inline constexpr const char* kDegradedSymbol = "FLEET_DEGRADED";

std::vector<std::unique_ptr<scan::Check>> make_degraded_checks(double score);

using CheckFactory = std::function<Result<std::vector<std::unique_ptr<scan::Check>>>()>;
// `inner` plus the two checks when store.backend is a shared server; `inner` unchanged
// otherwise.
CheckFactory with_degraded_checks(const Config& config, CheckFactory inner);

}  // namespace mailsift::fleet
