// Runs the conformance suite against the built-in backends, plus backend-specific checks
// (URI dispatch, SQLite failure modes, the compact token table).
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <unordered_map>

#include "store/snapshot_image.h"
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

// The band index a reopened store builds from SQL (radix-sorted at load) must answer exactly
// as the memory backend, which indexes each record as it is added: enough records that the
// index takes the radix path, bands sharing low and high bits, replacements and removals both
// before the load and after it (erasing from the loaded array, adding beside it).
TEST(SqliteStore, FuzzyIndexLoadedFromSqlMatchesTheMemoryBackend) {
  TempDir dir;
  const std::string path = dir.file("fuzzy.db");
  std::unique_ptr<Store> mem = make_memory_store();
  const Scope g = Scope::global();
  std::mt19937_64 rng(42);
  // A small band vocabulary so records collide; values spread over all 64 bits and some that
  // differ only in the top bits (the last radix digit decides their order).
  std::vector<uint64_t> vocab;
  for (int i = 0; i < 300; ++i)
    vocab.push_back(i % 3 == 0 ? (uint64_t(i) << 58) | 7 : rng());
  auto record = [&](int i, const std::string& reporter) {
    FuzzyRecord r;
    r.message_digest = "d" + std::to_string(i);
    r.reporter = reporter;
    r.cls = i % 2 ? Class::kSpam : Class::kHam;
    for (int b = 0; b < 8; ++b)
      r.bands.push_back(vocab[rng() % vocab.size()]);
    r.signature = {uint32_t(i), 1, 2};
    r.added_unix = 1700000000 + i;
    return r;
  };
  auto both = [&](auto&& f) {
    auto sq = open_sqlite_store(path);
    ASSERT_TRUE(sq.ok());
    f(**sq);
    f(*mem);
  };
  auto ids = [](Store& s, const std::vector<uint64_t>& bands) {
    std::vector<std::string> out;
    auto got = s.fuzzy_candidates(Scope::global(), bands, 1000);
    EXPECT_TRUE(got.ok());
    if (got.ok())
      for (const FuzzyRecord& r : *got)
        out.push_back(r.message_digest + "/" + r.reporter + "/" + std::to_string(r.bands.size()));
    return out;
  };
  std::vector<FuzzyRecord> batch;
  for (int i = 0; i < 400; ++i)
    batch.push_back(record(i, i % 5 ? "" : "r"));
  both([&](Store& s) { ASSERT_TRUE(s.fuzzy_add_batch(g, batch).ok()); });
  const FuzzyRecord again3 = record(3, "");
  both([&](Store& s) {
    ASSERT_TRUE(s.fuzzy_add(g, again3).ok());  // replaced before the load
    ASSERT_TRUE(s.fuzzy_remove(g, "d7").ok());
  });
  auto sq = open_sqlite_store(path);  // a fresh connection: the index is built from SQL
  ASSERT_TRUE(sq.ok());
  auto compare = [&] {
    for (int q = 0; q < 200; ++q) {
      std::vector<uint64_t> bands;
      for (int b = 0; b < 12; ++b)
        bands.push_back(vocab[rng() % vocab.size()]);
      ASSERT_EQ(ids(**sq, bands), ids(*mem, bands)) << "query " << q;
    }
  };
  compare();
  // After the load: replace (erase from the loaded array + add beside it), remove, add.
  const FuzzyRecord again10 = record(10, ""), fresh = record(1000, "x");
  for (Store* s : {sq->get(), mem.get()}) {
    ASSERT_TRUE(s->fuzzy_add(g, again10).ok());
    ASSERT_TRUE(s->fuzzy_remove(g, "d11").ok());
    ASSERT_TRUE(s->fuzzy_add(g, fresh).ok());
  }
  compare();
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

// Snapshot images (snapshot_image.h): a large scope's table is written next to the database
// after a SQL load and read back by the next process, which replays the journal past it.
class SnapshotImageTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kTokens = kSnapshotImageMinTokens + 1000;
  static std::vector<uint64_t> tokens(uint64_t from, uint64_t n) {
    std::vector<uint64_t> v;
    for (uint64_t t = from; t < from + n; ++t)
      v.push_back(t * 0x9E3779B97F4A7C15ULL);  // spread like real hashes; never 0
    return v;
  }
  static std::vector<TokenCounts> counts(const std::string& path, std::span<const uint64_t> probe) {
    auto s = open_sqlite_store(path);
    EXPECT_TRUE(s.ok());
    auto c = (*s)->token_counts(Scope::global(), probe);
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : std::vector<TokenCounts>{};
  }
  TempDir dir;
  std::string path = dir.file("img.db");
  std::string image = snapshot_image_path(path, 1);
};

