// mailsift::fleet — the durable local replay queue (issue 9 point 5): writes meant for a shared
// server (Redis learning writes, PostgreSQL decision-log inserts) that could not be applied
// because the server was down are kept here, in a SQLite file in the data dir, in arrival order,
// until the replayer (resilient.h) applies them.
//
// Owns: the file (table `replay`, one row per write: seq, target, event id, kind, payload), FIFO
// order per target, de-duplication by (target, event id) while queued, and the size bound.
//
// Failure semantics: append() returning Ok means durable (WAL, synchronous=FULL). A full queue
// (max_entries rows) refuses with kTemporary and counts the refusal (stats().refused_full): the
// caller then reports the failure as before (tempfail / log_failures) — never a silent drop.
// An entry the target rejects permanently is moved to table `replay_dead` (kept for inspection,
// counted), not retried forever. SQLite errors are kTemporary.
// Thread-safety: safe to share (one mutex around the connection).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"

namespace mailsift::sqlite {
class Db;
class Stmt;
}  // namespace mailsift::sqlite

namespace mailsift::fleet {

struct ReplayItem {
  std::string event_id;  // unique per write (decision id, or a random id for store writes)
  std::string kind;      // what to do with payload ("learn", "unlearn", "fuzzy_add", ...)
  std::string payload;   // JSON
};

struct ReplayEntry {
  int64_t seq = 0;
  std::string target;
  ReplayItem item;
  int64_t enqueued_ms = 0;
};

struct ReplayQueueStats {
  uint64_t enqueued = 0;      // rows added since open
  uint64_t duplicates = 0;    // appends of an event id already queued (not added twice)
  uint64_t replayed = 0;      // rows removed after being applied
  uint64_t refused_full = 0;  // appends refused because the queue was full
  uint64_t dead = 0;          // rows moved to replay_dead (permanent error from the target)
  uint64_t pending = 0;       // rows queued now (all targets)
};

class ReplayQueue {
 public:
  static Result<std::unique_ptr<ReplayQueue>> open(const std::string& path, uint64_t max_entries);
  ~ReplayQueue();
  ReplayQueue(const ReplayQueue&) = delete;
  ReplayQueue& operator=(const ReplayQueue&) = delete;

  // Appends all items in one transaction (all or none), in order. Items whose (target,
  // event_id) is already queued are skipped (counted in duplicates).
  Status append(const std::string& target, const std::vector<ReplayItem>& items, int64_t now_ms);
  // The oldest `limit` entries of `target`, in order.
  Result<std::vector<ReplayEntry>> peek(const std::string& target, size_t limit);
  // Removes an applied entry.
  Status remove(int64_t seq);
  // Moves an entry the target refused for good to replay_dead with the reason.
  Status dead_letter(const ReplayEntry& entry, const std::string& reason, int64_t now_ms);
  // Rows queued for `target` now (cached in memory: cheap on the scan path).
  uint64_t pending(const std::string& target) const;
  ReplayQueueStats stats() const;

 private:
  ReplayQueue() = default;
  Status refresh_counts();
  mutable std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  uint64_t max_ = 0;
  std::vector<std::pair<std::string, uint64_t>> pending_;  // per target (few targets)
  ReplayQueueStats stats_;
};

}  // namespace mailsift::fleet
