#include "feedback/feedback_api.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/ascii.h"
#include "http/api_reply.h"
#include "mime/message.h"

namespace mailsift::feedback {
namespace {

using nlohmann::ordered_json;

// malformed 400, permanent 422, temporary 503, config 500.
http::ApiReply error_reply(const Error& e) {
  return http::api_error(e);
}

std::string param(const http::ApiCall& call, std::string_view name) {
  for (const auto& [k, v] : call.query)
    if (k == name)
      return v;
  return {};
}

// The first 128 bits of SHA-256 in hex: the limiter never holds a key's text, only this; a
// queued report is known by it.
std::string digest_hex(std::string_view key) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int k = 0; k < 16; ++k) {
    out += hex[md[k] >> 4];
    out += hex[md[k] & 0xf];
  }
  return out;
}

http::ApiReply too_many(const std::string& who, const RateLimiter& l, int64_t retry_after) {
  ordered_json j;
  j["error"] = {{"kind", "temporary"},
                {"message", "too many reports for " + who + ": at most " +
                                std::to_string(static_cast<int64_t>(l.per_minute())) +
                                " a minute (bursts of " + std::to_string(l.burst()) +
                                "); retry after " + std::to_string(retry_after) + " s"}};
  j["retry_after"] = retry_after;
  http::ApiReply reply{429, j.dump(), "application/json", {}};
  reply.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return reply;
}

}  // namespace

std::string response_json(const Response& r) {
  ordered_json j;
  j["kind"] = to_string(r.kind);
  j["digest"] = r.digest;
  if (!r.reference.empty())
    j["reference"] = r.reference;
  j["duplicate"] = r.duplicate;
  j["user_outcome"] = r.user_outcome;
  j["fingerprint_stored"] = r.fingerprint_stored;
  j["campaign_reporters"] = r.campaign_reporters;
  j["promoted_domain"] = r.promoted_domain;
  j["promoted_global"] = r.promoted_global;
  if (!r.promotion_note.empty())
    j["promotion_note"] = r.promotion_note;
  j["reporter_reliability"] = r.reporter_reliability;
  j["sender"] = r.sender;
  j["sender_blocked"] = r.sender_blocked;
  j["sender_allowed"] = r.sender_allowed;
  if (!r.list_note.empty())
    j["list_note"] = r.list_note;
  j["correction"] = r.correction;
  j["threshold_shift"] = r.threshold_shift;
  j["trusted_sender"] = r.trusted_sender;
  if (r.unsubscribe) {
    j["unsubscribe"] = {{"http", r.unsubscribe->http},
                        {"mailto", r.unsubscribe->mailto},
                        {"one_click", r.unsubscribe->one_click}};
  }
  j["consent"] = to_string(r.consent);
  j["prompt_consent"] = r.prompt_consent;
  j["shared"] = r.shared;
  // Tenant policy "learning enabled" (docs/feedback.md): where it is off, and what that meant.
  j["learning"] = {
      {"enabled", r.learning_enabled},
      {"off_at", r.learning_off_at.empty() ? nullptr : ordered_json(r.learning_off_at)},
      {"domain_enabled", r.domain_learning_enabled},
      {"domain_off_at",
       r.domain_learning_off_at.empty() ? nullptr : ordered_json(r.domain_learning_off_at)}};
  if (!r.learning_enabled)
    j["learning"]["note"] = "learning is off at " + r.learning_off_at +
                            ": the report is recorded, nothing was learned from it";
  return j.dump();
}

std::string user_state_json(const UserState& s) {
  ordered_json j;
  j["user"] = s.user;
  j["consent"] = to_string(s.consent);
  j["reports"] = s.spam_reports + s.ham_reports;
  j["spam_reports"] = s.spam_reports;
  j["ham_reports"] = s.ham_reports;
  j["reliability"] = s.reporter.reliability();
  j["missed_spam"] = s.corrections.missed_spam;
  j["false_positives"] = s.corrections.false_positive;
  j["threshold_shift"] = s.threshold_shift;
  return j.dump();
}

bool FeedbackApi::handles(std::string_view path) const {
  return path == "/api/v1/report/spam" || path == "/api/v1/report/ham" ||
         path == "/api/v1/report/user" || path == "/api/v1/consent" ||
         (next_ && next_->handles(path));
}

