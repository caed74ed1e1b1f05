// mailsift migrate — copy the embedded SQLite store into the fleet backends (docs/fleet.md
// "Migrating from the embedded store"; logic in src/fleet/migrate.h).
//
//   mailsift migrate --from FILE.db... [--redis HOST:PORT] [--postgres CONNINFO] [--dry-run]
//
// Learned state (mailsift.db) and outbound state (outbound.db) go to Redis (redis.* settings,
// address from --redis), the decision log (decisions.db) to PostgreSQL (postgres.* settings, DSN
// from --postgres), tenants.db and feedback.db to the PostgreSQL tenant and feedback stores
// (src/fleet/migrate_tenant.h; same DSN). Prints the per-kind table (source, written, destination,
// status). Exit codes: 0 every kind verified equal (dry run: read and compared); 1 a verification
// mismatch; 2 usage / configuration error (unknown file, missing destination, bad address);
// 3 a server unavailable (what was written stays; re-running completes it).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::cli {

struct MigrateCliOptions {
  std::vector<std::string> from;
  std::string redis;
  std::string postgres;
  bool dry_run = false;
};

CLI::App* add_migrate_command(CLI::App& app, MigrateCliOptions& options);

int run_migrate_command(const MigrateCliOptions& options, const Config& config, std::ostream& out,
                        std::ostream& err);

}  // namespace mailsift::cli
