// Runs the conformance suite against the built-in backends, plus SQLite-specific checks
// (schema versioning, damaged files, URI dispatch).
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "tenant/testing/conformance.h"

namespace mailsift::tenant {
namespace {

using testing::BackendFactory;

MAILSIFT_TENANT_CONFORMANCE(Memory,
                            (BackendFactory{
                                "memory",
                                [](const std::string&) -> Result<std::unique_ptr<TenantStore>> {
                                  return make_memory_tenant_store();
                                },
                                nullptr}));

MAILSIFT_TENANT_CONFORMANCE(
    Sqlite, (BackendFactory{
                "sqlite",
                [](const std::string& dir) { return open_tenant_store("sqlite:" + dir + "/t.db"); },
                [](const std::string& dir) { return open_sqlite_tenant_store(dir + "/t.db"); }}));

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "mailsift-tn-XXXXXX").string();
    if (mkdtemp(t.data()))
      path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

int user_version(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

TEST(TenantUri, Dispatch) {
  EXPECT_TRUE(open_tenant_store("memory:").ok());
  EXPECT_EQ(open_tenant_store("redis://x").error().kind, ErrorKind::kConfig);
  EXPECT_FALSE(open_tenant_store("").ok());
  TempDir dir;
  EXPECT_TRUE(open_tenant_store(dir.file("a.db")).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.file("a.db")));
}

TEST(SqliteTenantStore, SchemaIsVersionedAndWal) {
  TempDir dir;
  { ASSERT_TRUE(open_sqlite_tenant_store(dir.file("t.db")).ok()); }
  EXPECT_EQ(user_version(dir.file("t.db")), 2);
  sqlite3* db = nullptr;
  sqlite3_open(dir.file("t.db").c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  // A version-1 file (before API keys) is migrated forward on open.
  sqlite3_exec(db, "DROP TABLE api_keys; PRAGMA user_version=1", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto s = open_sqlite_tenant_store(dir.file("t.db"));
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(user_version(dir.file("t.db")), 2);
  EXPECT_TRUE((*s)->add_api_key(ApiKeyRecord{"abc", Role::kAdmin, "", "", 1}).ok());
}

TEST(SqliteTenantStore, NewerSchemaIsRefused) {
  TempDir dir;
  { ASSERT_TRUE(open_sqlite_tenant_store(dir.file("t.db")).ok()); }
  sqlite3* db = nullptr;
  sqlite3_open(dir.file("t.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto s = open_sqlite_tenant_store(dir.file("t.db"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

TEST(SqliteTenantStore, NotADatabaseIsTemporaryWithClearMessage) {
  TempDir dir;
  {
    std::ofstream f(dir.file("junk.db"), std::ios::binary);
    for (int i = 0; i < 4096; ++i)
      f << "this is not sqlite ";
  }
  auto s = open_sqlite_tenant_store(dir.file("junk.db"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kTemporary);
  EXPECT_NE(s.error().message.find("not a mailsift tenant store"), std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace mailsift::tenant
