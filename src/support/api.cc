#include "support/api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/ascii.h"
#include "http/api_reply.h"
#include "tenant/api.h"
#include "tenant/list_entry.h"

namespace mailsift::support {
namespace {

constexpr std::string_view kCasePath = "/api/v1/case";
constexpr std::string_view kDraftPath = "/api/v1/explain-draft";

using http::api_error;

http::ApiReply error_reply(const Error& e) {
  const int status = e.kind == ErrorKind::kTemporary   ? 503
                     : e.kind == ErrorKind::kPermanent ? 422
                                                       : 400;
  return api_error(status, e.kind, e.message);
}

std::string param(const http::ApiCall& call, std::string_view name) {
  for (const auto& [k, v] : call.query) {
    if (k == name)
      return v;
  }
  return "";
}

}  // namespace

bool SupportApi::handles(std::string_view path) const {
  return path == kCasePath || path == kDraftPath || (next_ && next_->handles(path));
}

http::ApiReply SupportApi::handle(const http::ApiCall& call) {
  try {
    return handle_unchecked(call);
  } catch (const std::exception& e) {
    return api_error(500, ErrorKind::kTemporary, fmt::format("internal error: {}", e.what()));
  }
}

http::ApiReply SupportApi::handle_unchecked(const http::ApiCall& call) {
  if (call.path != kCasePath && call.path != kDraftPath) {
    if (next_)
      return next_->handle(call);
    return api_error(404, ErrorKind::kPermanent, "no such endpoint");
  }
  const bool is_case = call.path == kCasePath;
  if (call.method != (is_case ? "GET" : "POST"))
    return api_error(405, ErrorKind::kMalformed, fmt::format("use {}", is_case ? "GET" : "POST"));
  if (!options_.tenants || !options_.log)
    return api_error(503, ErrorKind::kTemporary, "support API: stores not configured");
  auto who = tenant::authenticate_bearer(*options_.tenants, call.authorization);
  if (!who)
    return tenant::refuse_unauthenticated(who.error());
  const std::string reseller = ascii_lower(param(call, "reseller"));
  const std::string user = param(call, "user");
  const bool restricted = who->role == tenant::Role::kReseller;
  if (restricted && !reseller.empty() && reseller != who->reseller)
    return api_error(
        403, ErrorKind::kPermanent,
        fmt::format("key of reseller {} may not look up reseller {}", who->reseller, reseller));
  if (restricted && !user.empty()) {
    auto access = tenant::authorize(*options_.tenants, *who,
                                    {tenant::Level::kUser, tenant::normalise_address(user)});
    if (!access)
      return error_reply(access.error());
    if (*access != tenant::Access::kAllowed)
      return api_error(403, ErrorKind::kPermanent,
                       fmt::format("user {} is not a mailbox of reseller {}", user, who->reseller));
  }

  if (is_case) {
    CaseQuery q;
    q.reseller = restricted ? who->reseller : reseller;
    q.user = user;
    q.from = param(call, "from");
    q.to = param(call, "to");
    q.at = param(call, "at");
    if (auto tz = param(call, "tz"); !tz.empty())
      q.tz = tz;
    if (auto w = param(call, "window"); !w.empty())
      q.window = w;
    CaseDeps deps{*options_.log, *options_.tenants};
    deps.outbound = options_.outbound;
    deps.guard = options_.guard;
    deps.policy_defaults = options_.policy_defaults;
    deps.symbols = &options_.symbols;
    deps.now_ms = options_.now_ms;
    deps.ip_state = options_.ip_state;
    deps.outbound_ips = options_.outbound_ips;
    deps.route_at = options_.route_at;
    auto rep = lookup_case(deps, q);
    if (!rep)
      return error_reply(rep.error());
    return {200, case_json(*rep).dump()};
  }

  if (!options_.draft_scan)
    return api_error(503, ErrorKind::kTemporary, "explain-draft: no scanner in this daemon");
  DraftDeps deps;
  deps.scan = options_.draft_scan;
  deps.outbound = options_.outbound;
  deps.guard = options_.guard;
  deps.symbols = &options_.symbols;
  deps.now_ms = options_.now_ms;
  auto rep = explain_draft(deps, user, restricted ? who->reseller : reseller, call.body);
  if (!rep)
    return error_reply(rep.error());
  return {200, draft_json(*rep).dump()};
}

}  // namespace mailsift::support
