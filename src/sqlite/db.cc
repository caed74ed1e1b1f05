#include "sqlite/db.h"

#include <fmt/format.h>

namespace mailsift::sqlite {

Error Db::fail(int rc, std::string_view what) const {
  std::string msg = fmt::format("sqlite {} ({}): {}", what, path_,
                                db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return Error::temporary(std::move(msg));
    default:
      return Error::permanent(std::move(msg));
  }
}

Status Db::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK)
    return fail(rc, "exec");
  return Ok{};
}

Status Db::prepare(Stmt& stmt, const char* sql) {
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt.stmt_, nullptr);
  if (rc != SQLITE_OK)
    return fail(rc, std::string("prepare: ") + sql);
  return Ok{};
}

Db::~Db() {
  if (db_)
    sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path,
                                     const std::vector<std::string>& migrations,
                                     int busy_timeout_ms) {
  std::unique_ptr<Db> db(new Db());
  db->path_ = path;
  int rc =
      sqlite3_open_v2(path.c_str(), &db->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK)
    return db->fail(rc, "open");
  sqlite3_extended_result_codes(db->db_, 1);
  sqlite3_busy_timeout(db->db_, busy_timeout_ms);
  if (auto s = db->exec("PRAGMA journal_mode=WAL"); !s)
    return s.error();
  if (auto s = db->exec("PRAGMA synchronous=FULL"); !s)
    return s.error();
  sqlite3_stmt* st = nullptr;
  rc = sqlite3_prepare_v2(db->db_, "PRAGMA user_version", -1, &st, nullptr);
  if (rc != SQLITE_OK)
    return db->fail(rc, "user_version");
  int64_t version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (version > static_cast<int64_t>(migrations.size()))
    return Error::config(fmt::format("{}: schema version {} is newer than this build knows ({})",
                                     path, version, migrations.size()));
  for (size_t i = static_cast<size_t>(version); i < migrations.size(); ++i) {
    Status s = db->transaction([&]() -> Status {
      if (auto m = db->exec(migrations[i]); !m)
        return m;
      return db->exec(fmt::format("PRAGMA user_version={}", i + 1));
    });
    if (!s)
      return s.error();
  }
  return db;
}

}  // namespace mailsift::sqlite
