// SQLite OutboundStore: the embedded default (file outbound.db in the data dir, separate from the
// learning store and the decision log so the CLI can change a status while mailsiftd runs).
//
// Layout (PRAGMA user_version = schema version, forward-only migrations):
//   status(subject PK, level, reason, changed_at, changed_by, reversible)
//   counters(key, bucket, n)  PK(key, bucket)      bucketed sliding-window counters
//   members(key, member, seen) PK(key, member)     time-stamped sets (schema 2: no index on
//                                                  (key, seen))
//   kv(key PK, value)                              opaque values (EWMA baselines)
//   alerts(id, time_ms, subject, kind, score, detail)
// WAL journal, synchronous=NORMAL (counters may lose the last commits on power loss, which only
// makes limits a little more lenient; status changes from the CLI survive a daemon crash), busy
// timeout so the CLI and the daemon share the file. Statements are prepared once per connection.
//
// Two modes:
//  * flush_ms = 0 (the CLI, tests): every call is its own transaction, nothing is cached; a
//    status change by another process is seen by the next call.
//  * flush_ms > 0 (mailsiftd, outbound.store.flush_ms): write-behind. Counters, sets and values
//    live in memory (loaded per key from the file on first use, evicted when clean and unused
//    for 10 minutes); changes are written by a background flusher in one transaction at most
//    flush_ms after they happen, as deltas (counters: n = n + delta; sets: seen = max(seen, ..);
//    values: last writer wins), so nothing another process added is overwritten. Statuses are
//    cached for at most flush_ms (the cache is dropped at every flush tick); put_status and
//    add_alert write through at once in their own transaction (a hold is durable when the call
//    returns). What a crash can lose: at most flush_ms of counting (limits a little more
//    lenient, as with synchronous=NORMAL). A failed flush keeps the changes in memory and
//    retries at the next tick; the next write call returns the error once (kTemporary: the
//    caller tempfails, never a silent accept). The CLI sees counters up to flush_ms late.
#include <pthread.h>
#include <sqlite3.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "outbound/store.h"
#include "sqlite/wal_buffer_vfs.h"

namespace mailsift::outbound {
namespace {

const char* const kMigrations[] = {
    R"sql(
CREATE TABLE status(subject TEXT PRIMARY KEY, level INTEGER NOT NULL, reason TEXT NOT NULL,
                    changed_at INTEGER NOT NULL, changed_by TEXT NOT NULL,
                    reversible INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE counters(key TEXT NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
                      PRIMARY KEY(key, bucket)) WITHOUT ROWID;
CREATE TABLE members(key TEXT NOT NULL, member TEXT NOT NULL, seen INTEGER NOT NULL,
                     PRIMARY KEY(key, member)) WITHOUT ROWID;
CREATE INDEX members_seen ON members(key, seen);
CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE alerts(id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,
                    subject TEXT NOT NULL, kind TEXT NOT NULL, score REAL NOT NULL,
                    detail TEXT NOT NULL);
CREATE INDEX alerts_subject ON alerts(subject, time_ms);
)sql",
    // 2: no (key, seen) index on members. Why: every flush upserts the recipient-set rows of
    // thousands of distinct keys, and each refreshed `seen` also moved that row's index entry
    // (a second scattered B-tree write per recipient and scope; bench/outbound,
    // docs/outbound.md). The expiry DELETE and count(*) scan one key's PK range instead: a set
    // holds at most one scope's distinct recipients of a day (networks of 180 days). Members
    // stay text: `mailsift migrate` copies them to Redis, where they are looked up by text.
    R"sql(
DROP INDEX IF EXISTS members_seen;
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);


// A cached prepared statement in use: reset and unbound when the scope ends.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int step() { return s_ ? sqlite3_step(s_) : SQLITE_ERROR; }
  void reset() {
    if (s_)
      sqlite3_reset(s_);
  }
  int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  double dbl(int c) { return sqlite3_column_double(s_, c); }
  std::string text(int c) {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c)) : "";
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

using SteadyClock = std::chrono::steady_clock;

// Heterogeneous lookup: the per-request calls find their cache entry by the caller's
// string_view without building a std::string (an allocation per store call otherwise).
struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename T>
using StrMap = std::unordered_map<std::string, T, SvHash, std::equal_to<>>;
constexpr auto kEvictAfter = std::chrono::minutes(10);

// (bucket, n) sorted by bucket in one vector. Buckets arrive in time order, so an add appends
// or updates one of the last entries, a sum walks contiguous memory and expiry erases a prefix
// (std::map's node per bucket, and sums chasing up to 144 of them per recipient, were a tenth
// of the replay thread in bench/outbound).
class Buckets {
 public:
  using Entry = std::pair<int64_t, int64_t>;
  void add(int64_t bucket, int64_t delta) {
    auto it = lower(bucket);
    if (it != v_.end() && it->first == bucket)
      it->second += delta;
    else
      v_.insert(it, {bucket, delta});
  }
  // Drops buckets < keep_from; true when there were any.
  bool erase_below(int64_t keep_from) {
    auto it = lower(keep_from);
    if (it == v_.begin())
      return false;
    v_.erase(v_.begin(), it);
    return true;
  }
  int64_t sum(int64_t first, int64_t last) const {
    int64_t total = 0;
    for (auto it = lower(first); it != v_.end() && it->first <= last; ++it)
      total += it->second;
    return total;
  }
  bool empty() const { return v_.empty(); }
  void clear() { v_.clear(); }
  std::vector<Entry>::const_iterator begin() const { return v_.begin(); }
  std::vector<Entry>::const_iterator end() const { return v_.end(); }

