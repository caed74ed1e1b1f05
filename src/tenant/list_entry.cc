#include "tenant/list_entry.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "core/ascii.h"

namespace mailsift::tenant {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// LDH labels separated by dots, no empty label, 1..253 bytes. Input already lower-case.
bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253)
    return false;
  size_t label = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    if (c == '.') {
      if (label == 0 || d[i - 1] == '-')
        return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || (label == 0 && c == '-'))
      return false;
    if (++label > 63)
      return false;
  }
  if (label == 0 || d.back() == '-')
    return false;
  // An all-numeric last label is no domain (RFC 3696 2): "300.1.1.1" is a broken IP address.
  std::string_view last = d.substr(d.size() - label);
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Local part: printable ASCII without spaces, <>, ",", "@"; 1..64 bytes.
bool valid_local(std::string_view l) {
  if (l.empty() || l.size() > 64)
    return false;
  for (char c : l) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '<' || c == '>' || c == ',' || c == '@' || c == '"' ||
        c == '\\')
      return false;
  }
  return true;
}

std::string ip_text(const IpAddr& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ip.v4)
    inet_ntop(AF_INET, ip.bytes.data() + 12, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf);
  return buf;
}

bool prefix_equal(const IpAddr& a, const IpAddr& b, int bits) {
  // bits counts over the 128-bit form.
  int full = bits / 8, rest = bits % 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), static_cast<size_t>(full)) != 0)
    return false;
  if (rest == 0)
    return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

void clear_host_bits(IpAddr& ip, int bits) {
  for (int i = 0; i < 16; ++i) {
    int keep = std::min(8, std::max(0, bits - i * 8));
    ip.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
}

bool domain_in_tree(std::string_view domain, std::string_view tree) {
  if (domain == tree)
    return true;
  return domain.size() > tree.size() && domain.ends_with(tree) &&
         domain[domain.size() - tree.size() - 1] == '.';
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

}  // namespace

const char* to_string(EntryType t) {
  switch (t) {
    case EntryType::kAddress:
      return "address";
    case EntryType::kDomain:
      return "domain";
    case EntryType::kDomainTree:
      return "domain_tree";
    case EntryType::kIp:
      return "ip";
    case EntryType::kCidr:
      return "cidr";
  }
  return "?";
}

std::optional<EntryType> entry_type_from_string(std::string_view s) {
  for (auto t : {EntryType::kAddress, EntryType::kDomain, EntryType::kDomainTree, EntryType::kIp,
                 EntryType::kCidr})
    if (s == to_string(t))
      return t;
  return std::nullopt;
}

std::string normalise_address(std::string_view raw) {
  raw = trim(raw);
  if (raw.size() >= 2 && raw.front() == '<' && raw.back() == '>')
    raw = trim(raw.substr(1, raw.size() - 2));
  return ascii_lower(raw);
}

std::optional<IpAddr> parse_ip(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
    return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  IpAddr ip;
  unsigned char v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) {
    ip.bytes[10] = ip.bytes[11] = 0xff;
    std::memcpy(ip.bytes.data() + 12, v4, 4);
    ip.v4 = true;
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.bytes.data()) == 1) {
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    ip.v4 = std::memcmp(ip.bytes.data(), kMapped, 12) == 0;
    return ip;
  }
  return std::nullopt;
}

Result<ListPattern> parse_list_entry(std::string_view text) {
  if (text.size() > kMaxEntryBytes)
    return Error::malformed(fmt::format("list entry longer than {} bytes", kMaxEntryBytes));
  std::string s = normalise_address(text);
  if (s.empty())
    return Error::malformed("empty list entry");
  // CIDR.
  if (auto slash = s.find('/'); slash != std::string::npos) {
    auto ip = parse_ip(std::string_view(s).substr(0, slash));
    if (!ip)
      return Error::malformed(fmt::format("'{}' is not a CIDR network (address/prefix)", s));
    std::string_view len_text = std::string_view(s).substr(slash + 1);
    int len = -1;
    auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    int max = ip->v4 ? 32 : 128;
    if (len_text.empty() || ec != std::errc() || p != len_text.data() + len_text.size() ||
        len < 0 || len > max)
      return Error::malformed(fmt::format("'{}': prefix length must be a number in 0..{}", s, max));
    clear_host_bits(*ip, ip->v4 ? len + 96 : len);
    return ListPattern{EntryType::kCidr, fmt::format("{}/{}", ip_text(*ip), len)};
  }
  if (auto ip = parse_ip(s))
    return ListPattern{EntryType::kIp, ip_text(*ip)};
  if (s.find(':') != std::string::npos)
    return Error::malformed(fmt::format("'{}' is not an IP address", s));
  auto at = s.rfind('@');
  if (at != std::string::npos) {
    std::string local = s.substr(0, at), domain = s.substr(at + 1);
    if (!valid_domain(domain))
      return Error::malformed(fmt::format("'{}': '{}' is not a domain name", s, domain));
    if (local.empty())
      return ListPattern{EntryType::kDomain, domain};
    if (!valid_local(local))
      return Error::malformed(fmt::format("'{}' is not an email address", s));
    return ListPattern{EntryType::kAddress, s};
  }
  if (s.starts_with("*.") || s.starts_with(".")) {
    std::string domain = s.substr(s[0] == '*' ? 2 : 1);
    if (!valid_domain(domain))
      return Error::malformed(fmt::format("'{}': '{}' is not a domain name", s, domain));
    return ListPattern{EntryType::kDomainTree, domain};
  }
  if (!valid_domain(s))
    return Error::malformed(
        fmt::format("'{}' is not a list entry (use user@domain, domain, *.domain, IP or CIDR)", s));
  return ListPattern{EntryType::kDomain, s};
}

std::string display(const ListPattern& p) {
  return p.type == EntryType::kDomainTree ? "*." + p.value : p.value;
}

std::string match_pattern(const ListPattern& pattern, const SenderFacts& facts) {
  switch (pattern.type) {
    case EntryType::kAddress: {
      std::string a = normalise_address(facts.address);
      return !a.empty() && a == pattern.value ? "address " + a : std::string();
    }
    case EntryType::kDomain:
    case EntryType::kDomainTree: {
      std::vector<std::string> domains;
      if (std::string d = domain_of(normalise_address(facts.address)); !d.empty())
        domains.push_back(d);
      for (const auto& d : facts.domains)
        domains.push_back(ascii_lower(trim(d)));
      for (const auto& d : domains) {
        if (d.empty())
          continue;
        bool hit = pattern.type == EntryType::kDomain ? d == pattern.value
                                                      : domain_in_tree(d, pattern.value);
        if (hit)
          return "domain " + d;
      }
      return {};
    }
    case EntryType::kIp:
    case EntryType::kCidr: {
      auto ip = parse_ip(facts.client_ip);
      if (!ip)
        return {};
      if (pattern.type == EntryType::kIp) {
        auto p = parse_ip(pattern.value);
        return p && p->bytes == ip->bytes ? "ip " + ip_text(*ip) : std::string();
      }
      auto slash = pattern.value.find('/');
      auto net = parse_ip(std::string_view(pattern.value).substr(0, slash));
      if (!net || slash == std::string::npos || net->v4 != ip->v4)
        return {};
      int len = std::atoi(pattern.value.c_str() + slash + 1);
      return prefix_equal(*ip, *net, net->v4 ? len + 96 : len) ? "ip " + ip_text(*ip)
                                                               : std::string();
    }
  }
  return {};
}

}  // namespace mailsift::tenant
