// tenant.backend / feedback.backend: see fleet_tenant.h.
#include <chrono>
#include <filesystem>

#include "fleet/fleet_tenant.h"

namespace mailsift::fleet {

namespace {

ReplicaOptions replica_options(const Config& config) {
  ReplicaOptions o;
  o.poll_ms = static_cast<int>(config.get_int("postgres.replica_poll_ms"));
  o.retention_s = config.get_int("postgres.changes_retention_s");
  return o;
}
bool replicated(const Config& config, StoreUse use) {
  return use == StoreUse::kScanPath && config.get_int("postgres.replica_poll_ms") > 0;
}

}  // namespace

Result<std::unique_ptr<tenant::TenantStore>> open_configured_tenant_store(
    const Config& config, const std::string& data_dir, StoreUse use) {
  const std::string& backend = config.get_string("tenant.backend");
  if (backend == "postgres" && replicated(config, use)) {
    auto source = open_postgres_replicable_tenant_store(postgres_options(config));
    if (!source)
      return source.error();
    auto replica = replicate_tenant_store(std::move(source).value(), replica_options(config));
    if (!replica)
      return replica.error();
    return std::unique_ptr<tenant::TenantStore>(std::move(replica).value());
  }
  Result<std::unique_ptr<tenant::TenantStore>> opened =
      Error::config("tenant.backend: unknown backend '" + backend + "' (sqlite, postgres)");
  if (backend == "sqlite")
    opened = tenant::open_sqlite_tenant_store(
        (std::filesystem::path(data_dir) / config.get_string("tenant.file")).string());
  else if (backend == "postgres")
    opened = open_postgres_tenant_store(postgres_options(config));
  const int64_t ttl = config.get_int("tenant.cache_ms");
  if (!opened || ttl <= 0)
    return opened;
  return cache_tenant_store(std::move(opened).value(), static_cast<int>(ttl), [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  });
}

Result<std::unique_ptr<feedback::FeedbackStore>> open_configured_feedback_store(
    const Config& config, const std::string& data_dir, StoreUse use) {
  const std::string& backend = config.get_string("feedback.backend");
  if (backend == "postgres" && replicated(config, use)) {
    auto source = open_postgres_replicable_feedback_store(postgres_options(config));
    if (!source)
      return source.error();
    auto replica = replicate_feedback_store(std::move(source).value(), replica_options(config));
    if (!replica)
      return replica.error();
    return std::unique_ptr<feedback::FeedbackStore>(std::move(replica).value());
  }
  if (backend == "sqlite")
    return feedback::open_sqlite_store((std::filesystem::path(data_dir) / "feedback.db").string());
  if (backend == "postgres")
    return open_postgres_feedback_store(postgres_options(config));
  return Error::config("feedback.backend: unknown backend '" + backend + "' (sqlite, postgres)");
}

}  // namespace mailsift::fleet
