// Runs the conformance suite against the built-in backends, plus SQLite-specific checks:
// failure modes (corrupt, locked, full, missing, foreign file), schema versioning, query plans.
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "decisions/sqlite_log_internal.h"
#include "decisions/testing/conformance.h"

namespace mailsift::decisions {
namespace {

using testing::LogFactory;

MAILSIFT_DECISIONS_CONFORMANCE(Memory,
                               (LogFactory{
                                   "memory",
                                   [](const std::string&) -> Result<std::unique_ptr<DecisionLog>> {
                                     return make_memory_log();
                                   },
                                   nullptr}));

MAILSIFT_DECISIONS_CONFORMANCE(Sqlite,
                               (LogFactory{"sqlite",
                                           [](const std::string& dir) {
                                             return open_sqlite_log(dir + "/" + kDecisionsFileName);
                                           },
                                           [](const std::string& dir) {
                                             return open_sqlite_log(dir + "/" + kDecisionsFileName);
                                           }}));

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "mailsift-dlog-XXXXXX").string();
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

Decision sample(const std::string& id, int64_t time = 1795792500000) {
  Decision d;
  d.id = id;
  d.time_unix_ms = time;
  d.mail_from = "s@example.com";
  RecipientDecision r;
  r.address = "r@example.org";
  r.action = "reject";
  r.symbols = {{"BAYES_SPAM", 5}};
  d.recipients = {r};
  return d;
}

std::unique_ptr<DecisionLog> open_ok(const std::string& path, SqliteLogOptions o = {}) {
  auto log = open_sqlite_log(path, o);
  EXPECT_TRUE(log.ok()) << (log.ok() ? "" : log.error().describe());
  return log.ok() ? std::move(log).value() : nullptr;
}

int exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
}

TEST(SqliteDecisionLog, NotADatabaseIsTemporaryWithClearMessage) {
  TempDir dir;
  {
    std::ofstream f(dir.file("decisions.db"), std::ios::binary);
    for (int i = 0; i < 4096; ++i)
      f << "this is not sqlite ";
  }
  auto log = open_sqlite_log(dir.file("decisions.db"));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().kind, ErrorKind::kTemporary);
  EXPECT_NE(log.error().message.find("damaged or not a mailsift decision log"), std::string::npos)
      << log.error().message;
}

TEST(SqliteDecisionLog, DamagedPagesGiveErrorsNotCrashes) {
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  {
    auto log = open_ok(path);
    ASSERT_TRUE(log);
    for (int i = 0; i < 200; ++i)
      ASSERT_TRUE(log->record(sample("id" + std::to_string(1000 + i), 1795792500000 + i)).ok());
  }
  ASSERT_EQ(std::filesystem::file_size(path) > 8192, true);
  {
    // Scribble over everything after the first page (the header stays valid).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    std::string junk(std::filesystem::file_size(path) - 4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto log = open_sqlite_log(path);
  if (!log.ok()) {
    EXPECT_EQ(log.error().kind, ErrorKind::kTemporary) << log.error().describe();
    return;
  }
  Query q;
  q.recipient = "r@example.org";
  auto r = (*log)->query(q);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTemporary);
  EXPECT_FALSE((*log)->record(sample("after-damage")).ok());
}

TEST(SqliteDecisionLog, MissingDirectoryIsTemporary) {
  TempDir dir;
  auto log = open_sqlite_log(dir.file("no/such/dir/decisions.db"));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().kind, ErrorKind::kTemporary) << log.error().describe();
}

TEST(SqliteDecisionLog, NoCreateLeavesAMissingFileMissing) {
  TempDir dir;
  SqliteLogOptions o;
  o.create = false;
  auto log = open_sqlite_log(dir.file("decisions.db"), o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().kind, ErrorKind::kTemporary);
  EXPECT_FALSE(std::filesystem::exists(dir.file("decisions.db")));
}

TEST(SqliteDecisionLog, LockedDatabaseIsTemporaryAndRetrySucceeds) {
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  SqliteLogOptions o;
  o.busy_timeout_ms = 50;
  auto log = open_ok(path, o);
  ASSERT_TRUE(log);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(exec(other, "BEGIN EXCLUSIVE"), SQLITE_OK);
  auto s = log->record(sample("while-locked"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kTemporary);
  EXPECT_NE(s.error().message.find("locked"), std::string::npos) << s.error().message;
  auto e = log->expire(INT64_MAX);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().kind, ErrorKind::kTemporary);
  ASSERT_EQ(exec(other, "COMMIT"), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(log->record(sample("while-locked")).ok());  // the caller's retry
  auto got = log->query(Query{});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 1u);
}

TEST(SqliteDecisionLog, FullDiskIsTemporaryAndLeavesNothingHalfWritten) {
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  auto log = open_ok(path);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->record(sample("before")).ok());
  // RLIMIT_FSIZE makes every write past 64 KiB fail with EFBIG, like a full disk; it binds root
  // too (unlike file permissions). SIGXFSZ would kill us: ignore it for the duration.
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  Decision big = sample("big");
  big.subject.assign(512 * 1024, 'x');
  auto s = log->record(big);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kTemporary) << s.error().describe();
  auto got = log->query(Query{});
  ASSERT_TRUE(got.ok()) << got.error().describe();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, "before");
  ASSERT_TRUE(log->record(big).ok());  // space is back
}

