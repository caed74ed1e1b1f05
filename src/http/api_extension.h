// mailsift::http::ApiExtension — a seam for JSON API endpoints owned by another component.
//
// Owns: nothing; it lets a component (src/tenant's management API) serve paths under /api/v1
// without the HTTP layer depending on it. The Handler asks each request whose path matches no
// built-in route whether the extension handles() it; if so the extension answers, with its own
// method checks and authentication, from plain values (no Beast types).
//
// Failure semantics: handle() must not throw (the Handler turns an exception into a 500
// anyway) and returns a complete reply: status and JSON body.
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
};

struct ApiReply {
  int status = 200;
  std::string body;  // JSON
};

class ApiExtension {
 public:
  virtual ~ApiExtension() = default;
  virtual bool handles(std::string_view path) const = 0;
  virtual ApiReply handle(const ApiCall& call) = 0;
};

}  // namespace mailsift::http
