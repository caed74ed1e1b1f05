// mailsift::fleet::pg — versioned forward-only schema migrations, shared by every PostgreSQL
// backend (decision log, learned store, tenant store, feedback store).
//
// Owns: one migration run. In one transaction, under a transaction-level advisory lock (so nodes
// starting together migrate once): create the schema if missing, create the version table if
// missing, read max(version), refuse a database newer than this binary, apply steps[v..] and
// record each version. Each backend has its own version table, so their schemas evolve apart.
//
// Failure semantics: a database newer than this binary is kConfig ("upgrade mailsift"); a
// connection or server failure is whatever pg::Connection::exec returned (kTemporary for a
// dropped connection); the transaction is rolled back, nothing is half-applied.
#pragma once

#include <span>
#include <string>

#include "core/result.h"
#include "fleet/pg_conn.h"

namespace mailsift::fleet::pg {

struct MigrationSet {
  std::string what;      // for messages: "decision log", "tenant store", ...
  std::string table;     // version table: schema_migrations, tenant_schema_migrations, ...
  std::string lock_key;  // bigint literal for pg_advisory_xact_lock
  std::span<const char* const> steps;  // steps[i] takes version i to i + 1
  int version() const { return static_cast<int>(steps.size()); }
};

// Runs the migrations of `set` on a connection from `pool`, in `schema`. The whole run may take
// up to 11 x timeout_ms (DDL on a busy server).
Status migrate_forward(Pool& pool, const std::string& schema, const MigrationSet& set);

}  // namespace mailsift::fleet::pg
