// mailsift::support::SupportApi — the case lookup and explain-a-draft over HTTP.
//
//   GET  /api/v1/case?reseller=R&user=U&from=S&to=T&at=2026-11-27%2010:15&tz=America/Toronto
//        [&window=30m]                       -> support::case_json
//   POST /api/v1/explain-draft?user=U[&reseller=R]   body: the message -> support::draft_json
//
// Authentication: `Authorization: Bearer <key>` with the tenant API keys (tenant::authenticate).
// An admin key may look up any reseller; a reseller key only its own (403 for another reseller,
// or a draft for another reseller's user). Paths it does not own go to `next` (chained like
// feedback::FeedbackApi before tenant::TenantApi).
// Status codes: 200; 400 bad parameter (time, zone, window, missing user); 401 missing/unknown
// key; 403 another reseller; 405 wrong method; 503 a store cannot be read. Errors:
// {"error":{"kind","message"}} like the rest of the native API.
// Failure semantics: handle() never throws. Read-only: nothing is logged, learned or counted.
// SECURITY: parameters and body are untrusted; they only reach the read paths of the stores and
// the scanner (which parses untrusted mail by design).
#pragma once

#include "http/api_extension.h"
#include "support/support.h"

namespace mailsift::support {

struct SupportApiOptions {
  decisions::DecisionLog* log = nullptr;
  tenant::TenantStore* tenants = nullptr;
  outbound::OutboundStore* outbound = nullptr;
  outbound::GuardConfig guard;
  tenant::PolicyDefaults policy_defaults;
  SymbolDescriptions symbols;
  std::function<int64_t()> now_ms;
  IpStateFn ip_state;
  std::vector<std::string> outbound_ips;
  RouteAtFn route_at;
  DraftScanFn draft_scan;  // empty: explain-draft answers 503
};

class SupportApi final : public http::ApiExtension {
 public:
  SupportApi(SupportApiOptions options, http::ApiExtension* next)
      : options_(std::move(options)), next_(next) {}
  bool handles(std::string_view path) const override;
  http::ApiReply handle(const http::ApiCall& call) override;

 private:
  http::ApiReply handle_unchecked(const http::ApiCall& call);
  SupportApiOptions options_;
  http::ApiExtension* next_;
};

}  // namespace mailsift::support
