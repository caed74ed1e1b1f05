// mailsift::dmarc — DMARC (RFC 7489): does the RFC5322.From domain's owner vouch for this mail
// through an aligned SPF or DKIM pass, and what does it ask us to do when not?
//
// Owns: record parsing (parse_record), policy discovery at _dmarc.<From domain> with fallback to
// the organisational domain from the Public Suffix List (libpsl), relaxed/strict identifier
// alignment, p/sp/np selection, pct sampling (random draw injected by the caller) and the
// resulting disposition; plus author_domain(), which extracts the From domain from the header.
// Not implemented: the DMARCbis DNS tree walk of RFC 9989/9990 (2026); the PSL-based
// organisational domain of RFC 7489 is used (see README.md).
//
// Failure semantics: nothing throws.
//   temperror  a DMARC TXT lookup failed temporarily (SERVFAIL/REFUSED/TIMEOUT/FORMERR): no
//              policy is applied; callers may tempfail or state it.
//   permerror  a record was found but cannot be used: several v=DMARC1 records at one name, or no
//              valid p= and no valid rua= to fall back on (§6.6.3); or the From domain is not a
//              usable domain name. No policy is applied.
//   none       no record at the From domain or its organisational domain.
// Invalid values of other tags are ignored in favour of defaults (§6.3), listed in `warnings`.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dns/resolver.h"
#include "spf/spf.h"

namespace mailsift::dmarc {

enum class Result { kNone, kPass, kFail, kTempError, kPermError };
enum class Policy { kNone, kQuarantine, kReject };
enum class Alignment { kRelaxed, kStrict };

// RFC 8601 result names ("none", "pass", "fail", "temperror", "permerror") and policy names
// ("none", "quarantine", "reject").
const char* to_string(Result result);
const char* to_string(Policy policy);

struct Record {
  Policy p = Policy::kNone;
  std::optional<Policy> sp;  // subdomains; defaults to p
  std::optional<Policy> np;  // non-existent subdomains (RFC 9091); defaults to sp, then p
  int pct = 100;
  Alignment adkim = Alignment::kRelaxed;
  Alignment aspf = Alignment::kRelaxed;
  std::vector<std::string> rua, ruf;  // valid URIs only (a "!size" suffix is kept)
  std::string fo = "0";
  std::string rf = "afrf";
  uint32_t ri = 86400;
  std::vector<std::string> warnings;  // tags ignored as invalid
};

// Parses one TXT record. Error (a permerror reason) when it is not a DMARC record ("v=DMARC1"
// first) or has no valid p= and no valid rua= (§6.6.3); a bad p= with a valid rua= reads as
// p=none.
mailsift::Result<Record> parse_record(std::string_view txt);

// True when the TXT record starts with the v=DMARC1 tag (what discovery filters on).
bool is_dmarc_record(std::string_view txt);

// The organisational domain (RFC 7489 §3.2) from the PSL: the registrable domain, or the domain
// itself when it is a public suffix or unknown to the list. Lower case, no trailing dot.
std::string organizational_domain(std::string_view domain);

struct DkimSignature {
  std::string domain;  // d= of the signature
  bool pass = false;   // verified
};

struct Input {
  std::string header_from_domain;  // RFC5322.From domain (see author_domain())
  spf::Result spf_result = spf::Result::kNone;
  std::string spf_domain;  // the domain SPF checked (MAIL FROM domain, or HELO for null sender)
  std::vector<DkimSignature> dkim;
  int random_draw = 0;  // uniform 0..99 from the caller: the message is sampled in when < pct
};

struct Outcome {
  Result result = Result::kNone;
  Policy policy = Policy::kNone;      // what the domain requests for failing mail (p/sp/np)
  std::string applied_policy_source;  // "p", "sp" or "np"; "" without a usable record
  int pct = 100;
  bool sampled_out = false;            // fail, but random_draw >= pct
  Policy disposition = Policy::kNone;  // what to do: policy on fail, one step lower when sampled
                                       // out (§6.6.4), none otherwise
  std::string aligned_via;             // "spf", "dkim" or "" (DKIM is preferred when both align)
  std::string record;                  // the TXT record used
  std::string record_domain;           // where it was found (From domain or org domain)
  std::string org_domain;
  std::string problem;  // why temperror/permerror/none
};

// Policy discovery and evaluation (RFC 7489 §6.6). DNS: TXT _dmarc.<From>, then TXT
// _dmarc.<org> when the first has no record; A/AAAA/MX of the From domain only when an np= could
// apply.
Outcome evaluate(dns::Resolver& resolver, const Input& input);

// The RFC5322.From author domain from the From header field values of a message (one entry per
// From field, unfolded or not). RFC 7489 §6.6.1 leaves messages with no or several From fields,
// or several author domains, to local policy; here they are errors the caller reports as DMARC
// permerror (or rejects):
//   - no From field, or no parsable address in it          → Error::malformed
//   - more than one From field                              → Error::malformed
//   - several addresses with different domains (or a domain literal) → Error::permanent
// Several addresses in the same domain give that domain. Display names, comments, quoted strings
// and group syntax are understood.
mailsift::Result<std::string> author_domain(std::span<const std::string> from_fields);

}  // namespace mailsift::dmarc
