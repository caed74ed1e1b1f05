#include "ipwatch/options.h"

#include <arpa/inet.h>

#include <set>

namespace mailsift::ipwatch {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  return true;
}

}  // namespace

std::string canonical_ip(std::string_view ip) {
  if (ip.empty() || ip.size() > 64 || ip.find('\0') != std::string_view::npos)
    return "";
  std::string s(ip);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1)
    return inet_ntop(AF_INET, buf, out, sizeof out) ? out : "";
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1)
    return inet_ntop(AF_INET6, buf, out, sizeof out) ? out : "";
  return "";
}

Result<std::vector<Pool>> parse_pools(std::string_view text) {
  std::vector<Pool> out;
  std::set<std::string> names, ips;
  while (!text.empty()) {
    const auto end = text.find_first_of(";\n");
    const auto entry = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (entry.empty())
      continue;
    auto bad = [&](const std::string& why) {
      return Error::config("ipwatch.pools: '" + std::string(entry) + "': " + why);
    };
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      return bad("expected POOL=TRANSPORT:IP,IP");
    Pool p;
    p.name = std::string(trim(entry.substr(0, eq)));
    if (!valid_name(p.name))
      return bad("pool name must be letters, digits, '_', '-', '.'");
    if (!names.insert(p.name).second)
      return bad("pool name appears twice");
    auto rest = entry.substr(eq + 1);
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos)
      return bad("expected POOL=TRANSPORT:IP,IP");
    p.transport = std::string(trim(rest.substr(0, colon)));
    if (!valid_name(p.transport))
      return bad("transport must be a master.cf service name (letters, digits, '_', '-', '.')");
    auto list = rest.substr(colon + 1);
    while (!list.empty()) {
      const auto comma = list.find(',');
      const auto one = trim(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      if (one.empty())
        continue;
      std::string ip = canonical_ip(one);
      if (ip.empty())
        return bad("'" + std::string(one) + "' is not an IP address");
      if (!ips.insert(ip).second)
        return bad(ip + " is in two pools");
      p.ips.push_back(std::move(ip));
    }
    if (p.ips.empty())
      return bad("a pool needs at least one IP");
    out.push_back(std::move(p));
  }
  return out;
}

Result<Options> options_from_config(const Config& config) {
  Options o;
  auto pools = parse_pools(config.get_string("ipwatch.pools"));
  if (!pools)
    return pools.error();
  o.pools = std::move(pools).value();
  o.interval_seconds = config.get_int("ipwatch.interval_seconds");
  o.default_transport = config.get_string("ipwatch.default_transport");
  o.map_listen = config.get_string("ipwatch.map_listen");
  o.map_name = config.get_string("ipwatch.map_name");
  o.file = config.get_string("ipwatch.file");
  if (o.pools.empty()) {
    // Monitoring off: the lists (maybe dnsbl.lists, checked by its own users) are not ours.
    if (!o.map_listen.empty())
      return Error::config("ipwatch.map_listen is set but ipwatch.pools is empty");
    return o;
  }
  const std::string& own = config.get_string("ipwatch.lists");
  auto lists = dnsbl::parse_lists(own.empty() ? config.get_string("dnsbl.lists") : own);
  if (!lists)
    return Error::config((own.empty() ? "dnsbl.lists (used by ipwatch): " : "ipwatch.lists: ") +
                         lists.error().message);
  for (auto& l : *lists) {
    if (l.kind == dnsbl::Kind::kIp || l.kind == dnsbl::Kind::kIp4)
      o.lists.push_back(std::move(l));
    else if (!own.empty())
      return Error::config("ipwatch.lists: '" + l.name + "' is a " + dnsbl::to_string(l.kind) +
                           " list; outbound IPs are checked against ip/ip4 lists only");
  }
  if (o.lists.empty())
    return Error::config(
        "ipwatch.pools is set but there is no ip/ip4 list to check (ipwatch.lists or "
        "dnsbl.lists)");
  return o;
}

}  // namespace mailsift::ipwatch
