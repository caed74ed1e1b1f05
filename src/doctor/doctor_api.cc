#include "doctor/doctor_api.h"

#include "dnsbl/domains.h"
#include "doctor/doctor.h"
#include "http/api_reply.h"
#include "tenant/api.h"

namespace mailsift::doctor {
namespace {

constexpr std::string_view kPrefix = "/api/v1/doctor/";

using http::api_error;

}  // namespace

bool DoctorApi::handles(std::string_view path) const {
  return path.starts_with(kPrefix) || (next_ != nullptr && next_->handles(path));
}

http::ApiReply DoctorApi::handle(const http::ApiCall& call) {
  if (!call.path.starts_with(kPrefix)) {
    if (next_ != nullptr)
      return next_->handle(call);
    return api_error(404, ErrorKind::kPermanent, "not found");
  }
  // Authentication before anything else: an unauthenticated caller learns nothing.
  auto who = tenant::authenticate_bearer(store_, call.authorization);
  if (!who)
    return tenant::refuse_unauthenticated(who.error());
  if (call.method != "GET")
    return api_error(405, ErrorKind::kPermanent, "method not allowed; use GET");
  std::string domain = dnsbl::normalize_domain(call.path.substr(kPrefix.size()));
  if (domain.empty())
    return api_error(400, ErrorKind::kMalformed, "not a domain name");
  if (who->role != tenant::Role::kAdmin) {
    auto access = tenant::authorize(store_, *who, {tenant::Level::kDomain, domain});
    if (!access)
      return api_error(access.error().kind == ErrorKind::kTemporary ? 503 : 500,
                       access.error().kind, access.error().message);
    if (*access != tenant::Access::kAllowed)
      return api_error(
          403, ErrorKind::kPermanent,
          "domain " + domain + " is not one of reseller " + who->reseller + "'s domains");
  }
  if (clusters_ == nullptr || resolver_ == nullptr)
    return api_error(500, ErrorKind::kConfig,
                     "the domain doctor is not configured (doctor.clusters_file)");
  Options options;
  for (const auto& [k, v] : call.query)
    if (k == "cluster")
      options.cluster = v;
  return {200, render_json(diagnose(*resolver_, *clusters_, domain, options))};
}

}  // namespace mailsift::doctor
