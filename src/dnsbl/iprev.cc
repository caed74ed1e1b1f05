#include "dnsbl/iprev.h"

#include <arpa/inet.h>

#include <cstring>

namespace mailsift::dnsbl {
namespace {

// Parses `text` as an address; IPv4-mapped IPv6 becomes IPv4. len is 4 or 16, 0 if invalid.
size_t to_binary(std::string_view text, unsigned char out[16]) {
  if (text.find('\0') != std::string_view::npos)
    return 0;  // inet_pton would stop at it
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out) == 1)
    return 4;
  if (inet_pton(AF_INET6, s.c_str(), out) != 1)
    return 0;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(out, kMapped, 12) == 0) {
    std::memmove(out, out + 12, 4);
    return 4;
  }
  return 16;
}

}  // namespace

const char* to_string(IprevStatus status) {
  switch (status) {
    case IprevStatus::kPass:
      return "pass";
    case IprevStatus::kFail:
      return "fail";
    case IprevStatus::kTempError:
      return "temperror";
    case IprevStatus::kPermError:
      return "permerror";
  }
  return "?";
}

Iprev check_iprev(dns::Resolver& resolver, std::string_view ip, size_t max_names) {
  Iprev r;
  unsigned char addr[16];
  size_t len = to_binary(ip, addr);
  if (len == 0) {
    r.ip = std::string(ip);
    r.status = IprevStatus::kPermError;
    r.detail = "not an IP address";
    return r;
  }
  char text[INET6_ADDRSTRLEN];
  inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, text, sizeof text);
  r.ip = text;

  auto ptr = resolver.resolve(dns::reverse_ip(r.ip) + (len == 4 ? ".in-addr.arpa" : ".ip6.arpa"),
                              dns::RType::kPTR);
  if (ptr.temporary_failure()) {
    r.status = IprevStatus::kTempError;
    r.detail = std::string("PTR lookup: ") + dns::to_string(ptr.rcode);
    return r;
  }
  if (ptr.records.empty()) {
    r.status = IprevStatus::kPermError;
    r.detail =
        ptr.rcode == dns::Rcode::kNxDomain ? "no PTR record (NXDOMAIN)" : "no PTR record (NODATA)";
    return r;
  }
  r.ptr_names = ptr.records;
  r.name = r.ptr_names.front();

  std::vector<dns::Query> forward;
  for (const auto& n : r.ptr_names) {
    if (forward.size() >= max_names)
      break;
    forward.push_back({n, len == 4 ? dns::RType::kA : dns::RType::kAAAA});
  }
  auto answers = resolver.resolve_many(forward);
  bool temporary = false;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].temporary_failure()) {
      temporary = true;
      continue;
    }
    for (const auto& rec : answers[i].records) {
      unsigned char got[16];
      if (to_binary(rec, got) == len && std::memcmp(got, addr, len) == 0) {
        r.status = IprevStatus::kPass;
        r.name = forward[i].name;
        return r;
      }
    }
  }
  if (temporary) {
    r.status = IprevStatus::kTempError;
    r.detail = "a forward lookup of a PTR name failed temporarily";
  } else {
    r.status = IprevStatus::kFail;
    r.detail = "no PTR name resolves back to " + r.ip;
  }
  return r;
}

}  // namespace mailsift::dnsbl
