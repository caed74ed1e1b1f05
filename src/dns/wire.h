// mailsift::dns wire parsing — DNS response packets (RFC 1035 §4) into the typed Answer.
//
// Owns: the one parser of untrusted DNS packets in mailsift. CaresResolver hands it the raw answer
// buffer c-ares received; it is a pure function so it can be fuzzed (dns_wire_fuzz) and tested on
// hand-made packets. c-ares' own per-type parsers are not used because they drop TTLs (MX, TXT,
// PTR), which the TTL cache needs, and do not report the negative-caching TTL from the SOA.
//
// Failure semantics: never reads outside the buffer and never throws. A packet that is truncated,
// has a compression loop, a name longer than 255 octets or an RR whose RDATA does not fit its type
// gives rcode kFormErr and no records. Unrelated RRs (other owners, other types) are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dns/resolver.h"

namespace mailsift::dns {

struct ParsedResponse {
  Answer answer;
  // NXDOMAIN/NODATA only: min(SOA TTL, SOA MINIMUM) from the authority section (RFC 2308 §5);
  // has_soa is false when the server sent no SOA (then the caller picks a default).
  uint32_t negative_ttl = 0;
  bool has_soa = false;
};

// Parses `len` bytes of a response to `query`. The answer holds the records of query.type owned
// by query.name or by a name reached from it through CNAMEs in the answer section (at most 16
// hops); asking for CNAME returns the CNAME target itself. answer.ttl is the smallest TTL of the
// records used, including the CNAMEs followed.
ParsedResponse parse_response(const uint8_t* data, size_t len, const Query& query);

// Lower case, trailing dots removed: the form names are compared and cached in.
std::string normalize_name(std::string_view name);

}  // namespace mailsift::dns
