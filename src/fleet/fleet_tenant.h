// mailsift::fleet (tenant/feedback part) — PostgreSQL backends for the tenant store
// (tenant::TenantStore: resellers, domains, users, policies, block/allow lists, API keys) and the
// feedback store (feedback::FeedbackStore: reports, reporter/sender/correction counters,
// consent), so a fleet's durable tenant, policy, consent and feedback data is shared by every
// node; and the factories that pick them from configuration. docs/fleet-tenants.md.
//
// Owns: the two backends (tables tenant_* / feedback_* in postgres.schema, each with its own
// versioned forward-only migrations, run on open; pg_migrate.h), tenant.backend /
// feedback.backend, and mailsiftd's in-memory replicas of what a scan reads from them (kept
// current from trigger-filled change tables, pg_changes.h; postgres.replica_poll_ms).
//
// Failure semantics: as fleet.h — a server down, refusing or slower than postgres.timeout_ms is
// kTemporary (the next call reconnects), never an exception; a database migrated by a newer
// mailsift is kConfig at open; the interfaces' kPermanent/kMalformed cases are unchanged. A
// replica answers its reads from memory while PostgreSQL is down (polls fail, are counted and
// logged); its writes fail as the backend's do.
// Separate from fleet.h so that users of the learned store / decision log do not link the tenant
// and feedback modules.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// ---- Replicas: the scan path's reads without a PostgreSQL round trip ----------------------
// (docs/fleet-tenants.md "Replicas"). Each node keeps the tables every scan reads in memory and
// applies the other nodes' changes from a change feed (pg_changes.h) every poll_ms.

// Where a node's feed read continues (a transaction id; see pg_changes.h).
struct FeedCursor {
  uint64_t from = 0;
};
// One changed row: topic "reseller" | "domain" | "user" (key: its id), "policy" | "list" (key:
// "<level number>:<id>"), "corrections" (key: the user).
struct ChangedKey {
  std::string topic, key;
  auto operator<=>(const ChangedKey&) const = default;
};

// Everything the tenant scan path reads, from one snapshot, and the feed position after it.
struct TenantImage {
  struct Policy {
    tenant::Level level = tenant::Level::kUser;
    std::string id;
    tenant::PolicyOverrides overrides;
  };
  std::vector<tenant::Reseller> resellers;
  std::vector<tenant::Domain> domains;
  std::vector<tenant::User> users;
  std::vector<Policy> policies;
  std::vector<tenant::ListEntry> entries;
  FeedCursor cursor;
};
// A tenant store a replica can be built on: a full image, and the keys changed since a cursor.
class ReplicableTenantStore : public tenant::TenantStore {
 public:
  virtual Result<TenantImage> load_image() = 0;
  // Advances `cursor` only when it returns Ok.
  virtual Result<std::vector<ChangedKey>> changes(FeedCursor& cursor) = 0;
  virtual Status prune_changes(int64_t older_than_s) = 0;
};
Result<std::unique_ptr<ReplicableTenantStore>> open_postgres_replicable_tenant_store(
    const PostgresOptions& options);

struct CorrectionsImage {
  std::vector<std::pair<std::string, feedback::Corrections>> users;
  FeedCursor cursor;
};
// The feedback scan path reads only corrections(user) (the user's threshold shift).
class ReplicableFeedbackStore : public feedback::FeedbackStore {
 public:
  virtual Result<CorrectionsImage> load_corrections() = 0;
  virtual Result<std::vector<ChangedKey>> changes(FeedCursor& cursor) = 0;
  virtual Status prune_changes(int64_t older_than_s) = 0;
};
Result<std::unique_ptr<ReplicableFeedbackStore>> open_postgres_replicable_feedback_store(
    const PostgresOptions& options);

struct ReplicaOptions {
  int poll_ms = 1000;  // 0: no background thread (tests call poll())
  // Feed rows are pruned after this; a node that has not read the feed for half of it reloads.
  int64_t retention_s = 86400;
  std::function<int64_t()> now_ms;  // monotonic ms; steady_clock when empty
};
struct ReplicaStats {
  int64_t polls = 0, poll_errors = 0, changes_applied = 0, reloads = 0;
  int64_t last_ok_ms = 0;  // now_ms() of the last successful poll or load
};

// The replica answers get_reseller/domain/user, get_policy and list_entries from memory and
// passes every other call (writes, listings, API keys, get_list_entry) to the source. Its own
// writes are applied at once (the written key is re-read after the write); other nodes' within
// poll_ms. While PostgreSQL is down the last image keeps answering (writes fail kTemporary as
// before). The initial load failing is the open's error.
class TenantReplica : public tenant::TenantStore {
 public:
  virtual Status poll() = 0;  // read the feed once and apply it (the background thread's step)
  virtual ReplicaStats stats() = 0;
};
Result<std::unique_ptr<TenantReplica>> replicate_tenant_store(
    std::unique_ptr<ReplicableTenantStore> source, ReplicaOptions options);

// corrections() from memory; everything else to the source (commit_report and forget_user then
// re-read the user's corrections).
class FeedbackReplica : public feedback::FeedbackStore {
 public:
  virtual Status poll() = 0;
  virtual ReplicaStats stats() = 0;
};
Result<std::unique_ptr<FeedbackReplica>> replicate_feedback_store(
    std::unique_ptr<ReplicableFeedbackStore> source, ReplicaOptions options);

// Prometheus text for the replicas among these stores (either may be null or not a replica):
// mailsift_replica_{polls,poll_errors,changes_applied,reloads}_total and
// mailsift_replica_last_ok_age_seconds, labelled replica="tenant"|"feedback". "" when none.
std::string replica_metrics(tenant::TenantStore* tenants, feedback::FeedbackStore* feedback);

// What the configured stores are opened for. kScanPath (mailsiftd): with a postgres backend and
// postgres.replica_poll_ms > 0 the store is a replica; kDirect (CLI): every read goes to the
// backend (a one-shot command would load the whole image for a few reads).
enum class StoreUse { kDirect, kScanPath };

// tenant.backend = sqlite (tenant.file in data_dir) | postgres (postgres.*);
// feedback.backend = sqlite (feedback.db in data_dir) | postgres (postgres.*). kConfig otherwise.
// tenant.cache_ms > 0 wraps the tenant store in cache_tenant_store (when it is not a replica).
Result<std::unique_ptr<tenant::TenantStore>> open_configured_tenant_store(
    const Config& config, const std::string& data_dir, StoreUse use = StoreUse::kDirect);
Result<std::unique_ptr<feedback::FeedbackStore>> open_configured_feedback_store(
    const Config& config, const std::string& data_dir, StoreUse use = StoreUse::kDirect);

}  // namespace mailsift::fleet
