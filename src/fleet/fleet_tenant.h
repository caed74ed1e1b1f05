// mailsift::fleet (tenant/feedback part) — PostgreSQL backends for the tenant store
// (tenant::TenantStore: resellers, domains, users, policies, block/allow lists, API keys) and the
// feedback store (feedback::FeedbackStore: reports, reporter/sender/correction counters,
// consent), so a fleet's durable tenant, policy, consent and feedback data is shared by every
// node; and the factories that pick them from configuration. docs/fleet-tenants.md.
//
// Owns: the two backends (tables tenant_* / feedback_* in postgres.schema, each with its own
// versioned forward-only migrations, run on open; pg_migrate.h) and tenant.backend /
// feedback.backend.
//
// Failure semantics: as fleet.h — a server down, refusing or slower than postgres.timeout_ms is
// kTemporary (the next call reconnects), never an exception; a database migrated by a newer
// mailsift is kConfig at open; the interfaces' kPermanent/kMalformed cases are unchanged.
// Separate from fleet.h so that users of the learned store / decision log do not link the tenant
// and feedback modules.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/result.h"
#include "feedback/feedback.h"
#include "fleet/fleet.h"
#include "tenant/tenant.h"

namespace mailsift::fleet {

Result<std::unique_ptr<tenant::TenantStore>> open_postgres_tenant_store(
    const PostgresOptions& options);
Result<std::unique_ptr<feedback::FeedbackStore>> open_postgres_feedback_store(
    const PostgresOptions& options);

// Schema versions the backends migrate to (tenant_/feedback_schema_migrations.version).
int postgres_tenant_schema_version();
int postgres_feedback_schema_version();

// The scan path's reads (reseller, domain, user, policy, list entries) kept for ttl_ms
// (tenant.cache_ms): another node's change is seen up to ttl_ms late, this object's own writes at
// once (every write clears the cache). API keys are never cached. now_ms: a monotonic clock in ms.
std::unique_ptr<tenant::TenantStore> cache_tenant_store(std::unique_ptr<tenant::TenantStore> inner,
                                                        int ttl_ms,
                                                        std::function<int64_t()> now_ms);

// tenant.backend = sqlite (tenant.file in data_dir) | postgres (postgres.*);
// feedback.backend = sqlite (feedback.db in data_dir) | postgres (postgres.*). kConfig otherwise.
// tenant.cache_ms > 0 wraps the tenant store in cache_tenant_store.
Result<std::unique_ptr<tenant::TenantStore>> open_configured_tenant_store(
    const Config& config, const std::string& data_dir);
Result<std::unique_ptr<feedback::FeedbackStore>> open_configured_feedback_store(
    const Config& config, const std::string& data_dir);

}  // namespace mailsift::fleet
