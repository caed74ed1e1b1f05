// mailsift::http::Handler — one HTTP request in, one HTTP response out; no sockets.
//
// Owns: routing, the checks every endpoint makes (method, body present, controller password),
// calling the ScanBackend, the status code for each outcome, and counting into Metrics. The
// server (http_server.h) owns the connection; tests and the fuzzer call handle() directly.
//
// Status codes: 200 ok; 208 Rspamd "already learned"; 400 malformed request or not mail;
// 403 wrong controller password; 404 unknown path; 405 wrong method (Allow says the right one);
// 422 permanent refusal; 500 configuration or internal error; 503 temporary failure (retry).
// Native errors are {"error":{"kind","message"}}; Rspamd endpoints answer {"error":"..."} as
// Rspamd does.
// Failure semantics: handle() never throws; anything a library throws becomes a 500.
// SECURITY: reads untrusted requests (see request.h for the bounds).
#pragma once

#include <boost/beast/http.hpp>
#include <string>

#include "http/api_extension.h"
#include "http/backend.h"
#include "http/metrics.h"
#include "http/request.h"

namespace mailsift::http {

using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct HandlerOptions {
  // When non-empty, learn/unlearn/fuzzy endpoints (native and Rspamd) require this value in a
  // `Password:` header (what `rspamc -P` sends) and answer 403 otherwise. Scans never need it.
  std::string controller_password;
  std::string server_header = "mailsift";
  // Optional: serves paths no built-in route knows (the tenant management API). Not owned;
  // must outlive the handler.
  ApiExtension* extension = nullptr;
};

// HTTP status for a backend error kind.
int status_for(ErrorKind kind);

class Handler {
 public:
  Handler(ScanBackend& backend, Metrics& metrics, HandlerOptions options = {});

  Response handle(const Request& request);

  // A response for a request the server could not parse or accept (400, 408, 413, 431, 503):
  // JSON error body, Connection: close.
  Response transport_error(int status, const std::string& message, unsigned version = 11);

 private:
  Response handle_unchecked(const Request& request);
  Response native_scan(const Request& request, const Target& target);
  Response native_learn(const Request& request, const Target& target, store::Class cls,
                        bool unlearn);
  Response rspamd_check(const Request& request);
  Response rspamd_learn(const Request& request, store::Class cls);
  Response rspamd_fuzzy(const Request& request, FuzzyOp op);
  Response health(const Request& request);
  Response bounce(const Request& request);

  bool password_ok(const Request& request) const;
  Response make(const Request& request, int status, std::string body,
                const char* content_type = "application/json");
  Response native_error(const Request& request, int status, ErrorKind kind,
                        const std::string& message);
  Response rspamd_error(const Request& request, int status, const std::string& message);

  ScanBackend& backend_;
  Metrics& metrics_;
  HandlerOptions options_;
};

}  // namespace mailsift::http
