#include "tenant/tenant_json.h"

#include <ctime>

namespace mailsift::tenant {

std::string iso8601(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json to_json(const Reseller& r) {
  return Json{{"id", r.id}, {"name", r.name}, {"created_at", r.created_at}};
}
Json to_json(const Domain& d) {
  return Json{{"name", d.name}, {"reseller", d.reseller}, {"created_at", d.created_at}};
}
Json to_json(const User& u) {
  return Json{{"address", u.address}, {"domain", u.domain}, {"created_at", u.created_at}};
}

Json to_json(const PolicyOverrides& p) {
  Json j = Json::object();
  j["spam_action"] = p.spam_action ? Json(to_string(*p.spam_action)) : Json(nullptr);
  j["spam_score"] = p.spam_score ? Json(*p.spam_score) : Json(nullptr);
  j["reject_score"] = p.reject_score ? Json(*p.reject_score) : Json(nullptr);
  j["learning_enabled"] = p.learning_enabled ? Json(*p.learning_enabled) : Json(nullptr);
  return j;
}

namespace {
template <typename T>
Json sourced(const T& value, const Provenance& from) {
  return Json{{"value", value}, {"level", to_string(from.level)}, {"id", from.id}};
}
}  // namespace

Json to_json(const EffectivePolicy& p) {
  Json j;
  j["user"] = p.user;
  j["domain"] = p.domain;
  j["reseller"] = p.reseller;
  j["spam_action"] = sourced(std::string(to_string(p.spam_action.value)), p.spam_action.from);
  j["spam_score"] = sourced(p.spam_score.value, p.spam_score.from);
  j["reject_score"] = sourced(p.reject_score.value, p.reject_score.from);
  j["learning_enabled"] = sourced(p.learning_enabled.value, p.learning_enabled.from);
  return j;
}

Json to_json(const ListEntry& e) {
  Json j;
  j["id"] = e.id;
  j["level"] = to_string(e.level);
  j["owner"] = e.owner;
  j["kind"] = to_string(e.kind);
  j["type"] = to_string(e.pattern.type);
  j["value"] = e.pattern.value;
  j["created_at"] = e.created_at;
  j["created_at_iso"] = iso8601(e.created_at);
  j["created_by"] = e.created_by;
  j["note"] = e.note;
  j["expires_at"] = e.expires_at ? Json(*e.expires_at) : Json(nullptr);
  return j;
}

Json to_json(const ListCheckResult& r) {
  Json j;
  j["verdict"] = r.verdict ? to_string(*r.verdict) : "none";
  j["deciding"] = nullptr;
  Json matches = Json::array();
  for (size_t i = 0; i < r.decision.matches.size(); ++i) {
    Json m = to_json(r.decision.matches[i].entry);
    m["matched"] = r.decision.matches[i].matched;
    if (r.decision.deciding && *r.decision.deciding == i)
      j["deciding"] = m;
    matches.push_back(std::move(m));
  }
  j["matches"] = std::move(matches);
  Json symbols = Json::array();
  for (const auto& s : r.symbols)
    symbols.push_back(Json{{"name", s.name}, {"score", s.score}, {"detail", s.detail}});
  j["symbols"] = std::move(symbols);
  return j;
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mailsift::tenant
