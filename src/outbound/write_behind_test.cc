// The SQLite store's write-behind mode (flush_ms > 0, mailsiftd's outbound.store.flush_ms): the
// conformance suite on it, and what it promises beyond: another process sees the counting within
// the flush interval, a status set elsewhere is seen within it, counts are written as deltas
// (nothing another process added is overwritten), a failed flush is reported once and retried
// without losing the counts, and closing the store writes what is pending.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "outbound/testing/conformance.h"

namespace mailsift::outbound {
namespace {

constexpr int kFlushMs = 20;

Result<std::unique_ptr<OutboundStore>> open_write_behind(const std::string& dir) {
  return open_sqlite_store(dir + "/outbound.db", 5000, kFlushMs);
}

}  // namespace
}  // namespace mailsift::outbound

MAILSIFT_OUTBOUND_CONFORMANCE(SqliteWriteBehind,
                              (mailsift::outbound::testing::BackendFactory{
                                  "sqlite_write_behind", mailsift::outbound::open_write_behind,
                                  nullptr}));

namespace mailsift::outbound {
namespace {

class WriteBehindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("mailsift-wb-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/outbound.db"; }

  // Polls `probe` for up to 3 s (the flusher runs every kFlushMs).
  template <typename F>
  static bool eventually(F probe) {
    for (int i = 0; i < 300; ++i) {
      if (probe())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::string dir_;
};

TEST_F(WriteBehindTest, AnotherHandleSeesCountsWithinTheFlushInterval) {
  auto wb = open_sqlite_store(path(), 5000, kFlushMs);
  auto direct = open_sqlite_store(path());
  ASSERT_TRUE(wb.ok() && direct.ok());
  ASSERT_TRUE((*wb)->add_count("msg1m:user:a@x", 10, 5, 0).ok());
  ASSERT_TRUE(*(*wb)->touch_member("rcpt1d:user:a@x", "b@y", 1000, 0));
  ASSERT_TRUE((*wb)->put_value("ewma:user:a@x", "1.5 7").ok());
  EXPECT_EQ(*(*wb)->sum_counts("msg1m:user:a@x", 0, 100), 5);  // at once for the daemon
  EXPECT_TRUE(eventually([&] { return *(*direct)->sum_counts("msg1m:user:a@x", 0, 100) == 5; }));
  EXPECT_TRUE(eventually([&] { return *(*direct)->count_members("rcpt1d:user:a@x", 0) == 1; }));
  EXPECT_TRUE(eventually([&] {
    auto v = (*direct)->get_value("ewma:user:a@x");
    return v.ok() && v->has_value() && **v == "1.5 7";
  }));
}

TEST_F(WriteBehindTest, StatusSetElsewhereIsSeenWithinTheFlushInterval) {
  auto wb = open_sqlite_store(path(), 5000, kFlushMs);
  auto cli = open_sqlite_store(path());
  ASSERT_TRUE(wb.ok() && cli.ok());
  EXPECT_FALSE((*wb)->get_status(Subject::user("a@x"))->has_value());  // cached as "never set"
  ASSERT_TRUE(
      (*cli)->put_status({Subject::user("a@x"), Level::kSuspended, "abuse", 1, "cli", true}).ok());
  EXPECT_TRUE(eventually([&] {
    auto st = (*wb)->get_status(Subject::user("a@x"));
    return st.ok() && st->has_value() && (*st)->level == Level::kSuspended;
  }));
  // The daemon's own status change is written through at once.
  ASSERT_TRUE(
      (*wb)
          ->put_status({Subject::user("b@x"), Level::kSendingDisabled, "auto", 2, "d", true})
          .ok());
  EXPECT_EQ((*(*cli)->get_status(Subject::user("b@x")))->level, Level::kSendingDisabled);
}

TEST_F(WriteBehindTest, CountsAreDeltasAndClosingWritesWhatIsPending) {
  auto cli = open_sqlite_store(path());
  ASSERT_TRUE(cli.ok());
  {
    auto wb = open_sqlite_store(path(), 5000, 60000);  // no flush tick during the test
    ASSERT_TRUE(wb.ok());
    ASSERT_TRUE((*wb)->add_count("k", 1, 5, 0).ok());
    ASSERT_TRUE((*cli)->add_count("k", 1, 3, 0).ok());  // another process counts meanwhile
    EXPECT_EQ(*(*cli)->sum_counts("k", 1, 1), 3);       // not written yet
  }                                                     // closed: flushed
  EXPECT_EQ(*(*cli)->sum_counts("k", 1, 1), 8);
}

TEST_F(WriteBehindTest, FailedFlushIsReportedOnceAndRetriedWithoutLoss) {
  auto wb = open_sqlite_store(path(), 1, kFlushMs);  // 1 ms busy timeout: a held lock fails
  ASSERT_TRUE(wb.ok());
  sqlite3* locker = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE((*wb)->add_count("k", 1, 5, 0).ok());
  // The flusher cannot write; the next write call says so (kTemporary), once.
  Status seen = Ok{};
  EXPECT_TRUE(eventually([&] {
    seen = (*wb)->add_count("k", 1, 1, 0);
    return !seen.ok();
  }));
  EXPECT_EQ(seen.error().kind, ErrorKind::kTemporary);
  ASSERT_EQ(sqlite3_exec(locker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(locker);
  auto direct = open_sqlite_store(path());
  ASSERT_TRUE(direct.ok());
  // Every successful add_count arrives (the refused one was not counted by the caller either).
  const int64_t expected = *(*wb)->sum_counts("k", 1, 1);
  EXPECT_GE(expected, 5);
  EXPECT_TRUE(eventually([&] { return *(*direct)->sum_counts("k", 1, 1) == expected; }));
}

// Schema 1 had a (key, seen) index on set members; opening such a file drops it (schema 2) and
// every set answers as before, in both modes.
TEST_F(WriteBehindTest, SchemaOneSetsAnswerAsBeforeWithoutTheSeenIndex) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
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
INSERT INTO members VALUES('rcpt1d:user:a@x', 'b@y', 1000), ('rcpt1d:user:a@x', 'c@y', 3000),
                          ('rcpt1d:domain:x', 'b@y', 3000), ('nets:user:a@x', '10.0.0.0/24', 5);
INSERT INTO counters VALUES('msg1m:user:a@x', 7, 4);
PRAGMA user_version=1;
)sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  for (int flush_ms : {0, kFlushMs}) {
    auto st = open_sqlite_store(path(), 5000, flush_ms);
    ASSERT_TRUE(st.ok()) << st.error().describe();
    OutboundStore& s = **st;
    EXPECT_TRUE(*s.has_member("rcpt1d:user:a@x", "b@y", 1000));
    EXPECT_FALSE(*s.has_member("rcpt1d:user:a@x", "b@y", 1001));
    EXPECT_TRUE(*s.has_member("rcpt1d:user:a@x", "c@y", 0));
    EXPECT_FALSE(*s.has_member("rcpt1d:user:a@x", "d@y", 0));
    EXPECT_EQ(*s.count_members("rcpt1d:user:a@x", 0), 2);
    EXPECT_EQ(*s.count_members("rcpt1d:user:a@x", 2000), 1);
    EXPECT_EQ(*s.count_members("rcpt1d:domain:x", 0), 1);
    EXPECT_EQ(*s.count_members("nets:user:a@x", 0), 1);
    EXPECT_EQ(*s.sum_counts("msg1m:user:a@x", 0, 10), 4);
  }
  auto st = open_sqlite_store(path());
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(*(*st)->touch_member("nets:user:a@x", "10.0.0.0/24", 10, 0));  // already known
  EXPECT_TRUE(*(*st)->touch_member("nets:user:a@x", "10.0.1.0/24", 10, 0));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(q), SQLITE_ROW);
    const int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
  };
  EXPECT_EQ(scalar("PRAGMA user_version"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM sqlite_schema WHERE name='members_seen'"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM members"), 5);  // text members kept (mailsift migrate)
  sqlite3_close(db);
}

}  // namespace
}  // namespace mailsift::outbound
