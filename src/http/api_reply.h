// mailsift::http API-extension helpers: the JSON error reply and the Bearer credential, shared by
// every http::ApiExtension (src/tenant, src/feedback, src/doctor, src/support, src/ipwatch) so
// their error bodies and Authorization parsing cannot drift apart.
//
// Owns: the native error body {"error":{"kind":"<kind>","message":"<message>"}} and reading
// the key out of "Authorization: Bearer <key>". Which status an API sends for which failure
// stays with the API (its tests pin them); api_error(const Error&) is only the common mapping.
//
// Failure semantics: pure, never fails; messages are dumped with invalid UTF-8 replaced, never
// thrown on. Small target (mailsift_http_api: core + nlohmann_json), so the components link it
// without pulling in the Beast server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/api_extension.h"

namespace mailsift::http {

// {"error":{"kind":"temporary","message":"..."}}
std::string native_error_json(ErrorKind kind, const std::string& message);

// `status` with native_error_json(kind, message) as the body.
ApiReply api_error(int status, ErrorKind kind, const std::string& message);
// The common status of an Error: malformed 400, permanent `permanent_status` (422 "refused";
// an API where permanent means "no such object" passes 404), temporary 503, config 500.
ApiReply api_error(const Error& e, int permanent_status = 422);

// The key of an Authorization value "Bearer <key>" (scheme case-insensitive, RFC 7235; spaces
// before the key skipped); nullopt when the value is empty or another scheme.
std::optional<std::string_view> bearer_key(std::string_view authorization);

}  // namespace mailsift::http