 private:
  std::vector<Entry>::const_iterator lower(int64_t bucket) const {
    return std::lower_bound(v_.begin(), v_.end(), bucket,
                            [](const Entry& e, int64_t b) { return e.first < b; });
  }
  std::vector<Entry>::iterator lower(int64_t bucket) {
    return std::lower_bound(v_.begin(), v_.end(), bucket,
                            [](const Entry& e, int64_t b) { return e.first < b; });
  }
  std::vector<Entry> v_;
};

struct CounterCache {
  Buckets buckets;                      // what this process believes (file + own deltas)
  Buckets pending;                      // deltas not yet written
  int64_t prune_below = INT64_MIN;      // pending DELETE of older buckets
  bool prune_pending = false;
  SteadyClock::time_point used;
  const std::string* key = nullptr;  // the map node's key (node keys do not move)
  bool queued = false;               // in the flusher's dirty list
  bool dirty() const { return queued || !pending.empty() || prune_pending; }
};

struct SetCache {
  StrMap<int64_t> seen;  // member -> last seen; owns the member strings
  // (seen, member), oldest first, and the members to upsert: views of seen's keys (node keys
  // do not move), removed before the member leaves seen.
  std::set<std::pair<int64_t, std::string_view>> by_time;
  std::unordered_set<std::string_view> pending;
  int64_t prune_below = INT64_MIN;
  bool prune_pending = false;
  SteadyClock::time_point used;
  const std::string* key = nullptr;  // the map node's key (node keys do not move)
  bool queued = false;               // in the flusher's dirty list
  bool dirty() const { return queued || !pending.empty() || prune_pending; }
};

struct ValueCache {
  std::optional<std::string> value;
  bool pending = false;
  SteadyClock::time_point used;
  const std::string* key = nullptr;
  bool queued = false;
  bool dirty() const { return queued || pending; }
};

class SqliteStore final : public OutboundStore {
 public:
  ~SqliteStore() override {
    if (flusher_.joinable()) {
      {
        std::lock_guard lock(mu_);
        stopping_ = true;
      }
      cv_.notify_all();
      flusher_.join();
      std::lock_guard lock(mu_);
      (void)flush_locked();  // last chance; a failure here loses at most flush_ms of counting
    }
    for (auto& [sql, stmt] : stmts_)
      sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  static Result<std::unique_ptr<OutboundStore>> open(const std::string& path, int busy_ms,
                                                     int flush_ms) {
    auto s = std::unique_ptr<SqliteStore>(new SqliteStore);
    int rc = sqlite3_open_v2(path.c_str(), &s->db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             sqlite::wal_buffer_vfs_name());  // WAL frames in one write per commit
    if (rc != SQLITE_OK)
      return Error::temporary(fmt::format("outbound store {}: {}", path, sqlite3_errstr(rc)));
    sqlite3_busy_timeout(s->db_, busy_ms);
    for (const char* p : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"})
      if (auto st = s->exec(p); !st)
        return st.error();
    if (auto st = s->migrate(); !st)
      return st.error();
    if (flush_ms > 0) {
      // The flusher's upserts touch pages all over the counters/members B-trees: keep them
      // in memory (64 MiB) rather than re-reading them from the file at every flush.
      if (auto st = s->exec("PRAGMA cache_size=-65536"); !st)
        return st.error();
      // Each flush rewrites scattered pages; checkpointing every 8192 frames (32 MiB of WAL)
      // instead of 1000 writes a page rewritten by many flushes back to the file (and syncs)
      // far less often. synchronous=NORMAL: a crash keeps what the WAL holds, as before.
      if (auto st = s->exec("PRAGMA wal_autocheckpoint=8192"); !st)
        return st.error();
      s->flush_ms_ = flush_ms;
      (void)s->other_connection_committed();  // the baseline data_version
      s->flusher_ = std::thread([p = s.get()] { p->flush_loop(); });
    }
    return std::unique_ptr<OutboundStore>(std::move(s));
  }

  Result<std::optional<AccountStatus>> get_status(const Subject& subject) override {
    std::lock_guard lock(mu_);
    std::string key = subject.key();
    if (flush_ms_ > 0) {
      if (auto it = status_cache_.find(key); it != status_cache_.end())
        return it->second;
    }
    Stmt q(prep("SELECT level, reason, changed_at, changed_by, reversible FROM status "
                "WHERE subject=?"));
    q.bind(1, key);
    int rc = q.step();
    std::optional<AccountStatus> out;
    if (rc == SQLITE_ROW) {
      out = AccountStatus{subject, static_cast<Level>(q.i64(0)), q.text(1), q.i64(2), q.text(3),
                          q.i64(4) != 0};
    } else if (rc != SQLITE_DONE) {
      return err("get_status");
    }
    if (flush_ms_ > 0)
      status_cache_.emplace(std::move(key), out);
    return out;
  }

  Status put_status(const AccountStatus& st) override {
    std::lock_guard lock(mu_);
    Stmt q(prep("INSERT OR REPLACE INTO status(subject, level, reason, changed_at, changed_by, "
                "reversible) VALUES(?,?,?,?,?,?)"));
    q.bind(1, st.subject.key())
        .bind(2, static_cast<int64_t>(st.level))
        .bind(3, st.reason)
        .bind(4, st.changed_at_ms)
        .bind(5, st.changed_by)
        .bind(6, int64_t{st.reversible});
    if (q.step() != SQLITE_DONE) {
      status_cache_.erase(st.subject.key());
      return err("put_status");
    }
    if (flush_ms_ > 0)
      status_cache_[st.subject.key()] = st;
    return Ok{};
  }

  Result<std::vector<AccountStatus>> restricted() override {
    std::lock_guard lock(mu_);
    Stmt q(prep("SELECT subject, level, reason, changed_at, changed_by, reversible FROM status "
                "WHERE level <> 0 ORDER BY subject"));
    std::vector<AccountStatus> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      std::string key = q.text(0);
      Subject s;
      auto colon = key.find(':');
      std::string kind = key.substr(0, colon);
      s.kind = kind == "domain" ? SubjectKind::kDomain
                                : kind == "reseller" ? SubjectKind::kReseller : SubjectKind::kUser;
      s.id = colon == std::string::npos ? key : key.substr(colon + 1);
      out.push_back({s, static_cast<Level>(q.i64(1)), q.text(2), q.i64(3), q.text(4),
                     q.i64(5) != 0});
    }
    if (rc != SQLITE_DONE)
      return err("restricted");
    return out;
  }

  Status add_count(std::string_view key, int64_t bucket, int64_t delta,
                   int64_t keep_from) override {
    std::lock_guard lock(mu_);
    if (flush_ms_ > 0) {
      if (auto e = take_pending_error())
        return *e;
      auto c = counter(key);
      if (!c)
        return c.error();
      CounterCache& cc = **c;
      cc.buckets.add(bucket, delta);
      cc.pending.add(bucket, delta);
      if (keep_from > cc.prune_below) {
        // The file's DELETE only when a bucket this process knows of expired (most calls
        // expire nothing; a DELETE per dirty key per flush almost always deleted nothing). Buckets
        // another process wrote since this key was loaded stay until a later prune: harmless, every
        // read is bounded by bucket.
        if (cc.buckets.erase_below(keep_from))
          cc.prune_pending = true;
        cc.pending.erase_below(keep_from);
        cc.prune_below = keep_from;
      }
      mark_dirty(dirty_counters_, &cc);
      return Ok{};
    }
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    Stmt up(prep("INSERT INTO counters(key, bucket, n) VALUES(?,?,?) "
                 "ON CONFLICT(key, bucket) DO UPDATE SET n = n + excluded.n"));
    up.bind(1, key).bind(2, bucket).bind(3, delta);
    Stmt del(prep("DELETE FROM counters WHERE key=? AND bucket<?"));
    del.bind(1, key).bind(2, keep_from);
    if (up.step() != SQLITE_DONE || del.step() != SQLITE_DONE) {
      auto e = err("add_count");
      up.reset();
      del.reset();
      (void)exec("ROLLBACK");
      return e;
    }
    up.reset();
    del.reset();
    return exec("COMMIT");
  }

  Result<int64_t> sum_counts(std::string_view key, int64_t first, int64_t last) override {
    std::lock_guard lock(mu_);
    if (flush_ms_ > 0) {
      auto c = counter(key);
      if (!c)
        return c.error();
      return (*c)->buckets.sum(first, last);
    }
    Stmt q(prep("SELECT coalesce(sum(n), 0) FROM counters WHERE key=? AND bucket>=? AND "
                "bucket<=?"));
    q.bind(1, key).bind(2, first).bind(3, last);
    if (q.step() != SQLITE_ROW)
      return err("sum_counts");
    return q.i64(0);
  }

  Result<bool> touch_member(std::string_view key, std::string_view member, int64_t now_ms,
                            int64_t keep_since_ms) override {
    std::lock_guard lock(mu_);
    if (flush_ms_ > 0) {
      if (auto e = take_pending_error())
        return *e;
      auto c = set(key);
      if (!c)
        return c.error();
      SetCache& sc = **c;
      if (keep_since_ms > sc.prune_below) {
        // As for counters: the file's DELETE only when a member expired here.
        while (!sc.by_time.empty() && sc.by_time.begin()->first < keep_since_ms) {
          auto old = sc.seen.find(sc.by_time.begin()->second);
          sc.pending.erase(sc.by_time.begin()->second);
          sc.by_time.erase(sc.by_time.begin());
          if (old != sc.seen.end())
            sc.seen.erase(old);
          sc.prune_pending = true;
        }
        sc.prune_below = keep_since_ms;
      }
      auto it = sc.seen.find(member);
      const bool fresh = it == sc.seen.end();
      if (fresh) {
        it = sc.seen.emplace(std::string(member), now_ms).first;
        sc.by_time.emplace(now_ms, it->first);
      } else if (now_ms > it->second) {
        sc.by_time.erase({it->second, it->first});
        it->second = now_ms;
        sc.by_time.emplace(now_ms, it->first);
      }
      sc.pending.insert(it->first);
      mark_dirty(dirty_sets_, &sc);
      return fresh;
    }
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s.error();
    Stmt del(prep("DELETE FROM members WHERE key=? AND seen<?"));
    del.bind(1, key).bind(2, keep_since_ms);
    Stmt ins(prep("INSERT INTO members(key, member, seen) VALUES(?,?,?) "
                  "ON CONFLICT(key, member) DO UPDATE SET seen = max(seen, excluded.seen)"));
    ins.bind(1, key).bind(2, member).bind(3, now_ms);
    Stmt had(prep("SELECT 1 FROM members WHERE key=? AND member=?"));
    had.bind(1, key).bind(2, member);
    bool ok = del.step() == SQLITE_DONE;
    int hrc = ok ? had.step() : SQLITE_ERROR;
    had.reset();
    ok = ok && (hrc == SQLITE_ROW || hrc == SQLITE_DONE) && ins.step() == SQLITE_DONE;
    del.reset();
    ins.reset();
    if (!ok) {
      auto e = err("touch_member");
      (void)exec("ROLLBACK");
      return e;
    }
    if (auto s = exec("COMMIT"); !s)
      return s.error();
    return hrc == SQLITE_DONE;
  }

  Result<bool> has_member(std::string_view key, std::string_view member,
                          int64_t since_ms) override {
    std::lock_guard lock(mu_);
    if (flush_ms_ > 0) {
      auto c = set(key);
      if (!c)
        return c.error();
      auto it = (*c)->seen.find(member);
      return it != (*c)->seen.end() && it->second >= since_ms;
    }
    Stmt q(prep("SELECT 1 FROM members WHERE key=? AND member=? AND seen>=?"));
    q.bind(1, key).bind(2, member).bind(3, since_ms);
    int rc = q.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return err("has_member");
    return rc == SQLITE_ROW;
  }

  Result<int64_t> count_members(std::string_view key, int64_t since_ms) override {
    std::lock_guard lock(mu_);
    if (flush_ms_ > 0) {
      auto c = set(key);
      if (!c)
        return c.error();
      // Members older than the window are pruned by touch_member, so this walks only the few
      // that expired since.
      const auto& bt = (*c)->by_time;
      int64_t stale = 0;
      for (auto it = bt.begin(); it != bt.end() && it->first < since_ms; ++it)
        ++stale;
      return static_cast<int64_t>(bt.size()) - stale;
    }
    Stmt q(prep("SELECT count(*) FROM members WHERE key=? AND seen>=?"));
    q.bind(1, key).bind(2, since_ms);
    if (q.step() != SQLITE_ROW)
      return err("count_members");
    return q.i64(0);
  }

  Result<std::optional<std::string>> get_value(std::string_view key) override {
    std::lock_guard lock(mu_);
    if (flush_ms_ > 0) {
      auto v = value(key);
      if (!v)
        return v.error();
      return (*v)->value;
    }
    return read_value(key);
  }

  Status put_value(std::string_view key, std::string_view value_text) override {
    std::lock_guard lock(mu_);
    if (flush_ms_ > 0) {
      if (auto e = take_pending_error())
        return *e;
      auto v = value(key);
      if (!v)
        return v.error();
      (*v)->value = std::string(value_text);
      (*v)->pending = true;
      mark_dirty(dirty_values_, *v);
      return Ok{};
    }
    Stmt q(prep("INSERT OR REPLACE INTO kv(key, value) VALUES(?,?)"));
    q.bind(1, key).bind(2, value_text);
    return q.step() == SQLITE_DONE ? Status() : Status(err("put_value"));
  }

  Status add_alert(const Alert& a) override {
    std::lock_guard lock(mu_);
    Stmt q(prep("INSERT INTO alerts(time_ms, subject, kind, score, detail) VALUES(?,?,?,?,?)"));
    q.bind(1, a.time_ms).bind(2, a.subject).bind(3, a.kind).bind(4, a.score).bind(5, a.detail);
    return q.step() == SQLITE_DONE ? Status() : Status(err("add_alert"));
  }

  Result<std::vector<Alert>> alerts(std::string_view subject_key, size_t limit) override {
    std::lock_guard lock(mu_);
    Stmt q(prep("SELECT time_ms, subject, kind, score, detail FROM alerts "
                "WHERE ?1 = '' OR subject = ?1 ORDER BY time_ms DESC, id DESC LIMIT ?2"));
    q.bind(1, subject_key).bind(2, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
    std::vector<Alert> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW)
      out.push_back({q.i64(0), q.text(1), q.text(2), q.dbl(3), q.text(4)});
    if (rc != SQLITE_DONE)
      return err("alerts");
    return out;
  }

 private:
  SqliteStore() = default;

  // The connection's prepared statement for this SQL text (keyed by the literal's address).
  sqlite3_stmt* prep(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end())
      return it->second;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      sqlite3_finalize(s);
      return nullptr;  // step() fails; err() reports sqlite3_errmsg
    }
    stmts_.emplace(sql, s);
    return s;
  }

