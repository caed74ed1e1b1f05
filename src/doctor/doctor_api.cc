#include "doctor/doctor_api.h"

#include <nlohmann/json.hpp>

#include "dnsbl/domains.h"
#include "doctor/doctor.h"

namespace mailsift::doctor {
namespace {

constexpr std::string_view kPrefix = "/api/v1/doctor/";

http::ApiReply error(int status, ErrorKind kind, const std::string& message) {
  nlohmann::ordered_json j;
  j["error"] = {{"kind", to_string(kind)}, {"message", message}};
  return {status, j.dump()};
}

}  // namespace

bool DoctorApi::handles(std::string_view path) const {
  return path.starts_with(kPrefix) || (next_ != nullptr && next_->handles(path));
}

http::ApiReply DoctorApi::handle(const http::ApiCall& call) {
  if (!call.path.starts_with(kPrefix)) {
    if (next_ != nullptr)
      return next_->handle(call);
    return error(404, ErrorKind::kPermanent, "not found");
  }
  // Authentication before anything else: an unauthenticated caller learns nothing.
  std::string_view auth = call.authorization;
  constexpr std::string_view kBearer = "bearer ";
  std::string head(auth.substr(0, kBearer.size()));
  for (char& c : head)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (head != kBearer)
    return error(401, ErrorKind::kPermanent, "missing 'Authorization: Bearer <key>'");
  auth.remove_prefix(kBearer.size());
  while (!auth.empty() && auth.front() == ' ')
    auth.remove_prefix(1);
  auto who = tenant::authenticate(store_, auth);
  if (!who) {
    if (who.error().kind == ErrorKind::kTemporary)
      return error(503, ErrorKind::kTemporary, who.error().message);
    return error(401, ErrorKind::kPermanent, who.error().message);
  }
  if (call.method != "GET")
    return error(405, ErrorKind::kPermanent, "method not allowed; use GET");
  std::string domain = dnsbl::normalize_domain(call.path.substr(kPrefix.size()));
  if (domain.empty())
    return error(400, ErrorKind::kMalformed, "not a domain name");
  if (who->role != tenant::Role::kAdmin) {
    auto access = tenant::authorize(store_, *who, {tenant::Level::kDomain, domain});
    if (!access)
      return error(access.error().kind == ErrorKind::kTemporary ? 503 : 500, access.error().kind,
                   access.error().message);
    if (*access != tenant::Access::kAllowed)
      return error(403, ErrorKind::kPermanent,
                   "domain " + domain + " is not one of reseller " + who->reseller + "'s domains");
  }
  if (clusters_ == nullptr || resolver_ == nullptr)
    return error(500, ErrorKind::kConfig,
                 "the domain doctor is not configured (doctor.clusters_file)");
  Options options;
  for (const auto& [k, v] : call.query)
    if (k == "cluster")
      options.cluster = v;
  return {200, render_json(diagnose(*resolver_, *clusters_, domain, options))};
}

}  // namespace mailsift::doctor
