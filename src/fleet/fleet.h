// mailsift::fleet — shared-state backends for a fleet of mailsiftd nodes (issue 9):
// a Redis store::Store (learned token counts, learned-message records, fuzzy fingerprints) and a
// PostgreSQL decisions::DecisionLog (time-partitioned, versioned migrations, retention), and a
// PostgreSQL store::Store for installations that want one shared server only, and a Redis
// outbound::OutboundStore (sending counters shared across nodes).
//
// Owns: the backends, their connection handling (pools, connect/command timeouts,
// reconnect), and the factories that pick a backend from configuration (store.backend,
// decisions.backend, outbound.store.backend). Layout, schema and degraded mode: docs/fleet.md.
//
// Failure semantics: a server that is down, refuses, or does not answer within the configured
// timeout gives kTemporary from the call (never a hang beyond timeout + connect timeout, never a
// silent success); the next call reconnects. Bad addresses/DSNs are kConfig at open time only if
// they cannot be parsed; an unreachable server at open time is kTemporary.
// Thread-safety: both backends are safe to share between threads (connection pool inside).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "decisions/decisions.h"
#include "outbound/store.h"
#include "store/store.h"

namespace mailsift::fleet {

struct RedisOptions {
  // "redis://HOST:PORT[/DB]", "HOST:PORT" or "unix:/path/to/socket".
  std::string address = "redis://127.0.0.1:6379";
  int timeout_ms = 200;  // connect timeout and per-command read/write timeout
  int pool_size = 4;     // connections kept; callers beyond that wait up to timeout_ms
  // Prefix of every key (several stores / test cases can share one server).
  std::string prefix = "ms:";
  // Local mirror of large scopes (docs/fleet.md "Local mirror of large scopes"): scope keys
  // ("g:", "r:acme", "d:example.com") whose learned state each node keeps in memory, current to
  // the scope's change stream at every prefetch. Empty: no mirror.
  std::vector<std::string> mirror_scopes = {"g:"};
  int mirror_stream_max = 2000;           // XADD MAXLEN ~ of a mirrored scope's change stream
  int64_t mirror_max_tokens = 5'000'000;  // a scope with more token fields is not mirrored
};

// What the Redis store's mirrors did (zero for any other store, or a wrapped one).
struct RedisMirrorStats {
  uint64_t loads = 0;            // full loads (first use, and reloads)
  uint64_t reloads = 0;          // mirrors dropped: stream trimmed past them, missing, or bad entry
  uint64_t load_failures = 0;    // loads that failed (server error, too big)
  uint64_t entries_applied = 0;  // change-stream entries applied
  uint64_t served = 0;           // scope reads a prefetch answered from a mirror
  size_t scopes_ready = 0, token_fields = 0, records = 0, memory_bytes = 0;
};
RedisMirrorStats redis_mirror_stats(const store::Store& store);
// Prometheus text of those (mailsift_redis_mirror_*); "" when `store` is not the Redis store.
std::string redis_mirror_metrics(const store::Store& store);

Result<std::unique_ptr<store::Store>> open_redis_store(const RedisOptions& options);

// Redis outbound::OutboundStore: sending counters and recipient sets shared by every node, so a
// limit counts a user's messages wherever they were sent (keys under "<prefix>ob:", windows
// expire by TTL; docs/fleet.md "Outbound counters"). Every failure is kTemporary.
Result<std::unique_ptr<outbound::OutboundStore>> open_redis_outbound_store(
    const RedisOptions& options);

struct PostgresOptions {
  // libpq connection string ("host=127.0.0.1 port=5432 dbname=mailsift user=mailsift") or URI.
  std::string dsn = "host=127.0.0.1 port=5432 dbname=mailsift";
  int timeout_ms = 2000;  // connect timeout and per-statement timeout (client side + server side)
  int pool_size = 4;
  // Schema holding the tables (created if missing); tests use one per case.
  std::string schema = "mailsift";
  // Partition span of the decision log (days per partition; 1 = daily).
  int partition_days = 1;
  // How the decision log's record_batch writes a batch (one transaction either way). Not a
  // config parameter: mailsiftd always uses the default; kPerDecision (the write path before
  // the batch statements) exists for bench/pg_log_bench.cc's comparison and for the test that
  // checks both write identical rows.
  //   kArrays       a constant 4 statements per batch: the advisory locks of all its ids, the ids
  //                 already there, INSERT ... SELECT FROM unnest(column arrays) for the decisions,
  //                 the same for the recipients
  //   kPerDecision  record()'s 4 statements per decision
  enum class BatchWrite { kArrays, kPerDecision };
  BatchWrite batch_write = BatchWrite::kArrays;
};

Result<std::unique_ptr<decisions::DecisionLog>> open_postgres_log(const PostgresOptions& options);

// PostgreSQL store::Store (token counts upserted with ON CONFLICT, one transaction per learn;
// tables store_* beside the decision log, own store_schema_migrations).
Result<std::unique_ptr<store::Store>> open_postgres_store(const PostgresOptions& options);

// The schema version the PostgreSQL decision log migrates to (schema_migrations.version).
int postgres_log_schema_version();

// Options from configuration (redis.*, postgres.*).
RedisOptions redis_options(const Config& config);
PostgresOptions postgres_options(const Config& config);

// The store / decision log the configuration asks for: store.backend = sqlite (file
// store.file in data_dir) | memory | redis | postgres; decisions.backend = sqlite (decisions.db in
// data_dir) | memory | postgres. kConfig for an unknown backend.
Result<std::unique_ptr<store::Store>> open_configured_store(const Config& config,
                                                            const std::string& data_dir);
Result<std::unique_ptr<decisions::DecisionLog>> open_configured_log(const Config& config,
                                                                    const std::string& data_dir);
// The configured decision log for the support CLI (`mailsift log`, `mailsift case`): the SQLite
// file in data_dir only if it exists (never created; nullptr and *where = its path when it does
// not), the shared PostgreSQL log for decisions.backend = postgres (*where = its schema), nullptr
// for memory (a daemon's memory log is not readable from outside).
Result<std::unique_ptr<decisions::DecisionLog>> open_configured_log_for_reading(
    const Config& config, const std::string& data_dir, std::string* where);
// outbound.store.backend = sqlite (outbound.file in data_dir, group commit
// outbound.store.flush_ms) | memory | redis (redis.*). kConfig for an unknown backend.
Result<std::unique_ptr<outbound::OutboundStore>> open_configured_outbound_store(
    const Config& config, const std::string& data_dir);

}  // namespace mailsift::fleet
