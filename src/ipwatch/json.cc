#include "ipwatch/json.h"

#include <ctime>

namespace mailsift::ipwatch {

std::string utc_text(int64_t ms) {
  if (ms <= 0)
    return "";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json to_json(const IpState& s) {
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& l : s.listed)
    listed.push_back({{"list", l.list},
                      {"zone", l.zone},
                      {"since", utc_text(l.since_ms)},
                      {"since_ms", l.since_ms},
                      {"codes", l.codes},
                      {"name", l.name}});
  return {{"ip", s.ip},
          {"pool", s.pool},
          {"healthy", s.healthy},
          {"listed", listed},
          {"last_checked", utc_text(s.last_checked_ms)},
          {"problems", s.problems}};
}

nlohmann::json to_json(const PoolState& p) {
  return {{"name", p.name},
          {"transport", p.transport},
          {"healthy", p.healthy},
          {"listed_ips", p.listed_ips}};
}

nlohmann::json to_json(const Episode& e) {
  return {{"ip", e.ip},
          {"list", e.list},
          {"zone", e.zone},
          {"listed_at", utc_text(e.listed_at_ms)},
          {"codes", e.codes},
          {"name", e.name},
          {"delisted_at", e.delisted_at_ms ? nlohmann::json(utc_text(e.delisted_at_ms))
                                           : nlohmann::json(nullptr)}};
}

nlohmann::json to_json(const DelistingRecord& d) {
  return {{"ip", d.ip},
          {"listed_since", utc_text(d.listed_since_ms)},
          {"lists", d.lists},
          {"state", to_string(d.state)},
          {"notes", d.notes},
          {"updated_by", d.updated_by},
          {"updated_at", utc_text(d.updated_at_ms)}};
}

nlohmann::json to_json(const Alert& a) {
  return {{"at", utc_text(a.at_ms)},
          {"ip", a.ip},
          {"list", a.list},
          {"event", a.event},
          {"detail", a.detail}};
}

}  // namespace mailsift::ipwatch
