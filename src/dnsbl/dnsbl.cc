#include "dnsbl/dnsbl.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "dnsbl/domains.h"

namespace mailsift::dnsbl {
namespace {

constexpr size_t kMaxQueryName = 253;

// Spamhaus return codes for queries it will not answer (not listings):
// https://www.spamhaus.org/faqs/domain-blocklist/#291 and the DNSBL usage terms.
const char* refusal_reason(uint32_t a) {
  switch (a) {
    case 0x7f000001:
      return "127.0.0.1 is not a valid listing (RFC 5782 §5); lists answer it to refuse queries";
    case 0x7ffffffc:
      return "127.255.255.252: the list reports a typing error in the DNSBL name";
    case 0x7ffffffd:
      return "127.255.255.253: the list refused the query (blocked or deprecated access)";
    case 0x7ffffffe:
      return "127.255.255.254: the list refuses queries via a public/open resolver";
    case 0x7fffffff:
      return "127.255.255.255: the list refuses queries (excessive number of queries)";
  }
  return nullptr;
}

// The address to check as IPv4 (host order) when `ip` is IPv4 or IPv4-mapped IPv6; the reversed
// query label otherwise. Returns false for anything that is not an address.
struct ParsedIp {
  bool v4 = false;
  std::string reversed;  // dns::reverse_ip of the (unmapped) address
};
bool parse_ip(std::string_view ip, ParsedIp* out) {
  if (ip.find('\0') != std::string_view::npos)
    return false;  // inet_pton would stop at it
  std::string s(ip);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    out->v4 = true;
    out->reversed = dns::reverse_ip(s);
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) != 1)
    return false;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(buf, kMapped, 12) == 0) {
    char v4[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, buf + 12, v4, sizeof v4);
    out->v4 = true;
    out->reversed = dns::reverse_ip(v4);
    return true;
  }
  out->v4 = false;
  out->reversed = dns::reverse_ip(s);
  return true;
}

Listing not_checked(const ListSpec& list, std::string item, std::string why) {
  Listing l;
  l.list = list.name;
  l.zone = list.zone;
  l.item = std::move(item);
  l.outcome = Outcome::kNotChecked;
  l.detail = std::move(why);
  return l;
}

// Checks (item, list) pairs: queries are "<label>.<zone>", all sent in one batch.
struct Pending {
  const ListSpec* list;
  std::string item;
  std::string label;  // reversed IP or domain
};
std::vector<Listing> run(dns::Resolver& resolver, std::vector<Pending>& pending) {
  std::vector<Listing> out(pending.size());
  std::vector<dns::Query> queries;
  std::vector<size_t> where;
  for (size_t i = 0; i < pending.size(); ++i) {
    auto& p = pending[i];
    std::string name = p.label + "." + p.list->zone;
    if (name.size() > kMaxQueryName) {
      out[i] = not_checked(*p.list, p.item, "query name longer than 253 octets");
      out[i].query = std::move(name);
      continue;
    }
    queries.push_back({std::move(name), dns::RType::kA});
    where.push_back(i);
  }
  if (queries.empty())
    return out;
  auto answers = resolver.resolve_many(queries);
  for (size_t k = 0; k < where.size(); ++k) {
    auto& p = pending[where[k]];
    out[where[k]] = classify(*p.list, std::move(p.item), std::move(queries[k].name), answers[k]);
  }
  return out;
}

