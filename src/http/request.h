// mailsift::http request-side parsing: routes, query strings, and the mapping from query
// parameters and Rspamd-style headers to a scan envelope.
//
// Owns: everything the HTTP layer reads from a request before it calls the backend. Pure
// functions over an already-parsed Beast request (Beast enforces the byte limits), so they are
// unit-tested and fuzzed (http_fuzz.cc) without sockets.
//
// Failure semantics: kMalformed with a message naming the offending parameter or header; the
// handler answers 400 with it.
// SECURITY: reads untrusted input (request target and header values). Work is bounded: at most
// kMaxQueryParams parameters, kMaxRecipients recipients, kMaxFieldBytes per value; control
// characters in addresses are refused; nothing is interpreted beyond splitting and decoding.
#pragma once

#include <boost/beast/http.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "scan/check.h"

namespace mailsift::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

inline constexpr size_t kMaxQueryParams = 256;
inline constexpr size_t kMaxRecipients = 1000;
inline constexpr size_t kMaxFieldBytes = 1024;

enum class Route {
  kNotFound,
  // Native API (JSON, /api/v1).
  kScan,
  kLearnSpam,
  kLearnHam,
  kUnlearnSpam,
  kUnlearnHam,
  kHealth,
  kMetrics,
  kBounce,  // /bounce, /api/v1/bounce: bounce diagnosis (no backend call)
  // Rspamd-compatible.
  kRspamdCheck,  // /checkv2, /check, /symbols
  kRspamdLearnSpam,
  kRspamdLearnHam,
  kRspamdFuzzyAdd,
  kRspamdFuzzyDel,
  kPing,
};

struct RouteMatch {
  Route route = Route::kNotFound;
  boost::beast::http::verb method = boost::beast::http::verb::get;  // the one method it accepts
  const char* name = "not_found";                                   // for logs
};
// `path` without the query string. Trailing "/" is not stripped (Rspamd does not either).
RouteMatch match_route(std::string_view path);

struct Target {
  std::string path;  // still percent-encoded as sent (routes are plain ASCII)
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order, repeats kept
};
// Splits "/path?a=1&b=%20x" and decodes the query ('+' is a space). Bad %-escapes are malformed.
Result<Target> parse_target(std::string_view target);

// What a scan or learn request says about the message's envelope.
struct RequestParams {
  scan::Envelope envelope;
  std::vector<std::string> recipients;  // envelope recipients, in order, "<>" stripped
  std::string deliver_to;               // Rspamd Deliver-To: the mailbox this copy is for
  std::string user;                     // Rspamd User / native user: SASL login
  std::string learn_recipient;          // whose scope a learn request writes to ("" = global)
};

// Native API: query parameters (ip, helo, from, rcpt (repeatable), queue_id or queue-id, user,
// deliver_to, outbound) override the Rspamd-style headers, which are read too. Invalid ip is
// malformed.
Result<RequestParams> native_params(const Target& target, const Request& request);
// Rspamd protocol: headers only (From, Rcpt (repeatable), IP, Helo, Queue-Id, User, Deliver-To;
// case-insensitive; unknown headers ignored). Like Rspamd, an unparsable IP is ignored.
Result<RequestParams> rspamd_params(const Request& request);

// Normalises one envelope address: trims blanks and one pair of angle brackets ("<>" -> "").
// Refuses control characters and values longer than kMaxFieldBytes.
Result<std::string> normalise_address(std::string_view value, std::string_view what);

// The Message-ID header of a raw message without angle brackets, "" when absent. Reads only
// the header block (bounded by the first empty line) and unfolds continuation lines.
std::string find_message_id(std::string_view raw);

}  // namespace mailsift::http
