// mailsift::doctor::DoctorApi — GET /api/v1/doctor/DOMAIN[?cluster=NAME] in mailsiftd, an
// http::ApiExtension chained in front of the previous extension (paths it does not own go there).
//
// Authentication: "Authorization: Bearer <tenant API key>" (src/tenant authenticate). An admin
// key may diagnose any domain; a reseller key only the domains of its own reseller (authorize()
// on the domain): anything else is 403, whether or not the domain is known. No or an unknown
// key: 401.
//
// Failure semantics: 200 with the report (render_json) whatever the findings say (a temporary
// DNS failure is a finding); 400 for a malformed domain; 405 for a method other than GET;
// 503 when the tenant store is temporarily unavailable; 500 when no clusters file is configured.
// Thread-safety: the resolver must be thread-safe (CaresResolver serialises its batches).
#pragma once

#include "dns/resolver.h"
#include "doctor/clusters.h"
#include "http/api_extension.h"
#include "tenant/tenant.h"

namespace mailsift::doctor {

class DoctorApi final : public http::ApiExtension {
 public:
  // `clusters` null: the doctor is not configured (doctor.clusters_file empty).
  DoctorApi(tenant::TenantStore& store, const Clusters* clusters, dns::Resolver* resolver,
            http::ApiExtension* next)
      : store_(store), clusters_(clusters), resolver_(resolver), next_(next) {}
  bool handles(std::string_view path) const override;
  http::ApiReply handle(const http::ApiCall& call) override;

 private:
  tenant::TenantStore& store_;
  const Clusters* clusters_;
  dns::Resolver* resolver_;
  http::ApiExtension* next_;
};

}  // namespace mailsift::doctor