http::ApiReply FeedbackApi::handle(const http::ApiCall& call) {
  const std::string_view path = call.path;
  const bool ours = path == "/api/v1/report/spam" || path == "/api/v1/report/ham" ||
                    path == "/api/v1/report/user" || path == "/api/v1/consent";
  if (!ours) {
    if (next_)
      return next_->handle(call);
    return error_reply(Error::permanent("no such endpoint"));
  }
  const std::string user = ascii_lower(param(call, "user"));
  if (user.empty() || user.find('@') == std::string::npos)
    return error_reply(Error::malformed("parameter user=<mailbox address> is required"));
  if (path == "/api/v1/report/user") {
    if (call.method != "GET")
      return http::api_error(405, ErrorKind::kPermanent, "use GET");
    auto st = service_.user_state(user);
    if (!st)
      return error_reply(st.error());
    return {200, user_state_json(*st)};
  }
  if (call.method != "POST")
    return http::api_error(405, ErrorKind::kPermanent, "use POST");
  if (path == "/api/v1/consent") {
    auto c = parse_consent(param(call, "state"));
    if (!c)
      return error_reply(Error::malformed("state must be accepted, declined or unknown"));
    if (auto s = service_.set_consent(user, *c); !s)
      return error_reply(s.error());
    ordered_json j{{"user", user}, {"consent", to_string(*c)}};
    return {200, j.dump()};
  }
  if (limiter_ && limiter_->enabled()) {
    if (!call.authorization.empty()) {
      auto d = limiter_->take("key:" + digest_hex(call.authorization));
      if (!d.allowed)
        return too_many("this API key", *limiter_, d.retry_after_s);
    }
    auto d = limiter_->take("user:" + user);
    if (!d.allowed)
      return too_many(user, *limiter_, d.retry_after_s);
  }
  if (call.body.empty())
    return error_reply(Error::malformed("message body is missing"));
  Request req;
  req.user.user = user;
  req.user.domain = ascii_lower(param(call, "domain"));
  req.user.reseller = param(call, "reseller");
  req.kind = path == "/api/v1/report/spam" ? Kind::kSpam : Kind::kHam;
  req.raw = std::string(call.body);
  // A report by reference: the decision it names must have been for this user.
  if (log_) {
    auto parsed = mime::parse(req.raw);
    if (parsed) {
      if (const auto* h = parsed->header("X-Mailsift-Id"); h && !h->value.empty()) {
        decisions::Query q;
        q.id = h->value;
        q.limit = 1;
        auto found = log_->query(q);
        if (!found)
          return error_reply(found.error());
        if (!found->empty()) {
          bool mine = false;
          for (const auto& r : found->front().recipients)
            if (ascii_lower(r.address) == user || ascii_lower(r.user) == user)
              mine = true;
          if (!mine)
            return error_reply(Error::permanent("message reference " + h->value +
                                                " was not delivered to " + user));
        }
      }
    }
  }
  auto r = service_.report(req);
  if (!r && r.error().kind == ErrorKind::kTemporary && deferral_) {
    if (Status queued = deferral_(req); queued.ok()) {
      nlohmann::json j = {{"queued", true},
                          {"kind", req.kind == Kind::kSpam ? "spam" : "ham"},
                          {"user", req.user.user},
                          {"note", "the feedback store is unavailable (" + r.error().message +
                                       "); the report was queued and is applied when it is back"}};
      return {202, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
    }
  }
  if (!r)
    return error_reply(r.error());
  return {200, response_json(*r)};
}

std::string deferred_report_json(const Request& request) {
  std::string b64(4 * ((request.raw.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(request.raw.data()),
                                static_cast<int>(request.raw.size()));
  b64.resize(static_cast<size_t>(std::max(n, 0)));
  nlohmann::json j = {{"user", request.user.user},
                      {"domain", request.user.domain},
                      {"reseller", request.user.reseller},
                      {"kind", request.kind == Kind::kSpam ? "spam" : "ham"},
                      {"raw_b64", b64}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Request> deferred_report_from_json(std::string_view json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::malformed("deferred report: not a JSON object");
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
      return std::nullopt;
    return it->get<std::string>();
  };
  const auto user = text("user"), domain = text("domain"), reseller = text("reseller"),
             kind = text("kind"), raw = text("raw_b64");
  if (!user || !domain || !reseller || !kind || !raw || user->empty() ||
      (*kind != "spam" && *kind != "ham"))
    return Error::malformed("deferred report: missing or bad fields");
  Request r;
  r.user.user = *user;
  r.user.domain = *domain;
  r.user.reseller = *reseller;
  r.kind = *kind == "spam" ? Kind::kSpam : Kind::kHam;
  // EVP_DecodeBlock: strict base64 of whole quanta; its length counts the padding's zero bytes.
  if (raw->size() % 4 != 0)
    return Error::malformed("deferred report: the message is not base64");
  r.raw.resize(raw->size() / 4 * 3);
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(r.raw.data()),
                                reinterpret_cast<const unsigned char*>(raw->data()),
                                static_cast<int>(raw->size()));
  if (n < 0)
    return Error::malformed("deferred report: the message is not base64");
  const size_t padding = raw->ends_with("==") ? 2 : raw->ends_with("=") ? 1 : 0;
  r.raw.resize(static_cast<size_t>(n) - padding);
  return r;
}

std::string deferred_report_id(const Request& request) {
  return request.user.user + (request.kind == Kind::kSpam ? " spam " : " ham ") +
         digest_hex(request.raw);
}

}  // namespace mailsift::feedback
