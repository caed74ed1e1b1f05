#include "dnsbl/lists.h"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace mailsift::dnsbl {
namespace {

constexpr double kMaxScore = 1000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool valid_label_name(std::string_view s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!is_name_char(c))
      return false;
  return true;
}

// A DNS zone: dot-separated labels of letters, digits, '-' and '_', each 1..63 octets, at most
// 200 octets in all so that a reversed IPv6 address (72 octets) still fits in a 253-octet name.
std::optional<std::string> parse_zone(std::string_view s) {
  while (!s.empty() && s.back() == '.')
    s.remove_suffix(1);
  if (s.empty() || s.size() > 180)
    return std::nullopt;
  std::string out;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0)
        return std::nullopt;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      ++label;
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      ++label;
    } else {
      return std::nullopt;
    }
    if (label > 63)
      return std::nullopt;
    out += c;
  }
  return out;
}

std::optional<double> parse_score(std::string_view s) {
  if (!s.empty() && s.front() == '+')
    s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v) ||
      std::fabs(v) > kMaxScore)
    return std::nullopt;
  return v;
}

Result<ReturnCode> parse_code(std::string_view s, const std::string& where) {
  auto bad = [&](const std::string& why) {
    return Error::config("dnsbl.lists: " + where + ": return code '" + std::string(s) + "' " + why);
  };
  ReturnCode rc;
  auto eq = s.find('=');
  if (eq == std::string_view::npos)
    return bad("needs '=NAME'");
  std::string_view key = trim(s.substr(0, eq)), rest = trim(s.substr(eq + 1));
  if (!key.empty() && key.front() == '&') {
    rc.mask = true;
    key.remove_prefix(1);
    int base = 10;
    if (key.size() > 2 && key[0] == '0' && (key[1] == 'x' || key[1] == 'X')) {
      key.remove_prefix(2);
      base = 16;
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), v, base);
    if (key.empty() || ec != std::errc() || p != key.data() + key.size() || v < 1 || v > 255)
      return bad("has bits that are not 1..255");
    rc.value = v;
  } else {
    std::string addr(key);
    in_addr a{};
    if (addr.find('\0') != std::string::npos || inet_pton(AF_INET, addr.c_str(), &a) != 1)
      return bad("is not an IPv4 address or &BITS");
    rc.value = ntohl(a.s_addr);
    if ((rc.value >> 24) != 127)
      return bad("is outside 127.0.0.0/8 (RFC 5782: such answers never count)");
  }
  auto slash = rest.find('/');
  std::string_view name = trim(rest.substr(0, slash));
  if (!valid_label_name(name))
    return bad("needs a NAME of letters, digits, '_', '-', '.'");
  rc.name = std::string(name);
  if (slash != std::string_view::npos) {
    auto score = parse_score(trim(rest.substr(slash + 1)));
    if (!score)
      return bad("has a score that is not a number in -1000..1000");
    rc.score = *score;
  }
  return rc;
}

Result<ListSpec> parse_one(std::string_view entry) {
  const std::string where = "'" + std::string(entry) + "'";
  auto bad = [&](const std::string& why) {
    return Error::config("dnsbl.lists: " + where + ": " + why);
  };
  ListSpec list;
  auto colon = entry.find(':');
  auto eq = entry.find('=');
  if (eq != std::string_view::npos && eq < colon) {
    auto name = trim(entry.substr(0, eq));
    if (!valid_label_name(name))
      return bad("list NAME must be letters, digits, '_', '-', '.'");
    list.name = std::string(name);
    entry = entry.substr(eq + 1);
    colon = entry.find(':');
  }
  if (colon == std::string_view::npos)
    return bad("expected ZONE:KIND:SCORE");
  auto zone = parse_zone(trim(entry.substr(0, colon)));
  if (!zone)
    return bad("zone is not a DNS name");
  list.zone = *zone;
  if (list.name.empty())
    list.name = list.zone;
  entry = entry.substr(colon + 1);
  colon = entry.find(':');
  if (colon == std::string_view::npos)
    return bad("expected ZONE:KIND:SCORE");
  auto kind = trim(entry.substr(0, colon));
  if (kind == "ip")
    list.kind = Kind::kIp;
  else if (kind == "ip4")
    list.kind = Kind::kIp4;
  else if (kind == "domain")
    list.kind = Kind::kDomain;
  else if (kind == "url")
    list.kind = Kind::kUrl;
  else
    return bad("kind '" + std::string(kind) + "' is not ip, ip4, domain or url");
  entry = entry.substr(colon + 1);
  colon = entry.find(':');
  auto score = parse_score(trim(entry.substr(0, colon)));
  if (!score)
    return bad("score is not a number in -1000..1000");
  list.score = *score;
  if (colon == std::string_view::npos)
    return list;
  std::string_view codes = entry.substr(colon + 1);
  while (!codes.empty()) {
    auto semi = codes.find(';');
    auto one = trim(codes.substr(0, semi));
    codes = semi == std::string_view::npos ? std::string_view{} : codes.substr(semi + 1);
    if (one.empty())
      continue;
    auto rc = parse_code(one, where);
    if (!rc.ok())
      return rc.error();
    list.codes.push_back(std::move(*rc));
  }
  return list;
}

}  // namespace

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::kIp:
      return "ip";
    case Kind::kIp4:
      return "ip4";
    case Kind::kDomain:
      return "domain";
    case Kind::kUrl:
      return "url";
  }
  return "?";
}

Result<std::vector<ListSpec>> parse_lists(std::string_view text) {
  std::vector<ListSpec> out;
  std::set<std::string> names;
  while (!text.empty()) {
    auto end = text.find_first_of(",\n");
    auto entry = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (entry.empty())
      continue;
    auto list = parse_one(entry);
    if (!list.ok())
      return list.error();
    if (!names.insert(list->name).second)
      return Error::config("dnsbl.lists: list name '" + list->name +
                           "' appears twice (give one of them NAME=)");
    out.push_back(std::move(*list));
  }
  return out;
}

Result<std::vector<ListSpec>> lists_from_config(const Config& config) {
  return parse_lists(config.get_string("dnsbl.lists"));
}

std::string to_string(const ListSpec& list) {
  std::string out = list.name == list.zone ? "" : list.name + "=";
  out += fmt::format("{}:{}:{}", list.zone, to_string(list.kind), list.score);
  for (size_t i = 0; i < list.codes.size(); ++i) {
    const auto& c = list.codes[i];
    out += i == 0 ? ":" : ";";
    if (c.mask) {
      out += fmt::format("&{}", c.value);
    } else {
      out += fmt::format("{}.{}.{}.{}", c.value >> 24, (c.value >> 16) & 0xff,
                         (c.value >> 8) & 0xff, c.value & 0xff);
    }
    out += "=" + c.name;
    if (c.score)
      out += fmt::format("/{}", *c.score);
  }
  return out;
}

}  // namespace mailsift::dnsbl
