// tenant.backend / feedback.backend: see fleet_tenant.h.
#include <filesystem>

#include "fleet/fleet_tenant.h"

namespace mailsift::fleet {

Result<std::unique_ptr<tenant::TenantStore>> open_configured_tenant_store(
    const Config& config, const std::string& data_dir) {
  const std::string& backend = config.get_string("tenant.backend");
  if (backend == "sqlite")
    return tenant::open_sqlite_tenant_store(
        (std::filesystem::path(data_dir) / config.get_string("tenant.file")).string());
  if (backend == "postgres")
    return open_postgres_tenant_store(postgres_options(config));
  return Error::config("tenant.backend: unknown backend '" + backend + "' (sqlite, postgres)");
}

Result<std::unique_ptr<feedback::FeedbackStore>> open_configured_feedback_store(
    const Config& config, const std::string& data_dir) {
  const std::string& backend = config.get_string("feedback.backend");
  if (backend == "sqlite")
    return feedback::open_sqlite_store((std::filesystem::path(data_dir) / "feedback.db").string());
  if (backend == "postgres")
    return open_postgres_feedback_store(postgres_options(config));
  return Error::config("feedback.backend: unknown backend '" + backend + "' (sqlite, postgres)");
}

}  // namespace mailsift::fleet
