// mailsift::fleet::pg — reading a change feed: a table that row triggers fill with the (topic,
// key) of every changed row, so a node can keep an in-memory replica of tables that every scan
// reads (tenant_replica.cc, feedback_replica.cc; docs/fleet-tenants.md "Replicas").
//
// Owns: the feed's cursor arithmetic. A change row carries the writing transaction's id
// (xid8, pg_current_xact_id()). A read takes the rows whose xid lies in [cursor, xmin) where
// xmin is the reading snapshot's xmin: every transaction below xmin has finished, so that set
// can no longer grow, and the next read continues at xmin. A sequence number would not do: a
// transaction can take number 10 and commit after number 11 was read, and 10 would be skipped.
// A full load taken in the same REPEATABLE READ snapshot as snapshot_xmin() plus the feed from
// that xmin therefore sees every committed change; some may be seen twice, so applying a change
// must be idempotent (replicas re-read the key's current value).
//
// Failure semantics: what pg::Connection::exec returns (kTemporary for a dropped connection or
// deadline); nothing is advanced on failure. A transaction that stays open anywhere on the
// server holds xmin back and delays (never loses) the changes after it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "fleet/fleet_tenant.h"
#include "fleet/pg_conn.h"

namespace mailsift::fleet::pg {

// BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY on c, body(), COMMIT (ROLLBACK on error).
// Each statement gets its own pool.deadline(): a full load may take longer than one timeout.
Status read_only_snapshot(Connection& c, Pool& pool, const std::function<Status()>& body);

// Inside read_only_snapshot: the snapshot's xmin, where a feed read after a full load in this
// snapshot starts.
Result<uint64_t> snapshot_xmin(Connection& c, Clock::time_point until);

// Inside read_only_snapshot: runs `select` through a cursor, `batch` rows per FETCH (a full load
// of millions of rows never sits in one result), calling row(result, i) for each row.
Status for_each_row(Connection& c, const std::string& select, int batch, Pool& pool,
                    const std::function<void(const PGresult*, int)>& row);

// The changes in `table` (columns xid, topic, key) of transactions finished since `cursor`, in
// one snapshot; `cursor` is set to where the next read starts. Duplicates are removed.
Result<std::vector<ChangedKey>> read_changes(Pool& pool, const std::string& table,
                                             FeedCursor& cursor);

// Deletes the rows of `table` older than older_than_s seconds (column `at`).
Status prune_changes(Pool& pool, const std::string& table, int64_t older_than_s);

}  // namespace mailsift::fleet::pg
