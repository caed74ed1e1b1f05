// The WAL write-coalescing shim: what another connection (default VFS, its own file handle: the
// CLI's situation) sees after every commit, with synchronous=NORMAL (no xSync at commit, so only
// the commit-frame rule makes the frames reach the file) and FULL; transactions larger than the
// buffer and than one 128 KiB write; WAL restarts after checkpoints; and reopening the file.
#include "sqlite/wal_buffer_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace mailsift::sqlite {
namespace {

class WalBufferTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mailsift-walbuf-" + std::to_string(::getpid()) + "-" +
            std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
  }
  void TearDown() override {
    if (reader_)
      sqlite3_close(reader_);
    if (writer_)
      sqlite3_close(writer_);
    std::filesystem::remove_all(dir_);
  }
  void exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  int64_t scalar(sqlite3* db, const char* sql) {
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    EXPECT_EQ(sqlite3_step(q), SQLITE_ROW) << sqlite3_errmsg(db);
    const int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
  }
  void open_both() {
    ASSERT_NE(wal_buffer_vfs_name(), nullptr);
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &writer_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                              wal_buffer_vfs_name()),
              SQLITE_OK);
    exec(writer_, "PRAGMA journal_mode=WAL");
    exec(writer_, std::string("PRAGMA synchronous=") + GetParam());
    exec(writer_, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    exec(writer_, "CREATE INDEX t_v ON t(v)");
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &reader_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  std::filesystem::path dir_;
  std::string path_;
  sqlite3* writer_ = nullptr;
  sqlite3* reader_ = nullptr;
};

TEST_P(WalBufferTest, EveryCommitIsVisibleToAnotherConnectionAtOnce) {
  open_both();
  int64_t rows = 0;
  for (int txn = 0; txn < 300; ++txn) {
    // 1..40 rows with scattered index keys: commits of a few to dozens of pages.
    const int n = 1 + (txn * 7) % 40;
    exec(writer_, "BEGIN");
    for (int i = 0; i < n; ++i) {
      exec(writer_, "INSERT INTO t(v) VALUES(hex(randomblob(40)))");
      ++rows;
    }
    exec(writer_, "COMMIT");
    ASSERT_EQ(scalar(reader_, "SELECT count(*) FROM t"), rows) << "after transaction " << txn;
    ASSERT_EQ(scalar(reader_, "SELECT count(*) FROM t INDEXED BY t_v WHERE v > ''"), rows);
  }
  exec(writer_, "PRAGMA wal_checkpoint(TRUNCATE)");  // the WAL restarts from its header
  exec(writer_, "INSERT INTO t(v) VALUES('after restart')");
  EXPECT_EQ(scalar(reader_, "SELECT count(*) FROM t WHERE v = 'after restart'"), 1);
}

TEST_P(WalBufferTest, LargeTransactionsAndReopenKeepEveryRow) {
  open_both();
  // ~8 MiB of pages in one transaction: more than the buffer, far more than one write.
  exec(writer_, "BEGIN");
  exec(writer_,
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
       "INSERT INTO t(v) SELECT hex(randomblob(200)) FROM n");
  exec(writer_, "UPDATE t SET v = v || 'x' WHERE k % 3 = 0");  // rewrites frames in place
  exec(writer_, "COMMIT");
  EXPECT_EQ(scalar(reader_, "SELECT count(*) FROM t"), 20000);
  EXPECT_EQ(scalar(reader_, "SELECT count(*) FROM t WHERE v LIKE '%x'"), 6666);
  sqlite3_close(writer_);
  writer_ = nullptr;
  sqlite3* again = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &again, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  char* err = nullptr;
  std::string result;
  sqlite3_exec(
      again, "PRAGMA integrity_check",
      [](void* out, int, char** v, char**) {
        *static_cast<std::string*>(out) += v[0] ? v[0] : "";
        return 0;
      },
      &result, &err);
  sqlite3_free(err);
  EXPECT_EQ(result, "ok");
  EXPECT_EQ(scalar(again, "SELECT count(*) FROM t"), 20000);
  sqlite3_close(again);
}

INSTANTIATE_TEST_SUITE_P(Sync, WalBufferTest, ::testing::Values("NORMAL", "FULL"));

}  // namespace
}  // namespace mailsift::sqlite