TEST_F(SnapshotImageTest, WrittenAfterALargeLoadAndReusedWithTheJournalReplayed) {
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "big", Class::kSpam, tokens(1, kTokens)}).ok());
  }
  const std::vector<uint64_t> probe = {tokens(1, 1)[0], tokens(kTokens, 1)[0],
                                       tokens(kTokens + 5, 1)[0]};
  EXPECT_FALSE(std::filesystem::exists(image));  // learning alone loads no snapshot
  auto first = counts(path, probe);              // SQL load, then the image is written
  ASSERT_TRUE(std::filesystem::exists(image));
  EXPECT_EQ(first[0].spam, 1u);
  EXPECT_EQ(first[2].spam, 0u);
  const auto written = std::filesystem::last_write_time(image);
  // Proof that the next reader takes the image rather than SQL: a row changed behind the
  // store's back (no journal entry, which real writers always add) stays unseen.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE tokens SET spam = 7 WHERE token = " +
                            std::to_string(static_cast<int64_t>(probe[0]));
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    EXPECT_EQ(counts(path, probe)[0].spam, 1u);
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string undo = "UPDATE tokens SET spam = 1 WHERE token = " +
                             std::to_string(static_cast<int64_t>(probe[0]));
    ASSERT_EQ(sqlite3_exec(db, undo.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  // Another process learns after the image was taken: the next reader must see it.
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "more", Class::kHam, tokens(kTokens, 10)}).ok());
  }
  auto second = counts(path, probe);
  EXPECT_EQ(second[0].spam, 1u);
  EXPECT_EQ(second[1].spam, 1u);  // the last token of "big" ...
  EXPECT_EQ(second[1].ham, 1u);   // ... also learned as ham after the image
  EXPECT_EQ(second[2].ham, 1u);
  // One replayed entry does not rewrite the image.
  EXPECT_EQ(std::filesystem::last_write_time(image), written);
  auto store = open_sqlite_store(path);
  ASSERT_TRUE(store.ok());
  auto totals = (*store)->totals(Scope::global());
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->ham_messages, 1u);
  EXPECT_EQ(totals->spam_messages, 1u);
}

TEST_F(SnapshotImageTest, CorruptOrForeignImagesAreIgnored) {
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "big", Class::kSpam, tokens(1, kTokens)}).ok());
  }
  const std::vector<uint64_t> probe = {tokens(7, 1)[0]};
  counts(path, probe);
  ASSERT_TRUE(std::filesystem::exists(image));
  // Flip one byte in the slots: the checksum no longer matches, so SQL is read again.
  {
    std::fstream f(image, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(image) / 2));
    f.put('\x5a');
  }
  EXPECT_EQ(counts(path, probe)[0].spam, 1u);
  // Another database with the same scope id: its image must not be used for this one.
  const std::string other = dir.file("other.db");
  {
    auto s = open_sqlite_store(other);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "x", Class::kHam, {tokens(7, 1)[0]}}).ok());
  }
  std::filesystem::copy_file(image, snapshot_image_path(other, 1),
                             std::filesystem::copy_options::overwrite_existing);
  auto c = counts(other, probe);
  EXPECT_EQ(c[0].spam, 0u);
  EXPECT_EQ(c[0].ham, 1u);
  // A truncated image is ignored too.
  std::filesystem::resize_file(image, 100);
  EXPECT_EQ(counts(path, probe)[0].spam, 1u);
}

TEST_F(SnapshotImageTest, AnImageOlderThanTheJournalIsNotUsed) {
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "big", Class::kSpam, tokens(1, kTokens)}).ok());
  }
  const std::vector<uint64_t> probe = {tokens(3, 1)[0]};
  counts(path, probe);
  ASSERT_TRUE(std::filesystem::exists(image));
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "m", Class::kHam, {tokens(3, 1)[0]}}).ok());
  }
  // The journal loses the entries after the image (as after a long prune).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DELETE FROM changes; "
                         "UPDATE sqlite_sequence SET seq = seq + 10000 WHERE name='changes'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "n", Class::kHam, {1}}).ok());
  }
  auto c = counts(path, probe);
  EXPECT_EQ(c[0].spam, 1u);
  EXPECT_EQ(c[0].ham, 1u);  // only SQL has it: the image predates the pruned journal
}

TEST_F(SnapshotImageTest, AnImageFromAnotherTimelineOfTheDatabaseIsNotUsed) {
  const std::string backup = dir.file("backup.db");
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "big", Class::kSpam, tokens(1, kTokens)}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, ("VACUUM INTO '" + backup + "'").c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const std::vector<uint64_t> probe = {tokens(9, 1)[0]};
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "x", Class::kHam, probe}).ok());
  }
  EXPECT_EQ(counts(path, probe)[0].ham, 1u);  // the image now includes "x"
  ASSERT_TRUE(std::filesystem::exists(image));
  // Restore the backup (taken before "x"), then learn something else at the same journal seq.
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
  std::filesystem::copy_file(backup, path);
  {
    auto s = open_sqlite_store(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->learn({Scope::global(), "y", Class::kHam, {tokens(kTokens + 9, 1)}}).ok());
  }
  auto c = counts(path, probe);
  EXPECT_EQ(c[0].ham, 0u);  // "x" is not in the restored database
  EXPECT_EQ(c[0].spam, 1u);
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
