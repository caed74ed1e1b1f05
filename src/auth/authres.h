// mailsift::auth — Authentication-Results (RFC 8601) rendering and our authserv-id's defence.
//
// Owns: turning method results (spf, dkim, dmarc, arc, iprev, dnsbl) into one
// Authentication-Results header value, and recognising incoming Authentication-Results fields that
// claim our authserv-id (forged by definition: only mailsiftd writes them here; RFC 8601 §5 says
// to remove or rename them).
//
// Failure semantics: pure functions; malformed incoming headers are simply "not ours" (kept), and
// rendering never fails (values that are not RFC 5322 tokens are quoted).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsift::auth {

// One "method=result (comment) ptype.property=value ..." resinfo.
struct MethodResult {
  std::string method;   // "spf", "dkim", "dmarc", "arc", "iprev", "dnsbl"
  std::string result;   // RFC 8601 result name: pass, fail, none, temperror, ...
  std::string reason;   // free text, rendered as reason="..." (may be empty)
  std::string comment;  // rendered as (comment) after the result (may be empty)
  struct Property {
    std::string ptype;     // "smtp", "header", "policy", "body"
    std::string property;  // "mailfrom", "d", "from", ...
    std::string value;
  };
  std::vector<Property> properties;
};

// "mx.example.net; spf=pass smtp.mailfrom=a@b.example; dkim=pass header.d=b.example ..."
// With no results: "mx.example.net; none" (RFC 8601 §2.2).
std::string render_authentication_results(std::string_view authserv_id,
                                          const std::vector<MethodResult>& results);

// The authserv-id of an Authentication-Results header value ("" when it has none), skipping
// leading CFWS and an optional version ("id 1; ...").
std::string authserv_id_of(std::string_view header_value);

// Whether an incoming Authentication-Results header claims `authserv_id` (case-insensitive):
// such a header is forged and must be removed before we add ours.
bool claims_authserv_id(std::string_view header_value, std::string_view authserv_id);

}  // namespace mailsift::auth
