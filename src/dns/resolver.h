// mailsift::dns — the narrow DNS interface every DNS-using check (SPF, DKIM, DMARC, ARC, iprev,
// DNS blocklists) is written against.
//
// Owns: the query/answer types and the Resolver interface. The production implementation is
// CaresResolver (c-ares, servers with ports from config, TTL cache, bounded concurrency,
// per-query timeout); tests inject FakeResolver (testing/fake_resolver.h) or point CaresResolver at
// a loopback unbound.
//
// Failure semantics: a lookup never throws. The DNS outcome is data (Rcode): NXDOMAIN and NODATA
// (kNoError with no records) are answers; kServFail, kRefused and kTimeout are temporary failures
// that callers must report (SPF temperror, DKIM temperror, DNSBL "not checked"), never read as "not
// listed". kFormErr covers answers the library could not parse (a broken record set).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::dns {

enum class RType : uint16_t {
  kA = 1,
  kNS = 2,
  kCNAME = 5,
  kPTR = 12,
  kMX = 15,
  kTXT = 16,
  kAAAA = 28,
};

enum class Rcode {
  kNoError,   // records may still be empty: NODATA
  kNxDomain,  // the name does not exist
  kServFail,  // upstream failure: temporary
  kRefused,   // the server refused (e.g. a public resolver blocked by a DNSBL): temporary
  kTimeout,   // no answer in time: temporary
  kFormErr,   // malformed answer or query: temporary from the caller's view
};

const char* to_string(RType type);
const char* to_string(Rcode rcode);

struct MxRecord {
  uint16_t preference = 0;
  std::string host;  // lower case, no trailing dot
};

struct Query {
  std::string name;  // no trailing dot needed
  RType type = RType::kA;
};

struct Answer {
  Rcode rcode = Rcode::kNoError;
  // A/AAAA: textual addresses ("192.0.2.1", "2001:db8::1"); TXT: one string per record with its
  // character-strings concatenated without separator (RFC 7208 §3.3, RFC 6376 §3.6.2.2);
  // PTR/CNAME/NS: names, lower case, no trailing dot. MX records are in `mx` instead.
  std::vector<std::string> records;
  std::vector<MxRecord> mx;
  uint32_t ttl = 0;  // smallest TTL of the answer (0 when unknown or negative)

  bool temporary_failure() const {
    return rcode == Rcode::kServFail || rcode == Rcode::kRefused || rcode == Rcode::kTimeout ||
           rcode == Rcode::kFormErr;
  }
  bool empty() const { return records.empty() && mx.empty(); }
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Resolves all queries concurrently (bounded by the implementation) and returns one Answer per
  // query, in order. Blocks the calling thread for at most the configured timeout (plus retries).
  virtual std::vector<Answer> resolve_many(std::span<const Query> queries) = 0;

  Answer resolve(std::string_view name, RType type) {
    Query q{std::string(name), type};
    return std::move(resolve_many(std::span<const Query>(&q, 1)).front());
  }
};

// "4.3.2.1" for "1.2.3.4"; nibble form for IPv6 ("b.a.9.8...."); "" if `ip` is not an address.
// Used for PTR (append "in-addr.arpa"/"ip6.arpa") and DNSBL queries (append the list's zone).
std::string reverse_ip(std::string_view ip);

}  // namespace mailsift::dns
