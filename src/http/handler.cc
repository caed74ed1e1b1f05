#include "http/handler.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include <nlohmann/json.hpp>

#include "bounce/bounce.h"
#include "http/reply.h"

namespace mailsift::http {
namespace {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool is_rspamd_route(Route r) {
  switch (r) {
    case Route::kRspamdCheck:
    case Route::kRspamdLearnSpam:
    case Route::kRspamdLearnHam:
    case Route::kRspamdFuzzyAdd:
    case Route::kRspamdFuzzyDel:
    case Route::kPing:
      return true;
    default:
      return false;
  }
}

bool needs_password(Route r) {
  switch (r) {
    case Route::kLearnSpam:
    case Route::kLearnHam:
    case Route::kUnlearnSpam:
    case Route::kUnlearnHam:
    case Route::kRspamdLearnSpam:
    case Route::kRspamdLearnHam:
    case Route::kRspamdFuzzyAdd:
    case Route::kRspamdFuzzyDel:
      return true;
    default:
      return false;
  }
}

// Constant-time comparison: the password guards training, timing must not leak it.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// Rspamd fuzzy flags (fuzzy_check defaults): 1 denied (spam), 2 probable spam, 3 white-list.
store::Class fuzzy_class(const Request& request) {
  auto it = request.find("Flag");
  if (it != request.end() && it->value() == "3")
    return store::Class::kHam;
  return store::Class::kSpam;
}

}  // namespace

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kMalformed:
      return 400;
    case ErrorKind::kTemporary:
      return 503;
    case ErrorKind::kPermanent:
      return 422;
    case ErrorKind::kConfig:
      return 500;
  }
  return 500;
}

Handler::Handler(ScanBackend& backend, Metrics& metrics, HandlerOptions options)
    : backend_(backend), metrics_(metrics), options_(std::move(options)) {}

Response Handler::make(const Request& request, int status, std::string body,
                       const char* content_type) {
  Response res{static_cast<bhttp::status>(status), request.version()};
  res.set(bhttp::field::server, options_.server_header);
  res.set(bhttp::field::content_type, content_type);
  if (status == 503)
    res.set(bhttp::field::retry_after, "5");
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  metrics_.http_response(status);
  return res;
}

Response Handler::native_error(const Request& request, int status, ErrorKind kind,
                               const std::string& message) {
  return make(request, status, native_error_json(kind, message));
}

Response Handler::rspamd_error(const Request& request, int status, const std::string& message) {
  return make(request, status, rspamd_error_json(message));
}

Response Handler::transport_error(int status, const std::string& message, unsigned version) {
  Response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::server, options_.server_header);
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(false);
  ErrorKind kind = status >= 500 ? ErrorKind::kTemporary : ErrorKind::kMalformed;
  res.body() = native_error_json(kind, message);
  res.prepare_payload();
  metrics_.http_response(status);
  return res;
}

bool Handler::password_ok(const Request& request) const {
  if (options_.controller_password.empty())
    return true;
  auto it = request.find("Password");
  if (it == request.end())
    return false;
  return same_secret(std::string_view(it->value().data(), it->value().size()),
                     options_.controller_password);
}

Response Handler::handle(const Request& request) {
  try {
    return handle_unchecked(request);
  } catch (const std::exception& e) {
    return native_error(request, 500, ErrorKind::kConfig,
                        std::string("internal error: ") + e.what());
  } catch (...) {
    return native_error(request, 500, ErrorKind::kConfig, "internal error");
  }
}

