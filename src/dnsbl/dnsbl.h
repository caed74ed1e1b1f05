// mailsift::dnsbl — DNS blocklist lookups (RFC 5782) for client IPs, domains and URL domains, and
// the health check of each configured list.
//
// Owns: building the queries (reversed IPv4 octets / IPv6 nibbles, or the domain, under the list's
// zone), batching them through one Resolver::resolve_many call, and reading the answers the way
// RFC 5782 requires. Pure functions over the dns::Resolver interface: no state, no threads, no
// I/O of their own; the scan pipeline decides what to do with the results.
//
// Failure semantics (every outcome is data, nothing throws):
//   kListed      an A answer inside 127.0.0.0/8 (mapped through the list's return codes if any).
//   kNotListed   NXDOMAIN or NODATA; also answers that carry only return codes the list's code map
//                does not name (ignored, and said so in `detail`).
//   kNotChecked  a temporary DNS failure (SERVFAIL, timeout, unparseable answer) or an item that
//                cannot be asked (not an IP / not a host name / name too long): never "not listed".
//   kBlocked     the list refused to answer us: DNS REFUSED, Spamhaus' 127.255.255.252..255 error
//                codes (typo in zone, public/open resolver, excessive queries) or 127.0.0.1 (not a
//                valid listing per RFC 5782 §5; URIBL-style lists answer it to blocked resolvers).
//   kRewritten   an answer outside 127.0.0.0/8 (or not an address): the resolver rewrites answers
//                (NXDOMAIN redirection, filtering). Reported as a resolver problem, never a
//                listing.
// A mix of codes reads as the worst one: rewritten > blocked > listed.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/resolver.h"
#include "dnsbl/lists.h"

namespace mailsift::dnsbl {

enum class Outcome { kListed, kNotListed, kNotChecked, kBlocked, kRewritten };
const char* to_string(Outcome outcome);

struct Listing {
  std::string list;  // ListSpec::name
  std::string zone;
  std::string item;   // what was checked: the IP, the domain, or a URL's registrable domain
  std::string query;  // the DNS name asked, e.g. "2.0.0.127.zen.spamhaus.org"
  Outcome outcome = Outcome::kNotChecked;
  std::vector<std::string> codes;  // the A records answered, e.g. {"127.0.0.2", "127.0.0.4"}
  double score = 0;                // kListed: the highest score of the codes matched, else 0
  std::string name;                // kListed with a code map: matched code names, "SBL,XBL"
  std::string detail;              // why, for everything but a plain listing / non-listing
};

// Default bound on the items (domains, URL domains) checked per call: one message must not
// cost an unbounded number of queries. Items beyond it get no Listing.
inline constexpr size_t kMaxItems = 50;

// The client IP against every kIp list (IPv4 and IPv6) and kIp4 list (IPv4 only; an IPv6 client
// gets no Listing from it). IPv4-mapped IPv6 addresses are checked as IPv4. One Listing per list
// asked, in list order; an invalid IP gives kNotChecked for each list.
std::vector<Listing> check_ip(dns::Resolver& resolver, std::span<const ListSpec> lists,
                              std::string_view ip);

// Host names against every kDomain list, as given (normalised, duplicates removed). One Listing
// per (domain, list), domain-major.
std::vector<Listing> check_domains(dns::Resolver& resolver, std::span<const ListSpec> lists,
                                   std::span<const std::string> domains,
                                   size_t max_items = kMaxItems);

// URLs against every kUrl list: each URL's registrable domain (libpsl), or its IPv4 address
// reversed (SURBL-style) when the host is an IPv4 literal; duplicates removed. URLs without a
// usable host are skipped (no Listing). One Listing per (item, list), item-major.
std::vector<Listing> check_urls(dns::Resolver& resolver, std::span<const ListSpec> lists,
                                std::span<const std::string> urls, size_t max_items = kMaxItems);

// Reads one answer for `list` (pure; exposed for tests and for callers with their own queries).
Listing classify(const ListSpec& list, std::string item, std::string query,
                 const dns::Answer& answer);

enum class HealthStatus {
  kOk,                  // the listed test point is listed and the unlisted one is not
  kTestPointNotListed,  // 127.0.0.2 / "test" not listed: wrong zone, or the list skips RFC 5782
  kListsEverything,     // 127.0.0.1 / "invalid" listed: the zone answers every query
  kBlocked,             // the list refuses our resolver (REFUSED or an error code)
  kRewritten,           // answers outside 127.0.0.0/8: the resolver rewrites answers
  kUnreachable,         // temporary DNS failure: could not tell
};
const char* to_string(HealthStatus status);

struct Health {
  std::string list;
  std::string zone;
  HealthStatus status = HealthStatus::kUnreachable;
  std::string detail;
  bool ok() const { return status == HealthStatus::kOk; }
};

// RFC 5782 §5 test points, one batch for all lists: IP lists 2.0.0.127.ZONE must be listed and
// 1.0.0.127.ZONE must not; domain and URL lists TEST.ZONE must be listed and INVALID.ZONE must not.
// Run at start-up and periodically; a list that is not kOk should be reported, and its listings
// distrusted (kBlocked/kRewritten) or merely noted (kTestPointNotListed: some lists, e.g. DBL,
// use their own test names).
std::vector<Health> check_health(dns::Resolver& resolver, std::span<const ListSpec> lists);

}  // namespace mailsift::dnsbl