// The raw RFC 5782 reading of an answer, before return-code mapping.
struct Reading {
  Outcome outcome = Outcome::kNotListed;
  std::vector<uint32_t> addrs;
  std::string detail;
};
Reading read_answer(const dns::Answer& a) {
  Reading r;
  if (a.rcode == dns::Rcode::kRefused) {
    r.outcome = Outcome::kBlocked;
    r.detail = "the DNS server answered REFUSED";
    return r;
  }
  if (a.temporary_failure()) {
    r.outcome = Outcome::kNotChecked;
    r.detail = std::string("DNS ") + dns::to_string(a.rcode) + ": not checked";
    return r;
  }
  if (a.rcode == dns::Rcode::kNxDomain || a.records.empty()) {
    r.outcome = Outcome::kNotListed;
    return r;
  }
  const char* blocked = nullptr;
  for (const auto& rec : a.records) {
    in_addr in{};
    if (inet_pton(AF_INET, rec.c_str(), &in) != 1 || (ntohl(in.s_addr) >> 24) != 127) {
      r.outcome = Outcome::kRewritten;
      r.detail = "answer " + rec +
                 " is outside 127.0.0.0/8: the resolver rewrites answers (e.g. NXDOMAIN "
                 "redirection); not a listing";
      return r;
    }
    uint32_t v = ntohl(in.s_addr);
    if (!blocked)
      blocked = refusal_reason(v);
    r.addrs.push_back(v);
  }
  if (blocked) {
    r.outcome = Outcome::kBlocked;
    r.detail = blocked;
    return r;
  }
  r.outcome = Outcome::kListed;
  return r;
}

}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kListed:
      return "listed";
    case Outcome::kNotListed:
      return "not listed";
    case Outcome::kNotChecked:
      return "not checked";
    case Outcome::kBlocked:
      return "query refused";
    case Outcome::kRewritten:
      return "resolver rewrites answers";
  }
  return "?";
}

const char* to_string(HealthStatus status) {
  switch (status) {
    case HealthStatus::kOk:
      return "ok";
    case HealthStatus::kTestPointNotListed:
      return "test point not listed";
    case HealthStatus::kListsEverything:
      return "lists everything";
    case HealthStatus::kBlocked:
      return "query refused";
    case HealthStatus::kRewritten:
      return "resolver rewrites answers";
    case HealthStatus::kUnreachable:
      return "unreachable";
  }
  return "?";
}

Listing classify(const ListSpec& list, std::string item, std::string query,
                 const dns::Answer& answer) {
  Listing l;
  l.list = list.name;
  l.zone = list.zone;
  l.item = std::move(item);
  l.query = std::move(query);
  l.codes = answer.records;
  Reading r = read_answer(answer);
  l.outcome = r.outcome;
  l.detail = std::move(r.detail);
  if (r.outcome != Outcome::kListed)
    return l;
  if (list.codes.empty()) {
    l.score = list.score;
    return l;
  }
  bool any = false;
  for (const auto& code : list.codes) {
    bool hit = std::any_of(r.addrs.begin(), r.addrs.end(), [&](uint32_t a) {
      return code.mask ? ((a & 0xff) & code.value) != 0 : a == code.value;
    });
    if (!hit)
      continue;
    double s = code.score.value_or(list.score);
    l.score = any ? std::max(l.score, s) : s;
    if (!l.name.empty())
      l.name += ",";
    l.name += code.name;
    any = true;
  }
  if (!any) {
    l.outcome = Outcome::kNotListed;
    l.detail = "return code(s) not in the list's code map, ignored";
  }
  return l;
}

std::vector<Listing> check_ip(dns::Resolver& resolver, std::span<const ListSpec> lists,
                              std::string_view ip) {
  ParsedIp parsed;
  bool valid = parse_ip(ip, &parsed);
  std::vector<Pending> pending;
  std::vector<Listing> invalid;
  for (const auto& list : lists) {
    if (list.kind != Kind::kIp && list.kind != Kind::kIp4)
      continue;
    if (!valid) {
      invalid.push_back(not_checked(list, std::string(ip), "not an IP address"));
      continue;
    }
    if (list.kind == Kind::kIp4 && !parsed.v4)
      continue;
    pending.push_back({&list, std::string(ip), parsed.reversed});
  }
  if (!valid)
    return invalid;
  return run(resolver, pending);
}

std::vector<Listing> check_domains(dns::Resolver& resolver, std::span<const ListSpec> lists,
                                   std::span<const std::string> domains, size_t max_items) {
  std::vector<Pending> pending;
  std::vector<Listing> out;
  std::set<std::string> seen;
  bool any_list = std::any_of(lists.begin(), lists.end(),
                              [](const ListSpec& l) { return l.kind == Kind::kDomain; });
  if (!any_list)
    return out;
  for (const auto& raw : domains) {
    if (seen.size() >= max_items)
      break;
    std::string d = normalize_domain(raw);
    if (!seen.insert(d.empty() ? "\n" + raw : d).second)
      continue;
    for (const auto& list : lists) {
      if (list.kind != Kind::kDomain)
        continue;
      if (d.empty())
        out.push_back(not_checked(list, raw, "not an ASCII host name"));
      else
        pending.push_back({&list, d, d});
    }
  }
  auto checked = run(resolver, pending);
  out.insert(out.end(), std::make_move_iterator(checked.begin()),
             std::make_move_iterator(checked.end()));
  return out;
}

