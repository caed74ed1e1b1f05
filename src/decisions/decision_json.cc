#include "decisions/decision_json.h"

#include <fmt/format.h>

#include "decisions/timezone.h"

namespace mailsift::decisions {
namespace {

nlohmann::json recipient_to_json(const RecipientDecision& r) {
  nlohmann::json symbols = nlohmann::json::array();
  for (const SymbolHit& s : r.symbols)
    symbols.push_back({{"name", s.name}, {"score", s.score}});
  return {{"address", r.address},         {"user", r.user},   {"domain", r.domain},
          {"reseller", r.reseller},       {"score", r.score}, {"action", r.action},
          {"smtp_reply", r.smtp_reply},   {"stage", r.stage}, {"policy_source", r.policy_source},
          {"symbols", std::move(symbols)}};
}

// Typed reads that name the field on a type mismatch.
class Reader {
 public:
  Reader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}
  bool get(const char* key, std::string& out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return true;
    if (!it->is_string())
      return fail(key, "a string");
    out = it->get<std::string>();
    return true;
  }
  bool get(const char* key, double& out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return true;
    if (!it->is_number())
      return fail(key, "a number");
    out = it->get<double>();
    return true;
  }
  bool get(const char* key, int64_t& out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return true;
    if (!it->is_number_integer())
      return fail(key, "an integer");
    out = it->get<int64_t>();
    return true;
  }
  const nlohmann::json* array(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      return nullptr;
    if (!it->is_array()) {
      fail(key, "an array");
      return nullptr;
    }
    return &*it;
  }
  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  bool fail(const char* key, const char* type) {
    if (error_.empty())
      error_ = fmt::format("{}{} must be {}", where_, key, type);
    return false;
  }

 private:
  const nlohmann::json& j_;
  std::string where_;
  std::string error_;
};

}  // namespace

nlohmann::json decision_to_json(const Decision& d) {
  nlohmann::json recipients = nlohmann::json::array();
  for (const RecipientDecision& r : d.recipients)
    recipients.push_back(recipient_to_json(r));
  return {{"id", d.id},
          {"time_unix_ms", d.time_unix_ms},
          {"time_utc", format_utc_iso(d.time_unix_ms)},
          {"node", d.node},
          {"direction", d.direction},
          {"queue_id", d.queue_id},
          {"message_id", d.message_id},
          {"client_ip", d.client_ip},
          {"helo", d.helo},
          {"mail_from", d.mail_from},
          {"auth_user", d.auth_user},
          {"subject", d.subject},
          {"digest", d.digest},
          {"elapsed_us", d.elapsed_us},
          {"errors", d.errors},
          {"recipients", std::move(recipients)}};
}

Result<Decision> decision_from_json(const nlohmann::json& j) {
  if (!j.is_object())
    return Error::malformed("a decision must be a JSON object");
  Decision d;
  Reader r(j, "");
  r.get("id", d.id);
  r.get("time_unix_ms", d.time_unix_ms);
  r.get("node", d.node);
  r.get("direction", d.direction);
  r.get("queue_id", d.queue_id);
  r.get("message_id", d.message_id);
  r.get("client_ip", d.client_ip);
  r.get("helo", d.helo);
  r.get("mail_from", d.mail_from);
  r.get("auth_user", d.auth_user);
  r.get("subject", d.subject);
  r.get("digest", d.digest);
  r.get("elapsed_us", d.elapsed_us);
  if (!r.has("time_unix_ms") && r.has("time_utc")) {
    std::string text;
    if (r.get("time_utc", text)) {
      auto t = parse_time(text, "UTC");
      if (!t)
        return Error::malformed("time_utc: " + t.error().message);
      d.time_unix_ms = *t;
    }
  }
  if (const auto* errors = r.array("errors")) {
    for (const auto& e : *errors) {
      if (!e.is_string())
        return Error::malformed("errors must be strings");
      d.errors.push_back(e.get<std::string>());
    }
  }
  if (const auto* recipients = r.array("recipients")) {
    for (size_t i = 0; i < recipients->size(); ++i) {
      const auto& rj = (*recipients)[i];
      if (!rj.is_object())
        return Error::malformed(fmt::format("recipients[{}] must be an object", i));
      RecipientDecision rd;
      Reader rr(rj, fmt::format("recipients[{}].", i));
      rr.get("address", rd.address);
      rr.get("user", rd.user);
      rr.get("domain", rd.domain);
      rr.get("reseller", rd.reseller);
      rr.get("score", rd.score);
      rr.get("action", rd.action);
      rr.get("smtp_reply", rd.smtp_reply);
      rr.get("stage", rd.stage);
      rr.get("policy_source", rd.policy_source);
      if (const auto* symbols = rr.array("symbols")) {
        for (size_t k = 0; k < symbols->size(); ++k) {
          const auto& sj = (*symbols)[k];
          SymbolHit hit;
          Reader sr(sj, fmt::format("recipients[{}].symbols[{}].", i, k));
          if (!sj.is_object())
            return Error::malformed(
                fmt::format("recipients[{}].symbols[{}] must be an object", i, k));
          sr.get("name", hit.name);
          sr.get("score", hit.score);
          if (!sr.ok())
            return Error::malformed(sr.error());
          rd.symbols.push_back(std::move(hit));
        }
      }
      if (!rr.ok())
        return Error::malformed(rr.error());
      d.recipients.push_back(std::move(rd));
    }
  }
  if (!r.ok())
    return Error::malformed(r.error());
  return d;
}

}  // namespace mailsift::decisions
