// SQLite OutboundStore: the embedded default (file outbound.db in the data dir, separate from the
// learning store and the decision log so the CLI can change a status while mailsiftd runs).
//
// Layout (PRAGMA user_version = schema version, forward-only migrations):
//   status(subject PK, level, reason, changed_at, changed_by, reversible)
//   counters(key, bucket, n)  PK(key, bucket)      bucketed sliding-window counters
//   members(key, member, seen) PK(key, member)     time-stamped sets; index (key, seen)
//   kv(key PK, value)                              opaque values (EWMA baselines)
//   alerts(id, time_ms, subject, kind, score, detail)
// WAL journal, synchronous=NORMAL (counters may lose the last commits on power loss, which only
// makes limits a little more lenient; status changes from the CLI survive a daemon crash), busy
// timeout so the CLI and the daemon share the file. Every call is one implicit transaction; no
// snapshot cache: a status change by the CLI is seen by the daemon's next request.
#include <sqlite3.h>

#include <fmt/format.h>

#include <mutex>

#include "outbound/store.h"

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
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool prepared() const { return rc_ == SQLITE_OK; }
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
  int step() { return sqlite3_step(s_); }
  void reset() { sqlite3_reset(s_); }
  int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  double dbl(int c) { return sqlite3_column_double(s_, c); }
  std::string text(int c) {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c)) : "";
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

class SqliteStore final : public OutboundStore {
 public:
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  static Result<std::unique_ptr<OutboundStore>> open(const std::string& path, int busy_ms) {
    auto s = std::unique_ptr<SqliteStore>(new SqliteStore);
    int rc = sqlite3_open_v2(path.c_str(), &s->db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK)
      return Error::temporary(fmt::format("outbound store {}: {}", path, sqlite3_errstr(rc)));
    sqlite3_busy_timeout(s->db_, busy_ms);
    for (const char* p : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"})
      if (auto st = s->exec(p); !st)
        return st.error();
    if (auto st = s->migrate(); !st)
      return st.error();
    return std::unique_ptr<OutboundStore>(std::move(s));
  }

  Result<std::optional<AccountStatus>> get_status(const Subject& subject) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT level, reason, changed_at, changed_by, reversible FROM status "
                "WHERE subject=?");
    q.bind(1, subject.key());
    int rc = q.step();
    if (rc == SQLITE_DONE)
      return std::optional<AccountStatus>();
    if (rc != SQLITE_ROW)
      return err("get_status");
    AccountStatus st{subject, static_cast<Level>(q.i64(0)), q.text(1), q.i64(2), q.text(3),
                     q.i64(4) != 0};
    return std::optional<AccountStatus>(std::move(st));
  }

  Status put_status(const AccountStatus& st) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "INSERT OR REPLACE INTO status(subject, level, reason, changed_at, changed_by, "
                "reversible) VALUES(?,?,?,?,?,?)");
    q.bind(1, st.subject.key())
        .bind(2, static_cast<int64_t>(st.level))
        .bind(3, st.reason)
        .bind(4, st.changed_at_ms)
        .bind(5, st.changed_by)
        .bind(6, int64_t{st.reversible});
    return q.step() == SQLITE_DONE ? Status() : Status(err("put_status"));
  }

  Result<std::vector<AccountStatus>> restricted() override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT subject, level, reason, changed_at, changed_by, reversible FROM status "
                "WHERE level <> 0 ORDER BY subject");
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
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    Stmt up(db_, "INSERT INTO counters(key, bucket, n) VALUES(?,?,?) "
                 "ON CONFLICT(key, bucket) DO UPDATE SET n = n + excluded.n");
    up.bind(1, key).bind(2, bucket).bind(3, delta);
    Stmt del(db_, "DELETE FROM counters WHERE key=? AND bucket<?");
    del.bind(1, key).bind(2, keep_from);
    if (up.step() != SQLITE_DONE || del.step() != SQLITE_DONE) {
      auto e = err("add_count");
      (void)exec("ROLLBACK");
      return e;
    }
    return exec("COMMIT");
  }

  Result<int64_t> sum_counts(std::string_view key, int64_t first, int64_t last) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT coalesce(sum(n), 0) FROM counters WHERE key=? AND bucket>=? AND "
                "bucket<=?");
    q.bind(1, key).bind(2, first).bind(3, last);
    if (q.step() != SQLITE_ROW)
      return err("sum_counts");
    return q.i64(0);
  }

  Result<bool> touch_member(std::string_view key, std::string_view member, int64_t now_ms,
                            int64_t keep_since_ms) override {
    std::lock_guard lock(mu_);
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s.error();
    Stmt del(db_, "DELETE FROM members WHERE key=? AND seen<?");
    del.bind(1, key).bind(2, keep_since_ms);
    Stmt ins(db_, "INSERT INTO members(key, member, seen) VALUES(?,?,?) "
                  "ON CONFLICT(key, member) DO UPDATE SET seen = max(seen, excluded.seen)");
    ins.bind(1, key).bind(2, member).bind(3, now_ms);
    Stmt had(db_, "SELECT 1 FROM members WHERE key=? AND member=?");
    had.bind(1, key).bind(2, member);
    bool ok = del.step() == SQLITE_DONE;
    int hrc = ok ? had.step() : SQLITE_ERROR;
    had.reset();
    ok = ok && (hrc == SQLITE_ROW || hrc == SQLITE_DONE) && ins.step() == SQLITE_DONE;
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
    Stmt q(db_, "SELECT 1 FROM members WHERE key=? AND member=? AND seen>=?");
    q.bind(1, key).bind(2, member).bind(3, since_ms);
    int rc = q.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return err("has_member");
    return rc == SQLITE_ROW;
  }

  Result<int64_t> count_members(std::string_view key, int64_t since_ms) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT count(*) FROM members WHERE key=? AND seen>=?");
    q.bind(1, key).bind(2, since_ms);
    if (q.step() != SQLITE_ROW)
      return err("count_members");
    return q.i64(0);
  }

  Result<std::optional<std::string>> get_value(std::string_view key) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT value FROM kv WHERE key=?");
    q.bind(1, key);
    int rc = q.step();
    if (rc == SQLITE_DONE)
      return std::optional<std::string>();
    if (rc != SQLITE_ROW)
      return err("get_value");
    return std::optional<std::string>(q.text(0));
  }

  Status put_value(std::string_view key, std::string_view value) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "INSERT OR REPLACE INTO kv(key, value) VALUES(?,?)");
    q.bind(1, key).bind(2, value);
    return q.step() == SQLITE_DONE ? Status() : Status(err("put_value"));
  }

  Status add_alert(const Alert& a) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "INSERT INTO alerts(time_ms, subject, kind, score, detail) VALUES(?,?,?,?,?)");
    q.bind(1, a.time_ms).bind(2, a.subject).bind(3, a.kind).bind(4, a.score).bind(5, a.detail);
    return q.step() == SQLITE_DONE ? Status() : Status(err("add_alert"));
  }

  Result<std::vector<Alert>> alerts(std::string_view subject_key, size_t limit) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT time_ms, subject, kind, score, detail FROM alerts "
                "WHERE ?1 = '' OR subject = ?1 ORDER BY time_ms DESC, id DESC LIMIT ?2");
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
      Stmt v(db_, "PRAGMA user_version");
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
};

}  // namespace

Result<std::unique_ptr<OutboundStore>> open_sqlite_store(const std::string& path,
                                                         int busy_timeout_ms, int flush_ms) {
  (void)flush_ms;
  return SqliteStore::open(path, busy_timeout_ms);
}

}  // namespace mailsift::outbound
