// mailsift::feedback::FeedbackApi — the HTTP face of FeedbackService, plugged into mailsiftd's
// HTTP server through http::ApiExtension (the handler asks it about paths it does not know).
//
//   POST /api/v1/report/spam?user=U   body: the message as the user has it  -> Response JSON
//   POST /api/v1/report/ham?user=U
//   POST /api/v1/consent?user=U&state=accepted|declined|unknown
//   GET  /api/v1/report/user?user=U   -> the user's feedback state
// Optional domain= and reseller= name the user's tenant scopes. Paths it does not own go to
// `next` (the tenant API) when set.
//
// Over the report rate limit (feedback.rate_limit_*): 429 {"error":{"kind":"temporary",...}}
// with a Retry-After header (seconds).
// Failure semantics: kMalformed -> 400, kPermanent -> 422 (e.g. the message's X-Mailsift-Id
// belongs to another user's decision), kTemporary -> 503 (retry: nothing was counted), with
// {"error":{"kind","message"}} as the rest of the native API.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "decisions/decisions.h"
#include "feedback/feedback.h"
#include "feedback/rate_limit.h"
#include "http/api_extension.h"

namespace mailsift::feedback {

class FeedbackApi final : public http::ApiExtension {
 public:
  // `log` (optional) lets a report by reference be checked against the decision's recipients.
  FeedbackApi(FeedbackService& service, decisions::DecisionLog* log, http::ApiExtension* next)
      : service_(service), log_(log), next_(next) {}
  bool handles(std::string_view path) const override;
  http::ApiReply handle(const http::ApiCall& call) override;
  // Report storms (docs/feedback.md): report/spam and report/ham are limited per user and,
  // when the client sends Authorization, per key; over the limit: 429 with Retry-After,
  // nothing processed. The limiter must outlive the API.
  void set_rate_limiter(RateLimiter* limiter) { limiter_ = limiter; }
  // When a report fails with kTemporary (the feedback store is down), `deferral` may queue it
  // durably to be applied later (mailsiftd: the fleet replay queue); Ok = queued, and the
  // client gets 202 {"queued":true,...} instead of 503. Reports are idempotent by (user, digest,
  // kind), so a report queued and also retried by the client counts once.
  using Deferral = std::function<Status(const Request&)>;
  void set_deferral(Deferral deferral) { deferral_ = std::move(deferral); }

 private:
  FeedbackService& service_;
  decisions::DecisionLog* log_;
  http::ApiExtension* next_;
  RateLimiter* limiter_ = nullptr;
  Deferral deferral_;
};

// A report request as a replay queue keeps it: JSON {user, domain, reseller, kind, raw_b64}
// (the message base64: it may hold any bytes), and back (kMalformed for anything else).
std::string deferred_report_json(const Request& request);
Result<Request> deferred_report_from_json(std::string_view json);
// The queue's de-duplication key of a report: user, kind and a SHA-256 digest of the message.
std::string deferred_report_id(const Request& request);

std::string response_json(const Response& r);
std::string user_state_json(const UserState& s);

}  // namespace mailsift::feedback
