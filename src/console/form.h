// mailsift::console form and cookie parsing — what a browser sends the console.
//
// Owns: decoding application/x-www-form-urlencoded bodies, multipart/form-data bodies (the
// bounce upload) and Cookie headers into name/value pairs. Pure functions, no I/O.
//
// Failure semantics: errors are values. A bad %-escape, a multipart body without its boundary
// or with an unterminated part is kMalformed (the page shows the message); nothing throws.
// SECURITY: parses untrusted browser input; bounded by the HTTP server's body limit, at most
// kMaxFields fields are kept. Fuzzed by console_form_fuzz.cc.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace mailsift::console {

using Fields = std::vector<std::pair<std::string, std::string>>;
inline constexpr size_t kMaxFields = 256;

// First value of `name`, "" when absent.
std::string field(const Fields& fields, std::string_view name);

// "a=1&b=x+y%21" -> {{"a","1"},{"b","x y!"}}.
Result<Fields> parse_urlencoded(std::string_view body);

// multipart/form-data (RFC 7578): `content_type` carries the boundary. File parts keep their
// bytes; the part's field name is the key.
Result<Fields> parse_multipart(std::string_view body, std::string_view content_type);

// A form body by its Content-Type (urlencoded when absent).
Result<Fields> parse_form(std::string_view body, std::string_view content_type);

// "a=1; b=2" -> {{"a","1"},{"b","2"}} (values unquoted, not decoded; bad pairs skipped).
Fields parse_cookies(std::string_view header);

}  // namespace mailsift::console
