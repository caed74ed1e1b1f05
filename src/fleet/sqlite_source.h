// mailsift migrate's source side (internal to src/fleet): a read-only SQLite file with one
// statement helper, shared by the store/log/outbound migration (migrate.cc) and the tenant and
// feedback migration (migrate_tenant.cc).
//
// Failure semantics: opening fails with kConfig (the path is the operator's argument), a bad
// statement with kConfig, a read error while stepping with kTemporary.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "core/result.h"
#include "fleet/migrate.h"

namespace mailsift::fleet::detail {

// A read-only SQLite connection with a tiny statement helper.
class SqliteSource {
 public:
  ~SqliteSource() { sqlite3_close_v2(db_); }
  Status open(const std::string& path) {
    path_ = path;
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      return Error::config(fmt::format("{}: cannot open: {}", path, sqlite3_errmsg(db_)));
    sqlite3_busy_timeout(db_, 5000);
    return Ok{};
  }
  bool has_table(const char* name) {
    bool found = false;
    Status st = each(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
        [&](sqlite3_stmt*) { found = true; }, name);
    return st.ok() && found;
  }
  // Runs sql (text parameters bound in order), calling row(stmt) for each row.
  template <typename F, typename... Args>
  Status each(const char* sql, F&& row, const Args&... args) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
      return Error::config(fmt::format("{}: {}: {}", path_, sql, sqlite3_errmsg(db_)));
    int idx = 1;
    (bind(st, idx++, args), ...);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      row(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
      return Error::temporary(fmt::format("{}: reading: {}", path_, sqlite3_errmsg(db_)));
    return Ok{};
  }
  const std::string& path() const { return path_; }

 private:
  static void bind(sqlite3_stmt* st, int i, const std::string& v) {
    sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  static void bind(sqlite3_stmt* st, int i, const char* v) {
    sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
  }
  static void bind(sqlite3_stmt* st, int i, int64_t v) { sqlite3_bind_int64(st, i, v); }
  sqlite3* db_ = nullptr;
  std::string path_;
};

inline std::string col_text(sqlite3_stmt* st, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
}

// The report line of `kind`, created on first use (lines keep the order of first use).
inline KindCount& row(MigrateReport& r, const std::string& kind) {
  for (auto& k : r.kinds)
    if (k.kind == kind)
      return k;
  r.kinds.push_back(KindCount{kind});
  return r.kinds.back();
}

}  // namespace mailsift::fleet::detail