Response Handler::handle_unchecked(const Request& request) {
  std::string_view raw_target(request.target().data(), request.target().size());
  auto target = parse_target(raw_target);
  if (!target.ok())
    return native_error(request, 400, ErrorKind::kMalformed, target.error().message);
  RouteMatch m = match_route(target->path);
  bool rspamd = is_rspamd_route(m.route);
  if (m.route == Route::kNotFound && options_.extension &&
      options_.extension->handles(target->path)) {
    auto auth = request.find(bhttp::field::authorization);
    std::string_view authorization =
        auth == request.end() ? std::string_view()
                              : std::string_view(auth->value().data(), auth->value().size());
    auto header = [&request](bhttp::field f) {
      auto it = request.find(f);
      return it == request.end() ? std::string_view()
                                 : std::string_view(it->value().data(), it->value().size());
    };
    ApiReply reply = options_.extension->handle(
        ApiCall{std::string_view(request.method_string().data(), request.method_string().size()),
                target->path, target->query, authorization, request.body(),
                header(bhttp::field::cookie), header(bhttp::field::content_type)});
    Response res = make(request, reply.status, std::move(reply.body), reply.content_type.c_str());
    for (const auto& [name, value] : reply.headers)
      res.insert(name, value);
    return res;
  }
  if (m.route == Route::kNotFound)
    return native_error(request, 404, ErrorKind::kPermanent, "no such endpoint: " + target->path);
  if (request.method() != m.method) {
    std::string allowed(bhttp::to_string(m.method));
    std::string message = "method not allowed; use " + allowed;
    Response res = rspamd ? rspamd_error(request, 405, message)
                          : native_error(request, 405, ErrorKind::kPermanent, message);
    res.set(bhttp::field::allow, allowed);
    return res;
  }
  if (needs_password(m.route) && !password_ok(request)) {
    return rspamd ? rspamd_error(request, 403, "unauthorized")
                  : native_error(request, 403, ErrorKind::kPermanent, "unauthorized");
  }
  if (m.method == bhttp::verb::post && request.body().empty()) {
    return rspamd ? rspamd_error(request, 400, "message body is missing")
                  : native_error(request, 400, ErrorKind::kMalformed, "message body is missing");
  }
  switch (m.route) {
    case Route::kScan:
      return native_scan(request, *target);
    case Route::kLearnSpam:
      return native_learn(request, *target, store::Class::kSpam, false);
    case Route::kLearnHam:
      return native_learn(request, *target, store::Class::kHam, false);
    case Route::kUnlearnSpam:
      return native_learn(request, *target, store::Class::kSpam, true);
    case Route::kUnlearnHam:
      return native_learn(request, *target, store::Class::kHam, true);
    case Route::kHealth:
      return health(request);
    case Route::kBounce:
      return bounce(request);
    case Route::kMetrics:
      return make(request, 200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
    case Route::kRspamdCheck:
      return rspamd_check(request);
    case Route::kRspamdLearnSpam:
      return rspamd_learn(request, store::Class::kSpam);
    case Route::kRspamdLearnHam:
      return rspamd_learn(request, store::Class::kHam);
    case Route::kRspamdFuzzyAdd:
      return rspamd_fuzzy(request, FuzzyOp::kAdd);
    case Route::kRspamdFuzzyDel:
      return rspamd_fuzzy(request, FuzzyOp::kRemove);
    case Route::kPing:
      return make(request, 200, "pong\r\n", "text/plain");
    case Route::kNotFound:
      break;
  }
  return native_error(request, 404, ErrorKind::kPermanent, "no such endpoint");
}

Response Handler::native_scan(const Request& request, const Target& target) {
  auto start = Clock::now();
  auto params = native_params(target, request);
  if (!params.ok())
    return native_error(request, 400, ErrorKind::kMalformed, params.error().message);
  server::ScanRequest scan_request{request.body(), params->envelope, params->recipients};
  auto outcome = backend_.scan(scan_request);
  double took = seconds_since(start);
  if (!outcome.ok()) {
    metrics_.error(Frontend::kHttp, outcome.error().kind);
    return native_error(request, status_for(outcome.error().kind), outcome.error().kind,
                        outcome.error().message);
  }
  metrics_.scan_finished(Frontend::kHttp, took);
  for (const auto& r : outcome->recipients)
    metrics_.recipient_action(Frontend::kHttp, r.verdict.action);
  return make(request, 200, native_scan_json(*outcome, took));
}

Response Handler::native_learn(const Request& request, const Target& target, store::Class cls,
                               bool unlearn) {
  auto params = native_params(target, request);
  if (!params.ok())
    return native_error(request, 400, ErrorKind::kMalformed, params.error().message);
  auto result = unlearn ? backend_.unlearn(request.body(), cls, params->learn_recipient)
                        : backend_.learn(request.body(), cls, params->learn_recipient);
  if (!result.ok()) {
    metrics_.error(Frontend::kHttp, result.error().kind);
    return native_error(request, status_for(result.error().kind), result.error().kind,
                        result.error().message);
  }
  metrics_.learned(cls, result->outcome);
  return make(request, 200, native_learn_json(*result, cls));
}

Response Handler::rspamd_check(const Request& request) {
  auto start = Clock::now();
  auto params = rspamd_params(request);
  if (!params.ok())
    return rspamd_error(request, 400, params.error().message);
  std::vector<std::string> recipients = params->recipients;
  // Deliver-To names the mailbox this copy is for: it must get a verdict of its own.
  if (!params->deliver_to.empty() &&
      std::find(recipients.begin(), recipients.end(), params->deliver_to) == recipients.end())
    recipients.push_back(params->deliver_to);
  server::ScanRequest scan_request{request.body(), params->envelope, std::move(recipients)};
  auto outcome = backend_.scan(scan_request);
  double took = seconds_since(start);
  if (!outcome.ok()) {
    metrics_.error(Frontend::kHttp, outcome.error().kind);
    return rspamd_error(request, status_for(outcome.error().kind), outcome.error().message);
  }
  metrics_.scan_finished(Frontend::kHttp, took);
  for (const auto& r : outcome->recipients)
    metrics_.recipient_action(Frontend::kHttp, r.verdict.action);
  return make(request, 200,
              rspamd_check_json(*outcome, *params, find_message_id(request.body()), took));
}

Response Handler::rspamd_learn(const Request& request, store::Class cls) {
  auto params = rspamd_params(request);
  if (!params.ok())
    return rspamd_error(request, 400, params.error().message);
  auto result = backend_.learn(request.body(), cls, params->learn_recipient);
  if (!result.ok()) {
    metrics_.error(Frontend::kHttp, result.error().kind);
    return rspamd_error(request, status_for(result.error().kind), result.error().message);
  }
  metrics_.learned(cls, result->outcome);
  if (result->outcome == store::LearnOutcome::kAlreadyLearned) {
    // Rspamd 3.4 (Redis learn cache): 208 with this text; clients treat it as "nothing to do".
    return rspamd_error(request, 208,
                        rspamd_already_learned_message(find_message_id(request.body()), cls));
  }
  return make(request, 200, R"({"success":true})");
}

Response Handler::rspamd_fuzzy(const Request& request, FuzzyOp op) {
  auto params = rspamd_params(request);
  if (!params.ok())
    return rspamd_error(request, 400, params.error().message);
  Status s = backend_.fuzzy(request.body(), fuzzy_class(request), params->learn_recipient, op);
  if (!s.ok()) {
    metrics_.error(Frontend::kHttp, s.error().kind);
    return rspamd_error(request, status_for(s.error().kind), s.error().message);
  }
  return make(request, 200, R"({"success":true})");
}

// Bounce diagnosis is pure parsing: no store, so it answers even when the backend is down.
Response Handler::bounce(const Request& request) {
  auto report = mailsift::bounce::parse(request.body());
  if (!report.ok())
    return native_error(request, status_for(report.error().kind), report.error().kind,
                        report.error().message);
  return make(request, 200, mailsift::bounce::to_json(*report));
}

Response Handler::health(const Request& request) {
  Status s = backend_.health();
  if (s.ok())
    return make(request, 200, R"({"status":"ok"})");
  nlohmann::ordered_json j;
  j["status"] = "unavailable";
  j["error"] = {{"kind", to_string(s.error().kind)}, {"message", s.error().message}};
  return make(request, 503, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace mailsift::http
