// Backend choice from configuration: see fleet.h.
#include <filesystem>

#include "fleet/fleet.h"
#include "fleet/resilient.h"

namespace mailsift::fleet {

RedisOptions redis_options(const Config& config) {
  RedisOptions o;
  o.address = config.get_string("redis.address");
  o.timeout_ms = static_cast<int>(config.get_int("redis.timeout_ms"));
  o.pool_size = static_cast<int>(config.get_int("redis.pool_size"));
  if (o.pool_size == 0)  // fewer connections than scanning threads made scans queue for one
    o.pool_size = server_threads(config) + 1;
  o.prefix = config.get_string("redis.prefix");
  o.mirror_scopes.clear();
  const std::string& scopes = config.get_string("redis.mirror_scopes");
  for (size_t at = 0; at <= scopes.size();) {
    size_t comma = scopes.find(',', at);
    if (comma == std::string::npos)
      comma = scopes.size();
    std::string key = scopes.substr(at, comma - at);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    if (!key.empty())
      o.mirror_scopes.push_back(key);
    at = comma + 1;
  }
  o.mirror_stream_max = static_cast<int>(config.get_int("redis.mirror_stream_max"));
  o.mirror_max_tokens = config.get_int("redis.mirror_max_tokens");
  return o;
}

PostgresOptions postgres_options(const Config& config) {
  PostgresOptions o;
  o.dsn = config.get_string("postgres.dsn");
  o.timeout_ms = static_cast<int>(config.get_int("postgres.timeout_ms"));
  o.pool_size = static_cast<int>(config.get_int("postgres.pool_size"));
  o.schema = config.get_string("postgres.schema");
  o.partition_days = static_cast<int>(config.get_int("postgres.partition_days"));
  return o;
}

Result<std::unique_ptr<store::Store>> open_configured_store(const Config& config,
                                                            const std::string& data_dir) {
  const std::string& backend = config.get_string("store.backend");
  if (backend == "sqlite")
    return store::open_sqlite_store(
        (std::filesystem::path(data_dir) / config.get_string("store.file")).string());
  if (backend == "memory")
    return store::make_memory_store();
  if (backend == "redis")
    return open_redis_store(redis_options(config));
  if (backend == "postgres")
    return open_postgres_store(postgres_options(config));
  return Error::config("store.backend: unknown backend '" + backend +
                       "' (sqlite, memory, redis, postgres)");
}

Result<std::unique_ptr<decisions::DecisionLog>> open_configured_log(const Config& config,
                                                                    const std::string& data_dir) {
  const std::string& backend = config.get_string("decisions.backend");
  if (backend == "sqlite")
    return decisions::open_sqlite_log(
        (std::filesystem::path(data_dir) / decisions::kDecisionsFileName).string());
  if (backend == "memory")
    return decisions::make_memory_log();
  if (backend == "postgres")
    return open_postgres_log(postgres_options(config));
  return Error::config("decisions.backend: unknown backend '" + backend +
                       "' (sqlite, memory, postgres)");
}

Result<std::unique_ptr<decisions::DecisionLog>> open_configured_log_for_reading(
    const Config& config, const std::string& data_dir, std::string* where) {
  const std::string& backend = config.get_string("decisions.backend");
  if (backend == "postgres") {
    PostgresOptions o = postgres_options(config);
    *where = "PostgreSQL schema " + o.schema;
    return open_postgres_log(o);
  }
  if (backend == "sqlite") {
    const std::string path =
        (std::filesystem::path(data_dir) / decisions::kDecisionsFileName).string();
    *where = path;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      return std::unique_ptr<decisions::DecisionLog>();
    decisions::SqliteLogOptions o;
    o.create = false;
    return decisions::open_sqlite_log(path, o);
  }
  if (backend == "memory") {
    *where = "a memory log (decisions.backend = memory: kept inside mailsiftd only)";
    return std::unique_ptr<decisions::DecisionLog>();
  }
  return Error::config("decisions.backend: unknown backend '" + backend +
                       "' (sqlite, memory, postgres)");
}

Result<std::unique_ptr<outbound::OutboundStore>> open_configured_outbound_store(
    const Config& config, const std::string& data_dir) {
  const std::string& backend = config.get_string("outbound.store.backend");
  if (backend == "sqlite")
    return outbound::open_sqlite_store(
        (std::filesystem::path(data_dir) / config.get_string("outbound.file")).string(), 5000,
        static_cast<int>(config.get_int("outbound.store.flush_ms")));
  if (backend == "memory")
    return outbound::make_memory_store();
  if (backend == "redis") {
    auto opened = open_redis_outbound_store(redis_options(config));
    if (!opened)
      return opened.error();
    // A dead Redis costs ~0 per policy request after the first failure (docs/fleet.md).
    return wrap_outbound_with_breaker(std::move(opened).value(),
                                      static_cast<int>(config.get_int("fleet.breaker_ms")));
  }
  return Error::config("outbound.store.backend: unknown backend '" + backend +
                       "' (sqlite, memory, redis)");
}

}  // namespace mailsift::fleet
