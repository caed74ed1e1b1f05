// Runs the conformance suite against the built-in backends, plus backend-specific checks
// (URI dispatch, SQLite failure modes, the compact token table).
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <unordered_map>

#include "store/testing/conformance.h"
#include "store/token_table.h"

namespace mailsift::store {
namespace {

using testing::BackendFactory;

MAILSIFT_STORE_CONFORMANCE(Memory, (BackendFactory{
                                       "memory",
                                       [](const std::string&) -> Result<std::unique_ptr<Store>> {
                                         return make_memory_store();
                                       },
                                       nullptr}));

MAILSIFT_STORE_CONFORMANCE(
    Sqlite,
    (BackendFactory{
        "sqlite", [](const std::string& dir) { return open_store("sqlite:" + dir + "/store.db"); },
        [](const std::string& dir) { return open_sqlite_store(dir + "/store.db"); }}));

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "mailsift-sq-XXXXXX").string();
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

TEST(StoreUri, Dispatch) {
  EXPECT_TRUE(open_store("memory:").ok());
  auto bad = open_store("redis://localhost");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kConfig);
  EXPECT_FALSE(open_store("").ok());
  TempDir dir;
  EXPECT_TRUE(open_store("sqlite:" + dir.file("a.db")).ok());
  EXPECT_TRUE(open_store(dir.file("b.db")).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.file("b.db")));
}

TEST(ScopeKey, IsStable) {
  EXPECT_EQ(Scope::global().key(), "g:");
  EXPECT_EQ((Scope{Level::kReseller, "acme"}).key(), "r:acme");
  EXPECT_EQ((Scope{Level::kDomain, "example.com"}).key(), "d:example.com");
  EXPECT_EQ((Scope{Level::kUser, "bob@example.com"}).key(), "u:bob@example.com");
}

TEST(SqliteStore, NotADatabaseIsTemporaryWithClearMessage) {
  TempDir dir;
  {
    std::ofstream f(dir.file("junk.db"), std::ios::binary);
    for (int i = 0; i < 4096; ++i)
      f << "this is not sqlite ";
  }
  auto s = open_sqlite_store(dir.file("junk.db"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kTemporary);
  EXPECT_NE(s.error().message.find("damaged or not a mailsift store"), std::string::npos)
      << s.error().message;
}

TEST(SqliteStore, CorruptedPagesDoNotCrash) {
  TempDir dir;
  const std::string path = dir.file("c.db");
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    std::vector<uint64_t> tokens;
    for (uint64_t i = 0; i < 20000; ++i)
      tokens.push_back(i * 7919);
    ASSERT_TRUE((*s)->learn({Scope::global(), "m", Class::kSpam, tokens}).ok());
  }
  // Checkpoint the WAL into the main file, then scribble over the middle of it.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto size = std::filesystem::file_size(path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 3));
    std::string garbage(size / 3, '\xA5');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto s = open_sqlite_store(path);
  if (!s.ok()) {
    EXPECT_EQ(s.error().kind, ErrorKind::kTemporary);
    return;
  }
  std::vector<uint64_t> probe{0, 7919, 12345};
  auto c = (*s)->token_counts(Scope::global(), probe);
  if (!c.ok()) {
    EXPECT_EQ(c.error().kind, ErrorKind::kTemporary);
  }
  auto l = (*s)->learn({Scope::global(), "m2", Class::kHam, probe});
  if (!l.ok()) {
    EXPECT_EQ(l.error().kind, ErrorKind::kTemporary);
  }
}

TEST(SqliteStore, NewerSchemaIsRefused) {
  TempDir dir;
  const std::string path = dir.file("v.db");
  ASSERT_TRUE(open_sqlite_store(path).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version=999", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto s = open_sqlite_store(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
}

TEST(SqliteStore, LaggingReaderReloadsAfterJournalPrune) {
  TempDir dir;
  const std::string path = dir.file("j.db");
  auto a = open_sqlite_store(path);
  auto b = open_sqlite_store(path);
  ASSERT_TRUE(a.ok() && b.ok());
  const uint64_t probe[] = {1, 2};
  ASSERT_TRUE((*a)->learn({Scope::global(), "m0", Class::kSpam, {1}}).ok());
  ASSERT_TRUE((*b)->token_counts(Scope::global(), probe).ok());  // b has a warm view
  // Simulate a prune past b's position: the journal loses entries b has not read.
  ASSERT_TRUE((*a)->learn({Scope::global(), "m1", Class::kSpam, {1, 2}}).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DELETE FROM changes; "
                         "UPDATE sqlite_sequence SET seq = seq + 10000 WHERE name='changes'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_TRUE((*a)->learn({Scope::global(), "m2", Class::kHam, {3}}).ok());
  auto c = (*b)->token_counts(Scope::global(), probe);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].spam, 2u);
  EXPECT_EQ((*c)[1].spam, 1u);
}

TEST(SqliteStore, BusyWriterIsTemporaryAndReadersContinue) {
  TempDir dir;
  const std::string path = dir.file("busy.db");
  auto s = open_sqlite_store(path, SqliteOptions{.busy_timeout_ms = 50});
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->learn({Scope::global(), "m0", Class::kSpam, {1}}).ok());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE; INSERT INTO scopes(key) VALUES('u:holder')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto l = (*s)->learn({Scope::global(), "m1", Class::kSpam, {1}});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().kind, ErrorKind::kTemporary);
  EXPECT_NE(l.error().message.find("locked"), std::string::npos) << l.error().message;
  // WAL: scanning is not blocked by a writer.
  const uint64_t probe[] = {1};
  auto c = (*s)->token_counts(Scope::global(), probe);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].spam, 1u);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  auto again = (*s)->learn({Scope::global(), "m1", Class::kSpam, {1}});
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(*again, LearnOutcome::kLearned);
}

TEST(TokenTable, MatchesAReferenceMap) {
  std::mt19937_64 rng(42);
  TokenTable table;
  std::unordered_map<uint64_t, TokenCounts> ref;
  for (int i = 0; i < 200000; ++i) {
    uint64_t token = rng() % 5000;  // includes 0
    if (i % 7 == 0)
      token = rng();
    TokenCounts c{static_cast<uint32_t>(rng() % 3), static_cast<uint32_t>(rng() % 3)};
    table.set(token, c);
    ref[token] = c;
  }
  std::vector<uint64_t> probe;
  for (const auto& [t, c] : ref)
    probe.push_back(t);
  for (int i = 0; i < 1000; ++i)
    probe.push_back(rng());
  std::vector<TokenCounts> out(probe.size());
  table.lookup_many(probe, out.data());
  for (size_t i = 0; i < probe.size(); ++i) {
    auto it = ref.find(probe[i]);
    TokenCounts want = it == ref.end() ? TokenCounts{} : it->second;
    ASSERT_EQ(out[i].ham, want.ham) << probe[i];
    ASSERT_EQ(out[i].spam, want.spam) << probe[i];
    ASSERT_EQ(table.get(probe[i]).spam, want.spam);
  }
  EXPECT_LE(table.memory_bytes(), ref.size() * 16 * 100 / 50);
}

}  // namespace
}  // namespace mailsift::store
