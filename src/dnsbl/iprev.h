// mailsift::dnsbl::check_iprev — the "iprev" authentication method (RFC 8601 §3): the client IP's
// PTR names, each confirmed by a forward A (IPv4) or AAAA (IPv6) lookup that returns the IP again.
//
// Owns: the lookup sequence and the mapping of DNS outcomes to the four iprev results. A pure
// function over dns::Resolver (two resolve_many batches: PTR, then every name's forward lookup).
//
// Failure semantics (RFC 8601 §3, results are data, nothing throws):
//   pass       some PTR name's forward lookup contains the IP; `name` is that name.
//   fail       PTR names exist but no forward lookup returned the IP (including NXDOMAIN/NODATA
//              for every name).
//   temperror  the PTR lookup, or a forward lookup that could have confirmed, failed temporarily
//              (SERVFAIL, REFUSED, timeout, unparseable answer).
//   permerror  no PTR data (NXDOMAIN or NODATA), or the input is not an IP address.
// At most `max_names` PTR names are tried (default 10, as RFC 7208 §5.5 does for SPF's ptr).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dns/resolver.h"

namespace mailsift::dnsbl {

enum class IprevStatus { kPass, kFail, kTempError, kPermError };
// "pass", "fail", "temperror", "permerror" (the Authentication-Results result names).
const char* to_string(IprevStatus status);

struct Iprev {
  IprevStatus status = IprevStatus::kPermError;
  std::string ip;                      // as checked (IPv4-mapped IPv6 checked as IPv4)
  std::string name;                    // pass: the confirmed name; otherwise the first PTR name
  std::vector<std::string> ptr_names;  // PTR answer, lower case, no trailing dot
  std::string detail;                  // why, for everything but pass
};

Iprev check_iprev(dns::Resolver& resolver, std::string_view ip, size_t max_names = 10);

}  // namespace mailsift::dnsbl
