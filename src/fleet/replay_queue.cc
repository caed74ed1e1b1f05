// The durable local replay queue: see replay_queue.h.
#include "fleet/replay_queue.h"

#include <fmt/format.h>

#include "sqlite/db.h"

namespace mailsift::fleet {

namespace {
const std::vector<std::string> kMigrations = {
    // seq orders the queue (AUTOINCREMENT: never reused, so order survives deletes).
    "CREATE TABLE replay (seq INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, "
    "event_id TEXT NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL, enqueued_ms INTEGER "
    "NOT NULL, UNIQUE (target, event_id));"
    "CREATE INDEX replay_target ON replay (target, seq);"
    "CREATE TABLE replay_dead (seq INTEGER PRIMARY KEY, target TEXT NOT NULL, event_id TEXT NOT "
    "NULL, kind TEXT NOT NULL, payload BLOB NOT NULL, enqueued_ms INTEGER NOT NULL, dead_ms "
    "INTEGER NOT NULL, reason TEXT NOT NULL);",
};
}  // namespace

ReplayQueue::~ReplayQueue() = default;

Result<std::unique_ptr<ReplayQueue>> ReplayQueue::open(const std::string& path,
                                                       uint64_t max_entries) {
  auto db = sqlite::Db::open(path, kMigrations);
  if (!db)
    return db.error();
  std::unique_ptr<ReplayQueue> q(new ReplayQueue());
  q->db_ = std::move(db).value();
  q->max_ = max_entries;
  if (Status st = q->refresh_counts(); !st)
    return st.error();
  return q;
}

Status ReplayQueue::refresh_counts() {
  sqlite::Stmt s;
  if (Status st = db_->prepare(s, "SELECT target, COUNT(*) FROM replay GROUP BY target"); !st)
    return st;
  sqlite::Use u(s);
  pending_.clear();
  stats_.pending = 0;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) {
    pending_.emplace_back(u.col_text(0), static_cast<uint64_t>(u.col_i64(1)));
    stats_.pending += static_cast<uint64_t>(u.col_i64(1));
  }
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "replay count");
  return Ok{};
}

Status ReplayQueue::append(const std::string& target, const std::vector<ReplayItem>& items,
                           int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (stats_.pending + items.size() > max_) {
    stats_.refused_full += items.size();
    return Error::temporary(
        fmt::format("replay queue full ({} of {} entries): write for {} refused", stats_.pending,
                    max_, target));
  }
  sqlite::Stmt s;
  if (Status st = db_->prepare(s,
                               "INSERT OR IGNORE INTO replay (target, event_id, kind, payload, "
                               "enqueued_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
      !st)
    return st;
  uint64_t added = 0;
  Status st = db_->transaction([&]() -> Status {
    for (const ReplayItem& it : items) {
      sqlite::Use u(s);
      u.text(1, target).text(2, it.event_id).text(3, it.kind);
      u.blob(4, it.payload.data(), it.payload.size()).i64(5, now_ms);
      if (int rc = u.step(); rc != SQLITE_DONE)
        return db_->fail(rc, "replay append");
      added += static_cast<uint64_t>(db_->changes());
    }
    return Ok{};
  });
  if (!st)
    return st;
  stats_.enqueued += added;
  stats_.duplicates += items.size() - added;
  stats_.pending += added;
  for (auto& [t, n] : pending_) {
    if (t == target) {
      n += added;
      return Ok{};
    }
  }
  pending_.emplace_back(target, added);
  return Ok{};
}

Result<std::vector<ReplayEntry>> ReplayQueue::peek(const std::string& target, size_t limit) {
  std::lock_guard lock(mu_);
  sqlite::Stmt s;
  if (Status st = db_->prepare(s,
                               "SELECT seq, event_id, kind, payload, enqueued_ms FROM replay "
                               "WHERE target = ?1 ORDER BY seq LIMIT ?2");
      !st)
    return st.error();
  sqlite::Use u(s);
  u.text(1, target).i64(2, static_cast<int64_t>(limit));
  std::vector<ReplayEntry> out;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) {
    ReplayEntry e;
    e.seq = u.col_i64(0);
    e.target = target;
    e.item.event_id = u.col_text(1);
    e.item.kind = u.col_text(2);
    e.item.payload = u.col_blob(3);
    e.enqueued_ms = u.col_i64(4);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "replay peek");
  return out;
}

Status ReplayQueue::remove(int64_t seq) {
  std::lock_guard lock(mu_);
  sqlite::Stmt s;
  if (Status st = db_->prepare(s, "DELETE FROM replay WHERE seq = ?1 RETURNING target"); !st)
    return st;
  sqlite::Use u(s);
  u.i64(1, seq);
  int rc = u.step();
  if (rc == SQLITE_DONE)
    return Ok{};  // already gone
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "replay remove");
  const std::string target = u.col_text(0);
  if ((rc = u.step()) != SQLITE_DONE)
    return db_->fail(rc, "replay remove");
  ++stats_.replayed;
  --stats_.pending;
  for (auto& [t, n] : pending_)
    if (t == target && n > 0)
      --n;
  return Ok{};
}

Status ReplayQueue::dead_letter(const ReplayEntry& e, const std::string& reason, int64_t now_ms) {
  std::lock_guard lock(mu_);
  sqlite::Stmt ins, del;
  if (Status st = db_->prepare(ins,
                               "INSERT OR REPLACE INTO replay_dead (seq, target, event_id, kind, "
                               "payload, enqueued_ms, dead_ms, reason) VALUES (?1, ?2, ?3, ?4, "
                               "?5, ?6, ?7, ?8)");
      !st)
    return st;
  if (Status st = db_->prepare(del, "DELETE FROM replay WHERE seq = ?1"); !st)
    return st;
  bool removed = false;
  Status st = db_->transaction([&]() -> Status {
    sqlite::Use u(ins);
    u.i64(1, e.seq).text(2, e.target).text(3, e.item.event_id).text(4, e.item.kind);
    u.blob(5, e.item.payload.data(), e.item.payload.size()).i64(6, e.enqueued_ms);
    u.i64(7, now_ms).text(8, reason);
    if (int rc = u.step(); rc != SQLITE_DONE)
      return db_->fail(rc, "replay dead letter");
    sqlite::Use d(del);
    d.i64(1, e.seq);
    if (int rc = d.step(); rc != SQLITE_DONE)
      return db_->fail(rc, "replay dead letter");
    removed = db_->changes() > 0;
    return Ok{};
  });
  if (!st)
    return st;
  ++stats_.dead;
  if (removed) {
    --stats_.pending;
    for (auto& [t, n] : pending_)
      if (t == e.target && n > 0)
        --n;
  }
  return Ok{};
}

uint64_t ReplayQueue::pending(const std::string& target) const {
  std::lock_guard lock(mu_);
  for (const auto& [t, n] : pending_)
    if (t == target)
      return n;
  return 0;
}

ReplayQueueStats ReplayQueue::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace mailsift::fleet
