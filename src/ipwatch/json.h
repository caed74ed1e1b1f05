// JSON renderings of the ipwatch types, shared by the HTTP API and `mailsift ipwatch --json`.
#pragma once

#include <nlohmann/json.hpp>

#include "ipwatch/monitor.h"

namespace mailsift::ipwatch {

nlohmann::json to_json(const IpState& s);
nlohmann::json to_json(const PoolState& p);
nlohmann::json to_json(const Episode& e);
nlohmann::json to_json(const DelistingRecord& d);
nlohmann::json to_json(const Alert& a);
std::string utc_text(int64_t ms);  // "2026-11-28T20:00:00Z", "" for 0

}  // namespace mailsift::ipwatch
