// mailsift::spf — Sender Policy Framework (RFC 7208): may this client IP send mail for the HELO
// name and the MAIL FROM domain?
//
// Owns: check_host() (RFC 7208 §4) for one identity, verify() (HELO first, then MAIL FROM, as §2.3
// and §2.4 recommend), and the Outcome that feeds symbols and Authentication-Results (RFC 8601
// result names via to_string()). The record grammar and macros live in record.h.
//
// Failure semantics: nothing throws and no error escapes as anything but an SPF result:
//   temperror  a DNS timeout, SERVFAIL, REFUSED or unparsable answer on a lookup that decides the
//              result (Outcome::problem says which). Callers tempfail or state it; never accept.
//   permerror  the domain's policy is broken: syntax error anywhere in the record, several SPF
//              records, more than 10 DNS-querying terms, more than 2 void lookups, an MX set over
//              10 names, include/redirect of a domain without a record.
// A malformed identity (single label, over-long or empty label, address literal) gives "none", as
// §4.3 says. All DNS goes through dns::Resolver; batches use resolve_many().
#pragma once

#include <cstdint>
#include <string>

#include "dns/resolver.h"

namespace mailsift::spf {

enum class Result { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };

// RFC 8601 / RFC 7208 §8 result names: "none", "neutral", "pass", "fail", "softfail", "temperror",
// "permerror".
const char* to_string(Result result);

struct Request {
  std::string client_ip;  // "192.0.2.1" or "2001:db8::1"; IPv4-mapped IPv6 is checked as IPv4
  std::string helo;       // HELO/EHLO argument as received
  std::string mail_from;  // MAIL FROM address without <>; "" is the null sender
  std::string receiver;   // our host name, for %{r} in explanations ("unknown" if empty)
  int64_t now = 0;        // unix time, for %{t}
};

// The SMTP envelope verify() checks is the same data.
using Envelope = Request;

// The default explanation when a fail has no usable exp= (RFC 7208 §6.2 leaves it local).
inline constexpr const char* kDefaultExplanation = "SPF fail: the sending host is not authorised";

struct Outcome {
  Result result = Result::kNone;
  std::string domain;       // the domain checked (MAIL FROM domain or HELO name)
  std::string identity;     // "mailfrom" or "helo"
  std::string mechanism;    // the term that matched, e.g. "-all", "include:_spf.example.com"; ""
                            // when none matched (default neutral) or on error
  std::string explanation;  // fail only: the expanded exp= text, else kDefaultExplanation
  std::string problem;      // why temperror/permerror/none (for logs and the verdict)
  int dns_lookups = 0;      // DNS-querying terms evaluated (limit 10, §4.6.4)
  int void_lookups = 0;     // lookups that returned NXDOMAIN or no records (limit 2)
};

// check_host() for the MAIL FROM identity: the domain of `mail_from`, or postmaster@<helo> when
// MAIL FROM is null (§2.4). A local part is "postmaster" when missing (§4.3).
Outcome check_host(dns::Resolver& resolver, const Request& request);

// check_host() for the HELO identity (§2.3): <sender> is postmaster@<helo>.
Outcome check_helo(dns::Resolver& resolver, const Request& request);

struct Verdict {
  Outcome mailfrom;  // the result to act on (identity "mailfrom")
  Outcome helo;      // kept for Authentication-Results (spf=... smtp.helo=...)
};

// HELO check, then MAIL FROM check (§2.3/§2.4). With a null MAIL FROM the MAIL FROM result is the
// HELO result (same domain, same sender), reported under identity "mailfrom" without re-querying.
Verdict verify(dns::Resolver& resolver, const Envelope& envelope);

}  // namespace mailsift::spf
