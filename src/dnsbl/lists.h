// mailsift::dnsbl list specifications — which DNS blocklists to ask, how to read their answers,
// and what a listing scores.
//
// Owns: the ListSpec type and the parser of the `dnsbl.lists` config string (see README.md):
//
//   lists  = list *( ("," / newline) list )
//   list   = [ NAME "=" ] ZONE ":" KIND ":" SCORE [ ":" code *( ";" code ) ]
//   KIND   = "ip" (IPv4 and IPv6, zen-style) / "ip4" (IPv4 only) / "domain" (DBL-style)
//          / "url" (URIBL/SURBL-style, registrable domains of URLs)
//   code   = ADDR "=" CNAME [ "/" SCORE ]      exact answer, e.g. 127.0.0.4=XBL/5
//          / "&" BITS "=" CNAME [ "/" SCORE ]  any of the bits set in the answer's last octet
//
// e.g. "ZEN=zen.spamhaus.org:ip:4:127.0.0.2=SBL;127.0.0.4=XBL/5, dbl.spamhaus.org:domain:3".
//
// Failure semantics: parse_lists() returns a kConfig error naming the entry and what is wrong
// (unknown kind, bad zone, score not a number or beyond ±1000, a return code outside 127.0.0.0/8
// — such an answer would never count, see dnsbl.h — or a duplicate list name). It never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace mailsift::dnsbl {

enum class Kind { kIp, kIp4, kDomain, kUrl };
const char* to_string(Kind kind);

struct ReturnCode {
  bool mask = false;   // false: exact answer address; true: bit test on the last octet
  uint32_t value = 0;  // exact: IPv4 address in host order (inside 127.0.0.0/8); mask: bits 1..255
  std::string name;    // e.g. "SBL"
  std::optional<double> score;  // unset: the list's score
};

struct ListSpec {
  std::string name;  // unique; defaults to the zone
  std::string zone;  // lower case, no trailing dot
  Kind kind = Kind::kIp;
  double score = 0;
  std::vector<ReturnCode> codes;  // empty: every valid 127.0.0.0/8 answer is a listing
};

Result<std::vector<ListSpec>> parse_lists(std::string_view text);
// parse_lists(config "dnsbl.lists").
Result<std::vector<ListSpec>> lists_from_config(const Config& config);
// The canonical spec text of one list; parse_lists() of it gives the list back.
std::string to_string(const ListSpec& list);

}  // namespace mailsift::dnsbl