  std::optional<Error> take_pending_error() {
    std::optional<Error> e;
    e.swap(pending_error_);
    return e;
  }

  Result<std::optional<std::string>> read_value(std::string_view key) {
    Stmt q(prep("SELECT value FROM kv WHERE key=?"));
    q.bind(1, key);
    int rc = q.step();
    if (rc == SQLITE_DONE)
      return std::optional<std::string>();
    if (rc != SQLITE_ROW)
      return err("get_value");
    return std::optional<std::string>(q.text(0));
  }

  // The flusher's dirty lists hold the cache entries themselves (a dirty entry is never
  // evicted), so neither marking nor flushing hashes or copies a key again.
  template <typename Cache>
  static void mark_dirty(std::vector<Cache*>& dirty, Cache* c) {
    if (!c->queued) {
      c->queued = true;
      dirty.push_back(c);
    }
  }

  // Cache entries, loaded from the file on first use.
  Result<CounterCache*> counter(std::string_view key) {
    auto it = counters_.find(key);
    if (it == counters_.end()) {
      CounterCache cc;
      Stmt q(prep("SELECT bucket, n FROM counters WHERE key=?"));
      q.bind(1, key);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW)
        cc.buckets.add(q.i64(0), q.i64(1));
      if (rc != SQLITE_DONE)
        return err("load counters");
      it = counters_.emplace(std::string(key), std::move(cc)).first;
      it->second.key = &it->first;
    }
    it->second.used = SteadyClock::now();
    return &it->second;
  }
  Result<SetCache*> set(std::string_view key) {
    auto it = sets_.find(key);
    if (it == sets_.end()) {
      SetCache sc;
      Stmt q(prep("SELECT member, seen FROM members WHERE key=?"));
      q.bind(1, key);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        const int64_t seen = q.i64(1);
        auto m = sc.seen.emplace(q.text(0), seen).first;
        sc.by_time.emplace(seen, m->first);
      }
      if (rc != SQLITE_DONE)
        return err("load members");
      it = sets_.emplace(std::string(key), std::move(sc)).first;
      it->second.key = &it->first;
    }
    it->second.used = SteadyClock::now();
    return &it->second;
  }
  Result<ValueCache*> value(std::string_view key) {
    auto it = values_.find(key);
    if (it == values_.end()) {
      auto v = read_value(key);
      if (!v)
        return v.error();
      it = values_.emplace(std::string(key), ValueCache{std::move(v).value(), false, {}}).first;
      it->second.key = &it->first;
    }
    it->second.used = SteadyClock::now();
    return &it->second;
  }

  // Writes every pending change in one transaction. On failure nothing is marked written: the
  // next tick retries the same deltas.
  Status flush_locked() {
    if (dirty_counters_.empty() && dirty_sets_.empty() && dirty_values_.empty())
      return Ok{};
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    bool ok = true;
    const char* what = "flush";
    for (CounterCache* c : dirty_counters_) {
      const std::string& key = *c->key;
      CounterCache& cc = *c;
      for (const auto& [bucket, delta] : cc.pending) {
        Stmt up(prep("INSERT INTO counters(key, bucket, n) VALUES(?,?,?) "
                     "ON CONFLICT(key, bucket) DO UPDATE SET n = n + excluded.n"));
        up.bind(1, key).bind(2, bucket).bind(3, delta);
        ok = ok && up.step() == SQLITE_DONE;
      }
      if (cc.prune_pending) {
        Stmt del(prep("DELETE FROM counters WHERE key=? AND bucket<?"));
        del.bind(1, key).bind(2, cc.prune_below);
        ok = ok && del.step() == SQLITE_DONE;
      }
      if (!ok) {
        what = "flush counters";
        break;
      }
    }
    for (SetCache* c : dirty_sets_) {
      if (!ok)
        break;
      const std::string& key = *c->key;
      SetCache& sc = *c;
      if (sc.prune_pending) {
        Stmt del(prep("DELETE FROM members WHERE key=? AND seen<?"));
        del.bind(1, key).bind(2, sc.prune_below);
        ok = ok && del.step() == SQLITE_DONE;
      }
      for (const auto& m : sc.pending) {
        Stmt ins(prep("INSERT INTO members(key, member, seen) VALUES(?,?,?) "
                      "ON CONFLICT(key, member) DO UPDATE SET seen = max(seen, excluded.seen)"));
        ins.bind(1, key).bind(2, m).bind(3, sc.seen.find(m)->second);
        ok = ok && ins.step() == SQLITE_DONE;
      }
      if (!ok)
        what = "flush members";
    }
    for (ValueCache* c : dirty_values_) {
      if (!ok)
        break;
      const std::string& key = *c->key;
      ValueCache& vc = *c;
      if (!vc.value)
        continue;
      Stmt q(prep("INSERT OR REPLACE INTO kv(key, value) VALUES(?,?)"));
      q.bind(1, key).bind(2, *vc.value);
      ok = q.step() == SQLITE_DONE;
      if (!ok)
        what = "flush values";
    }
    if (!ok) {
      Error e = err(what);
      (void)exec("ROLLBACK");
      return e;
    }
    if (auto s = exec("COMMIT"); !s) {
      (void)exec("ROLLBACK");
      return s;
    }
    for (CounterCache* cc : dirty_counters_) {
      cc->pending.clear();
      cc->prune_pending = false;
      cc->queued = false;
    }
    for (SetCache* sc : dirty_sets_) {
      sc->pending.clear();
      sc->prune_pending = false;
      sc->queued = false;
    }
    for (ValueCache* vc : dirty_values_) {
      vc->pending = false;
      vc->queued = false;
    }
    dirty_counters_.clear();
    dirty_sets_.clear();
    dirty_values_.clear();
    return Ok{};
  }

  // Clean entries nobody used for a while go (they reload from the file when needed).
  template <typename Map>
  static void evict(Map& m, SteadyClock::time_point now) {
    for (auto it = m.begin(); it != m.end();) {
      if (!it->second.dirty() && now - it->second.used > kEvictAfter)
        it = m.erase(it);
      else
        ++it;
    }
  }

  void flush_loop() {
    pthread_setname_np(pthread_self(), "ob-flush");  // top -H, per-thread CPU in bench/outbound
    std::unique_lock lock(mu_);
    auto last_evict = SteadyClock::now();
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(flush_ms_));
      if (stopping_)
        break;
      if (auto s = flush_locked(); !s)
        pending_error_ = s.error();
      // Statuses may have been changed by another process (the CLI): read them again, but only
      // when some other connection committed to the file since the last tick (PRAGMA
      // data_version; our own put_status updates the cache). Dropping the cache every tick
      // made most status checks a SELECT in bench/outbound.
      if (other_connection_committed() || status_cache_.size() > 200000)
        status_cache_.clear();
      const auto now = SteadyClock::now();
      if (now - last_evict > std::chrono::minutes(1)) {
        evict(counters_, now);
        evict(sets_, now);
        evict(values_, now);
        last_evict = now;
      }
    }
  }

  // True when another connection changed the file since the previous call (or on error).
  bool other_connection_committed() {
    Stmt q(prep("PRAGMA data_version"));
    if (q.step() != SQLITE_ROW)
      return true;
    const int64_t v = q.i64(0);
    const bool changed = v != data_version_;
    data_version_ = v;
    return changed;
  }

  Error err(const char* what) {
    return Error::temporary(fmt::format("outbound store {}: {}", what, sqlite3_errmsg(db_)));
  }
  Status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      Error e = Error::temporary(fmt::format("outbound store: {}: {}", sql, msg ? msg : "?"));
      sqlite3_free(msg);
      return e;
    }
    return Ok{};
  }

  Status migrate() {
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    int64_t version = 0;
    {
      Stmt v(prep("PRAGMA user_version"));
      version = v.step() == SQLITE_ROW ? v.i64(0) : 0;
    }
    if (version > kSchemaVersion) {
      (void)exec("ROLLBACK");
      return Error::config(fmt::format("outbound store schema {} is newer than this build ({})",
                                       version, kSchemaVersion));
    }
    for (int64_t i = version; i < kSchemaVersion; ++i) {
      if (auto s = exec(kMigrations[i]); !s) {
        (void)exec("ROLLBACK");
        return s;
      }
    }
    std::string set = fmt::format("PRAGMA user_version={}", kSchemaVersion);
    if (auto s = exec(set.c_str()); !s) {
      (void)exec("ROLLBACK");
      return s;
    }
    return exec("COMMIT");
  }


  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
  int flush_ms_ = 0;
  int64_t data_version_ = -1;
  bool stopping_ = false;
  std::optional<Error> pending_error_;
  std::condition_variable cv_;
  std::thread flusher_;
  StrMap<CounterCache> counters_;
  StrMap<SetCache> sets_;
  StrMap<ValueCache> values_;
  std::vector<CounterCache*> dirty_counters_;
  std::vector<SetCache*> dirty_sets_;
  std::vector<ValueCache*> dirty_values_;
  std::unordered_map<std::string, std::optional<AccountStatus>> status_cache_;
};

}  // namespace

Result<std::unique_ptr<OutboundStore>> open_sqlite_store(const std::string& path,
                                                         int busy_timeout_ms, int flush_ms) {
  return SqliteStore::open(path, busy_timeout_ms, flush_ms);
}

}  // namespace mailsift::outbound
