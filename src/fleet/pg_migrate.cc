// Forward-only migrations (pg_migrate.h).
#include "fleet/pg_migrate.h"

#include <cstdlib>

#include <fmt/format.h>

namespace mailsift::fleet::pg {

Status migrate_forward(Pool& pool, const std::string& schema, const MigrationSet& set) {
  auto lease = pool.checkout();
  if (!lease.ok())
    return lease.error();
  Connection& c = **lease;
  const auto until = pool.deadline() + std::chrono::milliseconds(10 * pool.timeout_ms());
  return transaction(c, until, [&]() -> Status {
    if (auto r = c.exec(fmt::format("SELECT pg_advisory_xact_lock({})", set.lock_key), until);
        !r.ok())
      return r.error();
    // The schema itself (search_path was set to it by the pool; it may not exist yet).
    auto quoted = c.exec("SELECT quote_ident($1)", {Param(schema)}, until);
    if (!quoted.ok())
      return quoted.error();
    if (auto r = c.exec(
            std::string("CREATE SCHEMA IF NOT EXISTS ") + PQgetvalue(quoted->get(), 0, 0), until);
        !r.ok())
      return r.error();
    if (auto r = c.exec(fmt::format("CREATE TABLE IF NOT EXISTS {}(version integer PRIMARY KEY, "
                                    "applied_at timestamptz NOT NULL DEFAULT now())",
                                    set.table),
                        until);
        !r.ok())
      return r.error();
    auto v = c.exec(fmt::format("SELECT coalesce(max(version), 0) FROM {}", set.table), until);
    if (!v.ok())
      return v.error();
    const int current = static_cast<int>(std::strtoll(PQgetvalue(v->get(), 0, 0), nullptr, 10));
    if (current > set.version())
      return Error::config(
          fmt::format("postgres {} schema is version {}, newer than this mailsift ({}): upgrade "
                      "mailsift",
                      set.what, current, set.version()));
    for (int step = current; step < set.version(); ++step) {
      if (auto r = c.exec(set.steps[step], until); !r.ok())
        return r.error();
      if (auto r = c.exec(fmt::format("INSERT INTO {}(version) VALUES($1)", set.table),
                          {Param(std::to_string(step + 1))}, until);
          !r.ok())
        return r.error();
    }
    return Ok{};
  });
}

}  // namespace mailsift::fleet::pg
