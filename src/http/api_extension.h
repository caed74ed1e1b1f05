// mailsift::http::ApiExtension — a seam for JSON API endpoints owned by another component.
//
// Owns: nothing; it lets a component (src/tenant's management API, src/console's HTML pages)
// serve paths the HTTP layer does not know without depending on it. The Handler asks each request
// whose path matches no built-in route whether the extension handles() it; if so the extension
// answers, with its own method checks and authentication, from plain values (no Beast types).
//
// Failure semantics: handle() must not throw (the Handler turns an exception into a 500
// anyway) and returns a complete reply: status, body (JSON unless content_type says otherwise)
// and any extra headers (the console's Set-Cookie, Location, Cache-Control).
// Thread-safety: called from every io_context thread; implementations must be thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailsift::http {

struct ApiCall {
  std::string_view method;                                        // "GET", "POST", "DELETE", ...
  std::string_view path;                                          // without the query string
  const std::vector<std::pair<std::string, std::string>>& query;  // decoded, in order
  std::string_view authorization;  // the Authorization header value, "" when absent
  std::string_view body;
  std::string_view cookie = {};        // the Cookie header value, "" when absent
  std::string_view content_type = {};  // the Content-Type header value, "" when absent
};

struct ApiReply {
  int status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra response headers
};

class ApiExtension {
 public:
  virtual ~ApiExtension() = default;
  virtual bool handles(std::string_view path) const = 0;
  virtual ApiReply handle(const ApiCall& call) = 0;
};

}  // namespace mailsift::http