TEST(SqliteDecisionLog, ReadOnlyFileIsTemporary) {
  if (geteuid() == 0)
    GTEST_SKIP() << "root ignores file permissions (FullDiskIsTemporary covers unwritable)";
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  { ASSERT_TRUE(open_ok(path)); }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read);
  auto log = open_sqlite_log(path);
  if (log.ok()) {
    auto s = (*log)->record(sample("x"));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().kind, ErrorKind::kTemporary);
  } else {
    EXPECT_EQ(log.error().kind, ErrorKind::kTemporary);
  }
}

TEST(SqliteDecisionLog, NewerSchemaIsAConfigError) {
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  { ASSERT_TRUE(open_ok(path)); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(exec(db, "PRAGMA user_version=99"), SQLITE_OK);
  sqlite3_close(db);
  auto log = open_sqlite_log(path);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().kind, ErrorKind::kConfig);
  EXPECT_NE(log.error().message.find("newer"), std::string::npos);
}

TEST(SqliteDecisionLog, RefusesAnotherMailsiftDatabase) {
  TempDir dir;
  const std::string path = dir.file("store.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(exec(db, "CREATE TABLE tokens(x); PRAGMA user_version=1"), SQLITE_OK);
  sqlite3_close(db);
  auto log = open_sqlite_log(path);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().kind, ErrorKind::kConfig);
  EXPECT_NE(log.error().message.find("not a mailsift decision log"), std::string::npos)
      << log.error().message;
}

TEST(SqliteDecisionLog, SchemaVersionIsRecorded) {
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  { ASSERT_TRUE(open_ok(path)); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(SqliteDecisionLog, ExpireWorksInBatches) {
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  auto log = open_ok(path);
  ASSERT_TRUE(log);
  // 4500 rows in one transaction through a side connection (record() would fsync 4500 times).
  {
    ASSERT_TRUE(log->record(sample("seed")).ok());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(exec(db,
                   "BEGIN;"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<4500) "
                   "INSERT INTO decisions(id, time_ms, node, direction, queue_id, message_id, "
                   "client_ip, helo, mail_from, auth_user, subject, digest, elapsed_us, errors, "
                   "sender_key, message_id_key, ip_key, direction_key) "
                   "SELECT 'bulk'||i, i, '', 'inbound', '', '', '', '', '', '', '', '', 0, '[]', "
                   "'<>', '', '', 'inbound' FROM n;"
                   "INSERT INTO recipients SELECT seq, 0, time_ms, 'r@x', '', '', '', 0, "
                   "'reject', '', '', '', '[]', 'r@x', '', '', 'reject' FROM decisions "
                   "WHERE id LIKE 'bulk%';"
                   "COMMIT;"),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto removed = log->expire(1000000);
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  EXPECT_EQ(*removed, 4500u);
  Query q;
  q.limit = 0;
  auto left = log->query(q);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, "seed");
  q.recipient = "r@x";
  EXPECT_TRUE(log->query(q)->empty());
}

// The common support queries must be index range scans, never full scans of either table.
TEST(SqliteDecisionLog, CommonQueriesUseIndexes) {
  TempDir dir;
  const std::string path = dir.file("decisions.db");
  { ASSERT_TRUE(open_ok(path)); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  auto plan = [&](const Query& q) {
    SqlQuery built = build_query_sql(q);
    sqlite3_stmt* st = nullptr;
    std::string sql = "EXPLAIN QUERY PLAN " + built.sql;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string out;
    while (st && sqlite3_step(st) == SQLITE_ROW)
      out += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + "\n";
    sqlite3_finalize(st);
    return out;
  };
  const int64_t t0 = 1795792500000;
  struct Case {
    const char* name;
    Query q;
    const char* index;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, const char* index, auto set) {
    Query q;
    q.since_unix_ms = t0 - 1800000;
    q.until_unix_ms = t0 + 1800000;
    set(q);
    cases.push_back({name, q, index});
  };
  add("range only", "decisions_time", [](Query&) {});
  add("recipient", "recipients_address", [](Query& q) { q.recipient = "bob@example.org"; });
  add("user", "recipients_user", [](Query& q) { q.user = "bob@example.org"; });
  add("domain", "recipients_domain", [](Query& q) { q.domain = "example.org"; });
  add("reseller", "recipients_reseller", [](Query& q) { q.reseller = "acme"; });
  add("sender", "decisions_sender", [](Query& q) { q.sender = "s@example.com"; });
  add("queue id", "decisions_queue_id", [](Query& q) { q.queue_id = "4Yz1"; });
  add("message id", "decisions_message_id", [](Query& q) { q.message_id = "<m@x>"; });
  add("ip", "decisions_ip", [](Query& q) { q.client_ip = "192.0.2.1"; });
  add("id", "sqlite_autoindex_decisions_1", [](Query& q) { q.id = "x"; });
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string p = plan(c.q);
    EXPECT_NE(p.find(c.index), std::string::npos) << p;
    EXPECT_EQ(p.find("SCAN d\n"), std::string::npos) << p;
    EXPECT_EQ(p.find("SCAN r\n"), std::string::npos) << p;
  }
  sqlite3_close(db);
}

}  // namespace
}  // namespace mailsift::decisions
