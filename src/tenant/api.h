// mailsift::tenant::TenantApi — the tenant management endpoints of the HTTP API.
//
// Owns: /api/v1/resellers, /domains, /users, /policy, /lists, /lists/check, /keys (docs/tenants.md
// has the request/response shapes): authentication (`Authorization: Bearer <key>`), authorization
// (a reseller key sees and changes only its own domains, users and their lists; an admin key
// everything), JSON body validation, and JSON replies. It plugs into the HTTP Handler as an
// http::ApiExtension (HandlerOptions::extension), so it holds no Beast types.
//
// Status codes: 200 ok; 201 created; 400 malformed body/parameter (JSON error names the
// field); 401 missing or unknown key; 403 the key's role may not do this (e.g. a reseller key
// creating resellers or domains for another reseller); 404 unknown object, or an object of
// another reseller (not distinguished, so names cannot be probed); 405 wrong method;
// 422 permanent refusal (duplicate, unknown parent); 503 store unavailable.
// Errors: {"error":{"kind":"malformed|permanent|temporary|config","message":"..."}}.
// Failure semantics: handle() never throws.
// SECURITY: reads untrusted request bodies and parameters; every value is validated before it
// reaches the store.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "http/api_extension.h"
#include "tenant/list_check.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {

// Called after a reseller, domain or user was removed (DELETE), with what went: mailsiftd purges
// the removed users' feedback state and what their reports taught (docs/tenants.md). Its JSON
// result is returned under "purged"; an error is reported there too (the removal stands).
using RemovalHook = std::function<Result<nlohmann::ordered_json>(const Removal&)>;

// authenticate() (tenant.h) of an HTTP Authorization value "Bearer <key>" (http::bearer_key): the
// one way the tenant, doctor and support APIs read their callers. kPermanent "missing
// 'Authorization: Bearer <key>'" when the value holds no Bearer key.
Result<Principal> authenticate_bearer(TenantStore& s, std::string_view authorization);
// The reply to a request whose authenticate_bearer() failed: 503 when the key store is
// unavailable (kTemporary, worth a retry), otherwise 401 with the error's message.
http::ApiReply refuse_unauthenticated(const Error& e);

class TenantApi final : public http::ApiExtension {
 public:
  TenantApi(TenantStore& store, PolicyDefaults defaults, ListCheckScores scores, Clock clock);
  bool handles(std::string_view path) const override;
  http::ApiReply handle(const http::ApiCall& call) override;
  void set_removal_hook(RemovalHook hook) { on_removed_ = std::move(hook); }

 private:
  http::ApiReply handle_unchecked(const http::ApiCall& call);
  // DELETE /resellers, /domains, /users and GET/DELETE /keys (end of api.cc).
  http::ApiReply handle_removal(const http::ApiCall& call, const Principal& who,
                                const std::string& path);
  RemovalHook on_removed_;
  TenantStore& store_;
  PolicyDefaults defaults_;
  ListCheckScores scores_;
  Clock clock_;
};

}  // namespace mailsift::tenant