std::vector<Listing> check_urls(dns::Resolver& resolver, std::span<const ListSpec> lists,
                                std::span<const std::string> urls, size_t max_items) {
  std::vector<Pending> pending;
  std::set<std::string> seen;
  bool any_list = std::any_of(lists.begin(), lists.end(),
                              [](const ListSpec& l) { return l.kind == Kind::kUrl; });
  if (!any_list)
    return {};
  for (const auto& url : urls) {
    if (seen.size() >= max_items)
      break;
    std::string host = url_host(url);
    if (host.empty())
      continue;
    std::string item, label;
    if (is_ip_literal(host)) {
      if (host.find(':') != std::string::npos)
        continue;  // URL lists publish IPv4 entries only
      item = host;
      label = dns::reverse_ip(host);
    } else {
      item = registrable_domain(host);
      if (item.empty())
        continue;
      label = item;
    }
    if (!seen.insert(item).second)
      continue;
    for (const auto& list : lists)
      if (list.kind == Kind::kUrl)
        pending.push_back({&list, item, label});
  }
  return run(resolver, pending);
}

std::vector<Health> check_health(dns::Resolver& resolver, std::span<const ListSpec> lists) {
  std::vector<dns::Query> queries;
  for (const auto& list : lists) {
    bool ip = list.kind == Kind::kIp || list.kind == Kind::kIp4;
    queries.push_back({(ip ? "2.0.0.127." : "test.") + list.zone, dns::RType::kA});
    queries.push_back({(ip ? "1.0.0.127." : "invalid.") + list.zone, dns::RType::kA});
  }
  auto answers = resolver.resolve_many(queries);
  std::vector<Health> out;
  for (size_t i = 0; i < lists.size(); ++i) {
    Health h;
    h.list = lists[i].name;
    h.zone = lists[i].zone;
    const auto& listed_q = queries[2 * i].name;
    const auto& unlisted_q = queries[2 * i + 1].name;
    Reading listed = read_answer(answers[2 * i]);
    Reading unlisted = read_answer(answers[2 * i + 1]);
    // The worst finding wins: a rewriting or refusing resolver makes every other reading moot.
    if (listed.outcome == Outcome::kRewritten || unlisted.outcome == Outcome::kRewritten) {
      h.status = HealthStatus::kRewritten;
      h.detail = listed.outcome == Outcome::kRewritten ? listed_q + ": " + listed.detail
                                                       : unlisted_q + ": " + unlisted.detail;
    } else if (listed.outcome == Outcome::kBlocked || unlisted.outcome == Outcome::kBlocked) {
      h.status = HealthStatus::kBlocked;
      h.detail = listed.outcome == Outcome::kBlocked ? listed_q + ": " + listed.detail
                                                     : unlisted_q + ": " + unlisted.detail;
    } else if (listed.outcome == Outcome::kNotChecked || unlisted.outcome == Outcome::kNotChecked) {
      h.status = HealthStatus::kUnreachable;
      h.detail = listed.outcome == Outcome::kNotChecked ? listed_q + ": " + listed.detail
                                                        : unlisted_q + ": " + unlisted.detail;
    } else if (unlisted.outcome == Outcome::kListed) {
      h.status = HealthStatus::kListsEverything;
      h.detail = unlisted_q + " is listed; RFC 5782 §5 requires it not to be";
    } else if (listed.outcome != Outcome::kListed) {
      h.status = HealthStatus::kTestPointNotListed;
      h.detail = listed_q + " is not listed; RFC 5782 §5 requires it to be (wrong zone?)";
    } else {
      h.status = HealthStatus::kOk;
    }
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace mailsift::dnsbl
