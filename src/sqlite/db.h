// mailsift::sqlite — the small SQLite toolkit shared by the embedded stores that are not on the
// token hot path (feedback, ...): open with WAL + synchronous=FULL, forward-only migrations keyed
// by PRAGMA user_version, prepared statements reused through Use, transactions.
//
// Failure semantics: every call returns Status/Result. SQLITE_BUSY/LOCKED/IOERR/FULL/CANTOPEN map
// to kTemporary (the caller tempfails and retries: the data is not lost, it was never
// acknowledged); schema and constraint problems map to kPermanent. Not thread-safe: guard a Db with
// a mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::sqlite {

class Db;

// A prepared statement (prepared once, reused).
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  friend class Db;
  sqlite3_stmt* stmt_ = nullptr;
};

// One use of a statement: bind, step, read columns; reset when the use ends.
class Use {
 public:
  explicit Use(const Stmt& s) : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Use& i64(int idx, int64_t v) {
    sqlite3_bind_int64(s_, idx, v);
    return *this;
  }
  Use& dbl(int idx, double v) {
    sqlite3_bind_double(s_, idx, v);
    return *this;
  }
  Use& text(int idx, std::string_view v) {
    sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Use& blob(int idx, const void* data, size_t size) {
    sqlite3_bind_blob(s_, idx, data, static_cast<int>(size), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  int64_t col_i64(int c) const { return sqlite3_column_int64(s_, c); }
  double col_dbl(int c) const { return sqlite3_column_double(s_, c); }
  std::string col_text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c))
             : std::string();
  }
  std::string col_blob(int c) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    return p ? std::string(p, sqlite3_column_bytes(s_, c)) : std::string();
  }

 private:
  sqlite3_stmt* s_;
};

class Db {
 public:
  // Opens (creating) `path` (":memory:" works), WAL, synchronous=FULL, and runs the migrations
  // whose index is >= the file's user_version, each in its own transaction.
  static Result<std::unique_ptr<Db>> open(const std::string& path,
                                          const std::vector<std::string>& migrations,
                                          int busy_timeout_ms = 5000);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status exec(std::string_view sql);
  Status prepare(Stmt& stmt, const char* sql);
  // Maps a failing SQLite code to an Error naming `what`.
  Error fail(int rc, std::string_view what) const;
  // Runs `body` in BEGIN IMMEDIATE ... COMMIT; rolls back when it fails.
  template <typename F>
  Status transaction(F&& body) {
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    Status st = body();
    if (!st) {
      (void)exec("ROLLBACK");
      return st;
    }
    if (auto s = exec("COMMIT"); !s) {
      (void)exec("ROLLBACK");
      return s;
    }
    return Ok{};
  }
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  const std::string& path() const { return path_; }

 private:
  Db() = default;
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace mailsift::sqlite
