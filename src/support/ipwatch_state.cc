#include "support/ipwatch_state.h"

#include <fmt/format.h>

namespace mailsift::support {

IpState to_case_ip_state(const ipwatch::IpState& s) {
  IpState out;
  out.ip = s.ip;
  out.listed = !s.listed.empty();
  out.checked_at_ms = s.last_checked_ms;
  for (const auto& l : s.listed)
    out.lists.push_back(l.codes.empty() ? l.list : fmt::format("{} ({})", l.list, l.codes));
  out.detail = fmt::format("pool {}; {}", s.pool, s.healthy ? "healthy" : "unhealthy");
  if (s.last_checked_ms == 0)
    out.detail += "; not checked yet";
  for (const auto& p : s.problems)
    out.detail += "; " + p;
  return out;
}

IpStateFn ip_state_from_monitor(const ipwatch::Monitor& monitor) {
  return [&monitor](std::string_view ip) -> std::optional<IpState> {
    auto s = monitor.state_of(ip);
    if (!s)
      return std::nullopt;
    return to_case_ip_state(*s);
  };
}

IpStateFn ip_state_from_store(ipwatch::Store& store, ipwatch::Options options) {
  return [&store, options = std::move(options)](std::string_view ip) -> std::optional<IpState> {
    auto s = ipwatch::read_state(store, options, ip);
    if (!s) {
      IpState unknown;
      unknown.ip = std::string(ip);
      unknown.detail = "could not read the outbound IP monitor's store: " + s.error().describe();
      return unknown;
    }
    if (!*s)
      return std::nullopt;
    return to_case_ip_state(**s);
  };
}

RouteAtFn route_at_from_store(ipwatch::Store& store, ipwatch::Options options) {
  return [&store, options = std::move(options)](int64_t at_ms) {
    OutboundRoute r;
    auto rec = store.steering_at(at_ms);
    if (!rec) {
      r.error = rec.error().describe();
      return r;
    }
    if (!*rec)
      return r;
    r.known = true;
    r.since_ms = (*rec)->at_ms;
    r.pool = (*rec)->pool;
    r.transport = (*rec)->transport;
    r.fallback = (*rec)->fallback;
    for (const auto& pool : options.pools)
      if (pool.name == r.pool)
        r.ips = pool.ips;
    for (const auto& ip : r.ips) {
      std::vector<std::string> lists;
      auto episodes = store.history(ip, 10000);
      if (!episodes) {
        r.error = episodes.error().describe();
        return r;
      }
      for (const auto& e : *episodes)
        if (e.listed_at_ms <= at_ms && (e.delisted_at_ms == 0 || e.delisted_at_ms > at_ms))
          lists.push_back(e.list);
      r.listed_then.emplace_back(ip, std::move(lists));
    }
    return r;
  };
}

std::vector<std::string> configured_outbound_ips(const ipwatch::Options& options) {
  std::vector<std::string> ips;
  for (const auto& pool : options.pools)
    ips.insert(ips.end(), pool.ips.begin(), pool.ips.end());
  return ips;
}

}  // namespace mailsift::support
