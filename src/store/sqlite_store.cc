// SQLite Store: the embedded default backend.
//
// Layout (schema version in PRAGMA user_version, forward-only migrations in kMigrations):
//   scopes(id, key)                         scope key text interned to a small integer
//   tokens(scope, token, ham, spam)         WITHOUT ROWID, rows at {0,0} are deleted
//   totals(scope, ham_messages, spam_messages)
//   learned(scope, digest, cls, tokens)     token list as recorded at learn time (LE uint64s)
//   changes(seq, scope, tokens)             short journal of touched tokens, see below
//   fuzzy(scope, digest, reporter, ...)     near-duplicate records; fuzzy_bands is their index
//   meta(key, value)                        'fuzzy_gen' bumps on every fuzzy write; 'store_id'
//                                           names this database for snapshot images
//
// Reads are served from per-scope in-memory snapshots (TokenTable) because a scan asks for
// hundreds of tokens in up to four scopes per message, which per-row SQLite lookups cannot do in
// budget. Coherence with other processes (the CLI learning while a daemon scans): every call
// reads PRAGMA data_version, which changes only when another connection commits; then the
// `changes` journal says which (scope, token)s were touched since our last position and we
// re-read exactly those rows. If the journal was pruned past our position, every snapshot is
// dropped and reloaded lazily. Own writes patch the snapshots after COMMIT succeeds. Every write
// to tokens/totals must therefore append to `changes`.
//
// Start-up: a large scope's snapshot is also written to an image file next to the database
// (snapshot_image.h) after it was loaded from SQL; the next process reads the image and replays
// the journal past the image's position instead of stepping through every token row.
//
// Thread-safety: one connection, one mutex; calls are serialised.
#include <sqlite3.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/huge_pages.h"
#include "core/sort_unique.h"
#include "store/le_blob.h"
#include "store/snapshot_image.h"
#include "store/store.h"
#include "store/token_table.h"

namespace mailsift::store {
namespace {

constexpr int64_t kJournalKeep = 4096;                    // entries kept for lagging readers
constexpr size_t kSnapshotBudgetBytes = size_t{1} << 30;  // evict LRU scopes beyond this
constexpr size_t kMaxSnapshots = 20000;
// Replaying more journal entries than this at start-up rewrites the scope's image.
constexpr int64_t kImageRewriteAfter = 256;
// SQLite page cache while the near-duplicate rows are read once at load (fuzzy_cache).
constexpr int64_t kFuzzyLoadCacheKiB = 256;

// Forward migrations: kMigrations[i] takes user_version i to i + 1.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE scopes(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
CREATE TABLE tokens(scope INTEGER NOT NULL, token INTEGER NOT NULL, ham INTEGER NOT NULL,
                    spam INTEGER NOT NULL, PRIMARY KEY(scope, token)) WITHOUT ROWID;
CREATE TABLE totals(scope INTEGER PRIMARY KEY, ham_messages INTEGER NOT NULL,
                    spam_messages INTEGER NOT NULL);
CREATE TABLE learned(scope INTEGER NOT NULL, digest TEXT NOT NULL, cls INTEGER NOT NULL,
                     tokens BLOB NOT NULL, PRIMARY KEY(scope, digest)) WITHOUT ROWID;
CREATE TABLE changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, scope INTEGER NOT NULL,
                     tokens BLOB NOT NULL);
CREATE TABLE fuzzy(scope INTEGER NOT NULL, digest TEXT NOT NULL, reporter TEXT NOT NULL,
                   cls INTEGER NOT NULL, bands BLOB NOT NULL, signature BLOB NOT NULL,
                   added_unix INTEGER NOT NULL, PRIMARY KEY(scope, digest, reporter)) WITHOUT ROWID;
CREATE TABLE fuzzy_bands(scope INTEGER NOT NULL, band INTEGER NOT NULL, digest TEXT NOT NULL,
                         reporter TEXT NOT NULL, PRIMARY KEY(scope, band, digest, reporter))
                         WITHOUT ROWID;
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('fuzzy_gen', 0);
)sql",
    // v2: an identity for snapshot images, so an image never applies to another database file.
    R"sql(
INSERT INTO meta(key, value) VALUES('store_id', random());
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

std::vector<uint64_t> sorted_unique(std::span<const uint64_t> tokens) {
  std::vector<uint64_t> v(tokens.begin(), tokens.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

uint32_t clamp_u32(int64_t v) {
  if (v < 0)
    return 0;
  if (v > std::numeric_limits<uint32_t>::max())
    return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(v);
}

// A prepared statement, prepared once and reused; Use resets it when a use ends.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }
  int prepare(sqlite3* db, const char* sql) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class Use {
 public:
  explicit Use(const Stmt& s) : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use& i64(int idx, int64_t v) {
    sqlite3_bind_int64(s_, idx, v);
    return *this;
  }
  Use& u64(int idx, uint64_t v) { return i64(idx, static_cast<int64_t>(v)); }
  Use& text(int idx, const std::string& v) {
    sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Use& blob(int idx, const std::string& v) {
    sqlite3_bind_blob(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  int64_t col_i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::string col_text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c))
             : std::string();
  }
  template <typename T>
  std::vector<T> col_blob(int c) const {
    return decode_le<T>(sqlite3_column_blob(s_, c), sqlite3_column_bytes(s_, c));
  }
  bool col_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  uint64_t col_hash(int c, uint64_t seed) const {
    return XXH3_64bits_withSeed(sqlite3_column_blob(s_, c),
                                static_cast<size_t>(sqlite3_column_bytes(s_, c)), seed);
  }

 private:
  sqlite3_stmt* s_;
};

struct Snapshot {
  TokenTable table;
  ClassTotals totals;
  uint64_t last_used = 0;
};

// Allocator for the near-duplicate band index: an array of 1 MiB or more on huge pages
// (core/huge_pages.h). Filling the ~1.5 MB index of the corpus store took ~375 page faults with
// 4 KiB pages; with a huge page it is one.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding is implicit
  T* allocate(size_t n) {
    return static_cast<T*>(allocate_maybe_huge(n * sizeof(T), alignof(T), size_t{1} << 20));
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

using FuzzyKey = std::pair<std::string, std::string>;  // (digest, reporter)
struct FuzzyCache {
  using Entry = std::pair<uint64_t, const FuzzyRecord*>;  // (band, record)
  std::map<FuzzyKey, FuzzyRecord> records;
  // The band index of the records loaded together from SQL: one sorted array, because one
  // hash node per (band, record) — ~90k on the corpus store — made building and freeing it
  // most of a CLI process's start-up. Records erased later leave a null entry here.
  std::vector<Entry, HugePageAllocator<Entry>> loaded;
  // Where each run of top-bit prefixes starts in `loaded` (~8 entries a prefix): a band is
  // found in the two or three cache lines of its prefix instead of by a binary search whose ~17
  // dependent probes of a 1.5 MB array were mostly cache misses (32 bands a scan). Kept small
  // (32 KiB for the corpus store): at start-up every page of it is a page fault.
  std::vector<uint32_t> prefix_start;
  int prefix_shift = 64;
  // Records added after the load (few: reports arriving while this process runs).
  std::unordered_multimap<uint64_t, const FuzzyRecord*> added;

  // One row read from SQL. Rows arrive ORDER BY digest, reporter, so the map's end is the right
  // place (no key comparisons down the tree); the SQL key is unique.
  void add_loaded(FuzzyRecord r) {
    FuzzyKey key{r.message_digest, r.reporter};
    records.emplace_hint(records.end(), std::move(key), std::move(r));
  }

  // After the last row: the band index of every record, ordered by band (lookups compare bands
  // only; the order of records within a band does not change any answer).
  void index_loaded() {
    size_t n = 0;
    for (const auto& [key, r] : records)
      n += r.bands.size();
    loaded.reserve(n);
    std::vector<uint64_t> bands;
    for (const auto& [key, r] : records) {
      bands.assign(r.bands.begin(), r.bands.end());
      sort_unique(bands);
      for (uint64_t b : bands)
        loaded.emplace_back(b, &r);
    }
    radix_sort_by_key(loaded);
    const int bits = std::clamp(static_cast<int>(std::bit_width(loaded.size())) - 3, 1, 20);
    prefix_shift = 64 - bits;
    prefix_start.assign((size_t{1} << bits) + 1, 0);
    for (const Entry& e : loaded)
      ++prefix_start[(e.first >> prefix_shift) + 1];
    for (size_t p = 1; p < prefix_start.size(); ++p)
      prefix_start[p] += prefix_start[p - 1];
  }

  static bool band_less(const Entry& e, uint64_t b) { return e.first < b; }

  // The index of the first entry of `loaded` whose band is >= b.
  size_t band_begin(uint64_t b) const {
    if (prefix_start.empty())
      return 0;  // nothing loaded
    const size_t p = b >> prefix_shift;
    auto first = loaded.begin();
    return static_cast<size_t>(
        std::lower_bound(first + prefix_start[p], first + prefix_start[p + 1], b, band_less) -
        first);
  }

  // f(record) for every live record in band b; a record is in a band at most once.
  template <typename F>
  void for_each_in_band(uint64_t b, F&& f) const {
    for (auto it = loaded.begin() + band_begin(b); it != loaded.end() && it->first == b; ++it) {
      if (it->second)
        f(it->second);
    }
    auto [from, to] = added.equal_range(b);
    for (auto it = from; it != to; ++it)
      f(it->second);
  }

  void insert(FuzzyRecord r) {
    FuzzyKey key{r.message_digest, r.reporter};
    erase(key);
    auto [it, _] = records.emplace(key, std::move(r));
    for (uint64_t b : sorted_unique(it->second.bands))
      added.emplace(b, &it->second);
  }

  void erase(const FuzzyKey& key) {
    auto it = records.find(key);
    if (it == records.end())
      return;
    const FuzzyRecord* doomed = &it->second;
    for (uint64_t b : sorted_unique(doomed->bands)) {
      for (auto e = loaded.begin() + band_begin(b); e != loaded.end() && e->first == b; ++e) {
        if (e->second == doomed)
          e->second = nullptr;
      }
      auto [from, to] = added.equal_range(b);
      for (auto e = from; e != to; ++e) {
        if (e->second == doomed) {
          added.erase(e);
          break;
        }
      }
    }
    records.erase(it);
  }
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, const SqliteOptions& options)
      : path_(std::move(path)),
        options_(options),
        images_(!path_.empty() && path_ != ":memory:" && path_.rfind("file:", 0) != 0) {}
  ~SqliteStore() override {
    // Statements must be finalised before the connection closes.
    stmts_.clear();
    if (db_)
      sqlite3_close_v2(db_);
  }

  Status open() {
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK)
      return fail(rc, "open");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, options_.busy_timeout_ms);
    if (auto s = exec("PRAGMA journal_mode=WAL"); !s)
      return s;
    if (auto s = exec("PRAGMA synchronous=FULL"); !s)
      return s;
    if (auto s = migrate(); !s)
      return s;
    if (auto s = prepare_all(); !s)
      return s;
    auto dv = read_data_version();
    if (!dv)
      return dv.error();
    data_version_ = *dv;
    if (auto s = read_positions(); !s)
      return s;
    return Ok{};
  }

  Result<std::vector<TokenCounts>> token_counts(const Scope& scope,
                                                std::span<const uint64_t> tokens) override {
    return guard<std::vector<TokenCounts>>([&]() -> Result<std::vector<TokenCounts>> {
      std::vector<TokenCounts> out(tokens.size());
      std::lock_guard lock(mu_);
      auto snap = snapshot_for(scope);
      if (!snap)
        return snap.error();
      if (*snap)
        (*snap)->table.lookup_many(tokens, out.data());
      return out;
    });
  }

  Result<ClassTotals> totals(const Scope& scope) override {
    return guard<ClassTotals>([&]() -> Result<ClassTotals> {
      std::lock_guard lock(mu_);
      auto snap = snapshot_for(scope);
      if (!snap)
        return snap.error();
      return *snap ? (*snap)->totals : ClassTotals{};
    });
  }

  Result<LearnOutcome> learn(const LearnRequest& request) override {
    return guard<LearnOutcome>([&]() -> Result<LearnOutcome> {
      return write_txn<LearnOutcome>([&](Txn& t) { return do_learn(t, request); });
    });
  }

  // The whole batch is one transaction: all or nothing.
  Result<std::vector<LearnOutcome>> learn_batch(std::span<const LearnRequest> requests) override {
    return guard<std::vector<LearnOutcome>>([&]() -> Result<std::vector<LearnOutcome>> {
      return write_txn<std::vector<LearnOutcome>>([&](Txn& t) -> Result<std::vector<LearnOutcome>> {
        std::vector<LearnOutcome> out;
        out.reserve(requests.size());
        for (const LearnRequest& r : requests) {
          auto o = do_learn(t, r);
          if (!o)
            return o.error();
          out.push_back(*o);
        }
        return out;
      });
    });
  }

  Result<LearnOutcome> unlearn(const Scope& scope, const std::string& message_digest,
                               Class cls) override {
    return guard<LearnOutcome>([&]() -> Result<LearnOutcome> {
      return write_txn<LearnOutcome>(
          [&](Txn& t) { return do_unlearn(t, scope, message_digest, cls); });
    });
  }

  Status fuzzy_add(const Scope& scope, const FuzzyRecord& record) override {
    return fuzzy_add_batch(scope, std::span<const FuzzyRecord>(&record, 1));
  }

  // The whole batch is one transaction: all or nothing.
  Status fuzzy_add_batch(const Scope& scope, std::span<const FuzzyRecord> records) override {
    if (records.empty())
      return Ok{};
    auto r = guard<bool>([&]() -> Result<bool> {
      return write_txn<bool>([&](Txn& t) -> Result<bool> {
        auto id = scope_id(t, scope, /*create=*/true);
        if (!id)
          return id.error();
        for (const FuzzyRecord& record : records) {
          if (auto s = delete_fuzzy(**id, record.message_digest, &record.reporter); !s)
            return s.error();
          Use ins(*stmts_.at("fuzzy_insert"));
          ins.i64(1, **id)
              .text(2, record.message_digest)
              .text(3, record.reporter)
              .i64(4, static_cast<int>(record.cls));
          std::string bands = encode_le(record.bands), sig = encode_le(record.signature);
          ins.blob(5, bands).blob(6, sig).i64(7, record.added_unix);
          if (int rc = ins.step(); rc != SQLITE_DONE)
            return fail(rc, "fuzzy insert");
          for (uint64_t b : sorted_unique(record.bands)) {
            Use bi(*stmts_.at("fuzzy_band_insert"));
            bi.i64(1, **id).u64(2, b).text(3, record.message_digest).text(4, record.reporter);
            if (int rc = bi.step(); rc != SQLITE_DONE)
              return fail(rc, "fuzzy band insert");
          }
          t.after_commit.push_back([this, sid = **id, record] {
            if (auto it = fuzzy_.find(sid); it != fuzzy_.end())
              it->second.insert(record);
          });
        }
        if (auto s = bump_fuzzy_gen(t); !s)
          return s.error();
        return true;
      });
    });
    if (!r)
      return r.error();
    return Ok{};
  }

  Status fuzzy_remove(const Scope& scope, const std::string& message_digest) override {
    auto r = guard<bool>([&]() -> Result<bool> {
      return write_txn<bool>([&](Txn& t) -> Result<bool> {
        auto id = scope_id(t, scope, /*create=*/false);
        if (!id)
          return id.error();
        if (!*id)
          return true;
        if (auto s = delete_fuzzy(**id, message_digest, nullptr); !s)
          return s.error();
        if (auto s = bump_fuzzy_gen(t); !s)
          return s.error();
        t.after_commit.push_back([this, sid = **id, message_digest] {
          auto it = fuzzy_.find(sid);
          if (it == fuzzy_.end())
            return;
          std::vector<FuzzyKey> doomed;
          for (auto r = it->second.records.lower_bound({message_digest, ""});
               r != it->second.records.end() && r->first.first == message_digest; ++r) {
            doomed.push_back(r->first);
          }
          for (const auto& k : doomed)
            it->second.erase(k);
        });
        return true;
      });
    });
    if (!r)
      return r.error();
    return Ok{};
  }

  Result<std::vector<FuzzyRecord>> fuzzy_candidates(const Scope& scope,
                                                    std::span<const uint64_t> bands,
                                                    size_t limit) override {
    return guard<std::vector<FuzzyRecord>>([&]() -> Result<std::vector<FuzzyRecord>> {
      std::lock_guard lock(mu_);
      std::vector<FuzzyRecord> out;
      if (auto s = sync(); !s)
        return s.error();
      auto id = cached_scope_id(scope);
      if (!id)
        return id.error();
      if (!*id || limit == 0)
        return out;
      auto cache = fuzzy_cache(**id);
      if (!cache)
        return cache.error();
      std::unordered_map<const FuzzyRecord*, size_t> shared;
      for (uint64_t b : sorted_unique(bands))
        (*cache)->for_each_in_band(b, [&shared](const FuzzyRecord* r) { ++shared[r]; });
      std::vector<std::pair<size_t, const FuzzyRecord*>> hits;
      for (const auto& [r, n] : shared)
        hits.emplace_back(n, r);
      // Same order as every backend: most shared bands first, then (digest, reporter).
      std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
        if (a.first != b.first)
          return a.first > b.first;
        return std::tie(a.second->message_digest, a.second->reporter) <
               std::tie(b.second->message_digest, b.second->reporter);
      });
      for (size_t i = 0; i < hits.size() && i < limit; ++i)
        out.push_back(*hits[i].second);
      return out;
    });
  }

 private:
  // State of one write transaction: effects applied to in-memory caches only after COMMIT.
  struct Txn {
    std::vector<std::function<void()>> after_commit;
    std::unordered_map<std::string, int64_t> created_scopes;  // not yet in scope_ids_
  };

  Error fail(int rc, std::string_view what) const {
    std::string msg = fmt::format("sqlite store {}: {}: {}", path_, what, sqlite3_errstr(rc));
    if (db_ && sqlite3_errcode(db_) == rc) {
      std::string detail = sqlite3_errmsg(db_);
      if (detail != sqlite3_errstr(rc))
        msg += " (" + detail + ")";
    }
    int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
      msg +=
          "; the database file is damaged or not a mailsift store: restore it from a backup "
          "or move it away and retrain";
    }
    return Error::temporary(std::move(msg));
  }

  template <typename T, typename F>
  Result<T> guard(F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return Error::temporary(fmt::format("sqlite store {}: {}", path_, e.what()));
    }
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK)
      return fail(rc, sql);
    return Ok{};
  }

  Status migrate() {
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    auto rollback = [&](Error e) -> Status {
      (void)exec("ROLLBACK");
      return e;
    };
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr);
    if (rc != SQLITE_OK)
      return rollback(fail(rc, "read schema version"));
    rc = sqlite3_step(st);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
      return rollback(fail(rc, "read schema version"));
    if (version > kSchemaVersion) {
      return rollback(Error::config(fmt::format(
          "sqlite store {}: schema version {} is newer than this mailsift understands ({})", path_,
          version, kSchemaVersion)));
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      if (auto s = exec(kMigrations[v]); !s)
        return rollback(s.error());
    }
    if (version != kSchemaVersion) {
      std::string set = fmt::format("PRAGMA user_version={}", kSchemaVersion);
      if (auto s = exec(set.c_str()); !s)
        return rollback(s.error());
    }
    return exec("COMMIT");
  }

  Status prepare_all() {
    static const std::pair<const char*, const char*> kSql[] = {
        {"data_version", "PRAGMA data_version"},
        {"begin", "BEGIN"},
        {"begin_immediate", "BEGIN IMMEDIATE"},
        {"commit", "COMMIT"},
        {"scope_get", "SELECT id FROM scopes WHERE key=?1"},
        {"scope_insert", "INSERT INTO scopes(key) VALUES(?1)"},
        {"load_tokens", "SELECT token, ham, spam FROM tokens WHERE scope=?1"},
        {"token_get", "SELECT ham, spam FROM tokens WHERE scope=?1 AND token=?2"},
        {"tokens_add",
         "INSERT INTO tokens(scope, token, ham, spam) "
         "SELECT ?1, value, ?2, ?3 FROM json_each(?4) WHERE true "
         "ON CONFLICT(scope, token) DO UPDATE SET ham=min(ham+excluded.ham, 4294967295), "
         "spam=min(spam+excluded.spam, 4294967295) RETURNING token, ham, spam"},
        {"tokens_sub",
         "UPDATE tokens SET ham=max(ham-?2, 0), spam=max(spam-?3, 0) "
         "WHERE scope=?1 AND token IN (SELECT value FROM json_each(?4)) "
         "RETURNING token, ham, spam"},
        {"tokens_delete_zero",
         "DELETE FROM tokens WHERE scope=?1 AND ham=0 AND spam=0 "
         "AND token IN (SELECT value FROM json_each(?2))"},
        {"totals_get", "SELECT ham_messages, spam_messages FROM totals WHERE scope=?1"},
        {"totals_add",
         "INSERT INTO totals(scope, ham_messages, spam_messages) VALUES(?1, max(?2, 0), "
         "max(?3, 0)) ON CONFLICT(scope) DO UPDATE SET "
         "ham_messages=max(ham_messages+?2, 0), spam_messages=max(spam_messages+?3, 0) "
         "RETURNING ham_messages, spam_messages"},
        {"totals_delete", "DELETE FROM totals WHERE scope=?1"},
        {"learned_get", "SELECT cls, tokens FROM learned WHERE scope=?1 AND digest=?2"},
        {"learned_put",
         "INSERT OR REPLACE INTO learned(scope, digest, cls, tokens) VALUES(?1, ?2, ?3, ?4)"},
        {"learned_delete", "DELETE FROM learned WHERE scope=?1 AND digest=?2"},
        {"journal_insert", "INSERT INTO changes(scope, tokens) VALUES(?1, ?2)"},
        {"journal_since", "SELECT seq, scope, tokens FROM changes WHERE seq > ?1 ORDER BY seq"},
        // Two subqueries: SQLite answers a lone min() or max() from the rowid b-tree, but
        // min() and max() in one SELECT scan the whole journal (~4,000 rows of token lists).
        {"journal_bounds", "SELECT (SELECT min(seq) FROM changes), (SELECT max(seq) FROM changes)"},
        {"journal_at", "SELECT scope, tokens FROM changes WHERE seq=?1"},
        {"journal_prune", "DELETE FROM changes WHERE seq <= ?1"},
        {"fuzzy_gen_get", "SELECT value FROM meta WHERE key='fuzzy_gen'"},
        {"cache_size_get", "PRAGMA cache_size"},
        {"store_id_get", "SELECT value FROM meta WHERE key='store_id'"},
        {"fuzzy_gen_bump", "UPDATE meta SET value=value+1 WHERE key='fuzzy_gen' RETURNING value"},
        {"fuzzy_load",
         "SELECT digest, reporter, cls, bands, signature, added_unix FROM fuzzy WHERE scope=?1 "
         "ORDER BY digest, reporter"},
        {"fuzzy_select_digest", "SELECT reporter, bands FROM fuzzy WHERE scope=?1 AND digest=?2"},
        {"fuzzy_insert",
         "INSERT INTO fuzzy(scope, digest, reporter, cls, bands, signature, added_unix) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {"fuzzy_delete", "DELETE FROM fuzzy WHERE scope=?1 AND digest=?2 AND reporter=?3"},
        {"fuzzy_band_insert",
         "INSERT OR IGNORE INTO fuzzy_bands(scope, band, digest, reporter) "
         "VALUES(?1, ?2, ?3, ?4)"},
        {"fuzzy_band_delete",
         "DELETE FROM fuzzy_bands WHERE scope=?1 AND band=?2 AND digest=?3 AND reporter=?4"},
    };
    for (const auto& [name, sql] : kSql) {
      auto st = std::make_unique<Stmt>();
      if (int rc = st->prepare(db_, sql); rc != SQLITE_OK)
        return fail(rc, name);
      stmts_[name] = std::move(st);
    }
    return Ok{};
  }

  Status step_done(const char* name) {
    Use u(*stmts_.at(name));
    int rc = u.step();
    if (rc != SQLITE_DONE)
      return fail(rc, name);
    return Ok{};
  }

  Result<int64_t> read_data_version() {
    Use u(*stmts_.at("data_version"));
    int rc = u.step();
    if (rc != SQLITE_ROW)
      return fail(rc, "data_version");
    return u.col_i64(0);
  }

  // Our journal and fuzzy-generation positions as of now (nothing cached yet).
  Status read_positions() {
    {
      Use u(*stmts_.at("journal_bounds"));
      int rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "journal bounds");
      journal_seq_ = u.col_null(1) ? 0 : u.col_i64(1);
    }
    {
      Use id(*stmts_.at("store_id_get"));
      if (int rc = id.step(); rc != SQLITE_ROW)
        return fail(rc, "store id");
      store_id_ = id.col_i64(0);
    }
    Use g(*stmts_.at("fuzzy_gen_get"));
    int rc = g.step();
    if (rc != SQLITE_ROW)
      return fail(rc, "fuzzy generation");
    fuzzy_gen_ = g.col_i64(0);
    return Ok{};
  }

  // Bring caches up to date with commits made by other connections. Caller holds mu_.
  Status sync() {
    WalHeader seen;
    const bool have_header = read_wal_header(seen);
    if (have_header && header_valid_ && seen == last_header_)
      return Ok{};
    auto dv = read_data_version();
    if (!dv)
      return dv.error();
    // Remember the header as it was before we looked: a commit after this shows up as a change.
    auto remember = [&] {
      last_header_ = seen;
      header_valid_ = have_header;
    };
    if (*dv == data_version_) {
      remember();
      return Ok{};
    }
    if (auto s = step_done("begin"); !s)
      return s;
    Status s = catch_up();
    if (s)
      s = step_done("commit");
    if (!s) {
      (void)exec("ROLLBACK");
      return s;
    }
    data_version_ = *dv;
    remember();
    return Ok{};
  }

  // The WAL-index header lives in the shared memory every connection to this database maps
  // (documented in SQLite's walformat: two 48-byte copies at offset 0; iChange is bumped by every
  // commit and WAL reset). Reading it costs no syscall, unlike PRAGMA data_version (four here:
  // fcntl lock/unlock, fstat, pread). A changed or unreadable header falls back to
  // data_version. We use this connection's own mapping (xShmMap), never a second descriptor:
  // closing one would drop the process's POSIX locks on the file.
  struct WalHeader {
    unsigned char bytes[48];
    bool operator==(const WalHeader& o) const { return std::memcmp(bytes, o.bytes, 48) == 0; }
  };
  bool read_wal_header(WalHeader& out) {
    if (!wal_index_) {
      sqlite3_file* file = nullptr;
      if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
          !file || !file->pMethods || file->pMethods->iVersion < 2 || !file->pMethods->xShmMap) {
        return false;
      }
      void volatile* region = nullptr;
      if (file->pMethods->xShmMap(file, 0, 32768, 0, &region) != SQLITE_OK || !region) {
        return false;
      }
      wal_index_ = static_cast<const volatile unsigned char*>(region);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    for (size_t i = 0; i < sizeof out.bytes; ++i)
      out.bytes[i] = wal_index_[i];
    std::atomic_thread_fence(std::memory_order_acquire);
    return true;
  }

  // Inside an open transaction: re-read every (scope, token) another connection touched.
  Status catch_up() {
    negative_scopes_.clear();  // another process may have created scopes
    int64_t min_seq = 0, max_seq = 0;
    {
      Use u(*stmts_.at("journal_bounds"));
      int rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "journal bounds");
      if (!u.col_null(0)) {
        min_seq = u.col_i64(0);
        max_seq = u.col_i64(1);
      }
    }
    if (max_seq < journal_seq_ || (max_seq > journal_seq_ && min_seq > journal_seq_ + 1)) {
      // Pruned past our position (or the file was replaced): start over lazily.
      snapshots_.clear();
      snapshot_bytes_ = 0;
    } else if (max_seq > journal_seq_ && !snapshots_.empty()) {
      std::unordered_set<int64_t> dirty_totals;
      Use u(*stmts_.at("journal_since"));
      u.i64(1, journal_seq_);
      int rc;
      while ((rc = u.step()) == SQLITE_ROW) {
        int64_t sid = u.col_i64(1);
        auto it = snapshots_.find(sid);
        if (it == snapshots_.end())
          continue;
        dirty_totals.insert(sid);
        for (uint64_t token : u.col_blob<uint64_t>(2)) {
          auto c = read_token(sid, token);
          if (!c)
            return c.error();
          it->second->table.set(token, *c);
        }
      }
      if (rc != SQLITE_DONE)
        return fail(rc, "journal read");
      for (int64_t sid : dirty_totals) {
        auto t = read_totals(sid);
        if (!t)
          return t.error();
        snapshots_[sid]->totals = *t;
      }
    }
    journal_seq_ = max_seq;
    Use g(*stmts_.at("fuzzy_gen_get"));
    int rc = g.step();
    if (rc != SQLITE_ROW)
      return fail(rc, "fuzzy generation");
    if (g.col_i64(0) != fuzzy_gen_) {
      fuzzy_.clear();
      fuzzy_gen_ = g.col_i64(0);
    }
    return Ok{};
  }

  Result<TokenCounts> read_token(int64_t sid, uint64_t token) {
    Use u(*stmts_.at("token_get"));
    u.i64(1, sid).u64(2, token);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return TokenCounts{};
    if (rc != SQLITE_ROW)
      return fail(rc, "token read");
    return TokenCounts{clamp_u32(u.col_i64(0)), clamp_u32(u.col_i64(1))};
  }

  Result<ClassTotals> read_totals(int64_t sid) {
    Use u(*stmts_.at("totals_get"));
    u.i64(1, sid);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return ClassTotals{};
    if (rc != SQLITE_ROW)
      return fail(rc, "totals read");
    return ClassTotals{static_cast<uint64_t>(std::max<int64_t>(0, u.col_i64(0))),
                       static_cast<uint64_t>(std::max<int64_t>(0, u.col_i64(1)))};
  }

  // Scope id lookup for readers: never creates. nullopt = scope has no data.
  Result<std::optional<int64_t>> cached_scope_id(const Scope& scope) {
    std::string key = scope.key();
    if (auto it = scope_ids_.find(key); it != scope_ids_.end())
      return {it->second};
    if (negative_scopes_.count(key))
      return {std::nullopt};
    Use u(*stmts_.at("scope_get"));
    u.text(1, key);
    int rc = u.step();
    if (rc == SQLITE_DONE) {
      negative_scopes_.insert(key);
      return {std::nullopt};
    }
    if (rc != SQLITE_ROW)
      return fail(rc, "scope lookup");
    scope_ids_[key] = u.col_i64(0);
    return {u.col_i64(0)};
  }

  // Inside a write transaction; a created id is only cached after COMMIT.
  Result<std::optional<int64_t>> scope_id(Txn& t, const Scope& scope, bool create) {
    std::string key = scope.key();
    if (auto it = t.created_scopes.find(key); it != t.created_scopes.end()) {
      return {std::optional<int64_t>(it->second)};
    }
    auto id = cached_scope_id(scope);
    if (!id || *id || !create)
      return id;
    Use u(*stmts_.at("scope_insert"));
    u.text(1, key);
    if (int rc = u.step(); rc != SQLITE_DONE)
      return fail(rc, "scope insert");
    int64_t sid = sqlite3_last_insert_rowid(db_);
    t.created_scopes[key] = sid;
    t.after_commit.push_back([this, key, sid] {
      negative_scopes_.erase(key);
      scope_ids_[key] = sid;
    });
    return {std::optional<int64_t>(sid)};
  }

  // Snapshot for a scope (loaded on first use); nullptr when the scope has no data.
  // Caller holds mu_ for as long as it uses the pointer.
  Result<Snapshot*> snapshot_for(const Scope& scope) {
    if (auto s = sync(); !s)
      return s.error();
    auto id = cached_scope_id(scope);
    if (!id)
      return id.error();
    if (!*id)
      return static_cast<Snapshot*>(nullptr);
    return load_snapshot(**id);
  }

  Result<Snapshot*> load_snapshot(int64_t sid) {
    if (auto it = snapshots_.find(sid); it != snapshots_.end()) {
      it->second->last_used = ++tick_;
      return it->second.get();
    }
    auto snap = std::make_unique<Snapshot>();
    if (auto s = step_done("begin"); !s)
      return s.error();
    auto finish = [&](Status s) -> Status {
      if (s)
        s = step_done("commit");
      if (!s)
        (void)exec("ROLLBACK");
      return s;
    };
    auto replayed = load_from_image(sid, *snap);
    if (!replayed)
      return finish(replayed.error()).error();
    const bool from_image = *replayed >= 0;
    if (!from_image) {
      Use u(*stmts_.at("load_tokens"));
      u.i64(1, sid);
      int rc;
      // Collected first so the table is sized once (growing it row by row rehashes ~60 times).
      std::vector<std::pair<uint64_t, TokenCounts>> rows;
      while ((rc = u.step()) == SQLITE_ROW) {
        rows.emplace_back(static_cast<uint64_t>(u.col_i64(0)),
                          TokenCounts{clamp_u32(u.col_i64(1)), clamp_u32(u.col_i64(2))});
      }
      if (rc != SQLITE_DONE)
        return finish(fail(rc, "load tokens")).error();
      snap->table.reserve(rows.size());
      for (const auto& [token, c] : rows)
        snap->table.set(token, c);
    }
    auto t = read_totals(sid);
    if (!t)
      return finish(t.error()).error();
    snap->totals = *t;
    // A fresh image after a SQL load, or when the journal replay grew long. Its position (the
    // journal row's hash) is read in this transaction, and only when an image will be written.
    std::optional<ImagePosition> write_at;
    if (images_ && snap->table.size() >= kSnapshotImageMinTokens &&
        (!from_image || *replayed > kImageRewriteAfter)) {
      auto bounds = journal_bounds();
      if (!bounds)
        return finish(bounds.error()).error();
      auto here = image_position(bounds->second);
      if (!here)
        return finish(here.error()).error();
      write_at = *here;
    }
    if (auto s = finish(Ok{}); !s)
      return s.error();
    // Failing to write an image only costs the next start its speed: not an error.
    if (write_at)
      (void)write_snapshot_image(snapshot_image_path(path_, sid), {store_id_, sid}, *write_at,
                                 snap->table);
    snap->last_used = ++tick_;
    snapshot_bytes_ += snap->table.memory_bytes();
    Snapshot* raw = snap.get();
    snapshots_[sid] = std::move(snap);
    evict_snapshots(sid);
    return raw;
  }

  Result<std::pair<int64_t, int64_t>> journal_bounds() {
    Use u(*stmts_.at("journal_bounds"));
    int rc = u.step();
    if (rc != SQLITE_ROW)
      return fail(rc, "journal bounds");
    if (u.col_null(0))
      return std::pair<int64_t, int64_t>{0, 0};
    return std::pair<int64_t, int64_t>{u.col_i64(0), u.col_i64(1)};
  }

  // The journal position `seq` with the hash of its row (inside a read transaction).
  Result<ImagePosition> image_position(int64_t seq) {
    if (seq == 0)
      return ImagePosition{};
    Use u(*stmts_.at("journal_at"));
    u.i64(1, seq);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return ImagePosition{seq, 0};  // pruned: no image can be checked against it
    if (rc != SQLITE_ROW)
      return fail(rc, "journal row");
    // Never 0, which means "no row".
    return ImagePosition{seq, u.col_hash(1, static_cast<uint64_t>(u.col_i64(0))) | 1};
  }

  // Inside a read transaction: fills snap.table from the scope's image and replays the journal
  // entries after it. Returns how many entries were replayed, or -1 when there is no usable
  // image (none, foreign, corrupt, from another timeline of this database, or older than what
  // the journal still holds).
  Result<int64_t> load_from_image(int64_t sid, Snapshot& snap) {
    if (!images_)
      return int64_t{-1};
    auto at = read_snapshot_image(snapshot_image_path(path_, sid), {store_id_, sid}, snap.table);
    if (!at)
      return int64_t{-1};
    auto bounds = journal_bounds();
    if (!bounds)
      return bounds.error();
    const auto [min_seq, max_seq] = *bounds;
    // The journal must still hold every entry after the image (and, for the hash check, the
    // entry the image stands on).
    bool usable =
        at->seq <= max_seq && (at->seq == 0 ? max_seq == 0 || min_seq <= 1 : at->seq >= min_seq);
    if (usable && at->seq > 0) {
      // The row the image stands on must be the same row today.
      auto then = image_position(at->seq);
      if (!then)
        return then.error();
      usable = then->row_hash != 0 && then->row_hash == at->row_hash;
    }
    if (!usable) {
      snap.table = TokenTable();
      return int64_t{-1};
    }
    int64_t replayed = 0;
    if (at->seq < max_seq) {
      Use u(*stmts_.at("journal_since"));
      u.i64(1, at->seq);
      int rc;
      while ((rc = u.step()) == SQLITE_ROW) {
        if (u.col_i64(1) != sid)
          continue;
        ++replayed;
        for (uint64_t token : u.col_blob<uint64_t>(2)) {
          auto c = read_token(sid, token);
          if (!c)
            return c.error();
          snap.table.set(token, *c);
        }
      }
      if (rc != SQLITE_DONE)
        return fail(rc, "journal read");
    }
    return replayed;
  }

  // Least-recently-used scopes go first; the one just loaded stays.
  void evict_snapshots(int64_t keep) {
    while ((snapshot_bytes_ > kSnapshotBudgetBytes || snapshots_.size() > kMaxSnapshots) &&
           snapshots_.size() > 1) {
      auto victim = snapshots_.end();
      for (auto it = snapshots_.begin(); it != snapshots_.end(); ++it) {
        if (it->first == keep)
          continue;
        if (victim == snapshots_.end() || it->second->last_used < victim->second->last_used)
          victim = it;
      }
      if (victim == snapshots_.end())
        break;
      snapshot_bytes_ -= victim->second->table.memory_bytes();
      snapshots_.erase(victim);
    }
  }

  Result<FuzzyCache*> fuzzy_cache(int64_t sid) {
    if (auto it = fuzzy_.find(sid); it != fuzzy_.end())
      return &it->second;
    FuzzyCache cache;
    // The scan reads every fuzzy row once (~3 MB on the corpus store): through the default 2 MB
    // page cache that is ~500 freshly touched heap pages nothing reads again. A small cache for
    // this one scan recycles its pages; the connection's own size is put back after.
    int64_t cache_pages = 0;
    {
      Use c(*stmts_.at("cache_size_get"));
      if (c.step() == SQLITE_ROW)
        cache_pages = c.col_i64(0);
    }
    const bool shrink = cache_pages != 0 && cache_pages != -kFuzzyLoadCacheKiB;
    if (shrink)
      (void)exec(fmt::format("PRAGMA cache_size={}", -kFuzzyLoadCacheKiB).c_str());
    struct Restore {
      SqliteStore* self;
      bool on;
      int64_t pages;
      ~Restore() {
        if (on)
          (void)self->exec(fmt::format("PRAGMA cache_size={}", pages).c_str());
      }
    } restore{this, shrink, cache_pages};
    if (auto s = step_done("begin"); !s)
      return s.error();
    Use u(*stmts_.at("fuzzy_load"));
    u.i64(1, sid);
    int rc;
    // Straight into the cache's map: no vector of rows to grow, copy and free (on a machine
    // where page faults are dear, touching that memory cost more than the copying).
    while ((rc = u.step()) == SQLITE_ROW) {
      FuzzyRecord r;
      r.message_digest = u.col_text(0);
      r.reporter = u.col_text(1);
      r.cls = u.col_i64(2) == 0 ? Class::kHam : Class::kSpam;
      r.bands = u.col_blob<uint64_t>(3);
      r.signature = u.col_blob<uint32_t>(4);
      r.added_unix = u.col_i64(5);
      cache.add_loaded(std::move(r));
    }
    cache.index_loaded();
    Status s = rc == SQLITE_DONE ? Status(Ok{}) : Status(fail(rc, "fuzzy load"));
    if (s)
      s = step_done("commit");
    if (!s) {
      (void)exec("ROLLBACK");
      return s.error();
    }
    return &(fuzzy_[sid] = std::move(cache));
  }

  // Runs body in BEGIN IMMEDIATE ... COMMIT under mu_; rolls back on any error.
  template <typename T, typename F>
  Result<T> write_txn(F&& body) {
    std::lock_guard lock(mu_);
    if (auto s = step_done("begin_immediate"); !s)
      return s.error();
    Txn txn;
    auto result = [&]() -> Result<T> {
      // We hold the write lock: nobody else can commit until we do, so catching up here makes
      // our snapshots exact before we patch them.
      auto dv = read_data_version();
      if (!dv)
        return dv.error();
      if (*dv != data_version_) {
        if (auto s = catch_up(); !s)
          return s.error();
        data_version_ = *dv;
      }
      return body(txn);
    }();
    if (result) {
      if (auto s = step_done("commit"); !s)
        result = s.error();
    }
    if (!result) {
      (void)exec("ROLLBACK");
      return result;
    }
    for (auto& f : txn.after_commit)
      f();
    return result;
  }

  Status bump_fuzzy_gen(Txn& t) {
    Use u(*stmts_.at("fuzzy_gen_bump"));
    int rc = u.step();
    if (rc != SQLITE_ROW)
      return fail(rc, "fuzzy generation");
    int64_t gen = u.col_i64(0);
    t.after_commit.push_back([this, gen] { fuzzy_gen_ = gen; });
    return Ok{};
  }

  // Deletes (scope, digest) fuzzy records and their band rows; only `reporter`'s if given.
  Status delete_fuzzy(int64_t sid, const std::string& digest, const std::string* reporter) {
    std::vector<std::pair<std::string, std::vector<uint64_t>>> doomed;
    {
      Use u(*stmts_.at("fuzzy_select_digest"));
      u.i64(1, sid).text(2, digest);
      int rc;
      while ((rc = u.step()) == SQLITE_ROW) {
        std::string rep = u.col_text(0);
        if (reporter && rep != *reporter)
          continue;
        doomed.emplace_back(std::move(rep), u.col_blob<uint64_t>(1));
      }
      if (rc != SQLITE_DONE)
        return fail(rc, "fuzzy select");
    }
    for (const auto& [rep, bands] : doomed) {
      for (uint64_t b : sorted_unique(bands)) {
        Use d(*stmts_.at("fuzzy_band_delete"));
        d.i64(1, sid).u64(2, b).text(3, digest).text(4, rep);
        if (int rc = d.step(); rc != SQLITE_DONE)
          return fail(rc, "fuzzy band delete");
      }
      Use d(*stmts_.at("fuzzy_delete"));
      d.i64(1, sid).text(2, digest).text(3, rep);
      if (int rc = d.step(); rc != SQLITE_DONE)
        return fail(rc, "fuzzy delete");
    }
    return Ok{};
  }

  // Adds +1 (or removes 1) of `cls` for each token; records new values for the snapshot.
  // Adds +1 (or removes 1) of `cls` for each (distinct) token; records the new values for the
  // snapshot. One statement per direction over a JSON array of the tokens: 500 single-row
  // statements cost several times more (VDBE setup and a statement journal each).
  Status apply_tokens(Txn& t, int64_t sid, const std::vector<uint64_t>& tokens, Class cls, bool add,
                      std::vector<std::pair<uint64_t, TokenCounts>>& updates) {
    if (tokens.empty())
      return Ok{};
    const int64_t ham = cls == Class::kHam ? 1 : 0, spam = 1 - ham;
    std::string json = "[";
    for (uint64_t token : tokens) {
      if (json.size() > 1)
        json += ',';
      json += std::to_string(static_cast<int64_t>(token));
    }
    json += ']';
    if (!add) {  // tokens without a row stay absent: nothing to take away, never underflow
      for (uint64_t token : tokens)
        updates.emplace_back(token, TokenCounts{});
    }
    bool zeroed = false;
    {
      Use u(*stmts_.at(add ? "tokens_add" : "tokens_sub"));
      u.i64(1, sid).i64(2, ham).i64(3, spam).text(4, json);
      int rc;
      while ((rc = u.step()) == SQLITE_ROW) {
        TokenCounts c{clamp_u32(u.col_i64(1)), clamp_u32(u.col_i64(2))};
        zeroed |= c.ham == 0 && c.spam == 0;
        updates.emplace_back(static_cast<uint64_t>(u.col_i64(0)), c);
      }
      if (rc != SQLITE_DONE)
        return fail(rc, add ? "token add" : "token subtract");
    }
    if (zeroed) {
      Use d(*stmts_.at("tokens_delete_zero"));
      d.i64(1, sid).text(2, json);
      if (int rc = d.step(); rc != SQLITE_DONE)
        return fail(rc, "token delete");
    }
    return Ok{};
  }

  Status apply_totals(Txn& t, int64_t sid, Class cls, int64_t delta, ClassTotals& out) {
    Use u(*stmts_.at("totals_add"));
    u.i64(1, sid).i64(2, cls == Class::kHam ? delta : 0).i64(3, cls == Class::kSpam ? delta : 0);
    int rc = u.step();
    if (rc != SQLITE_ROW)
      return fail(rc, "totals update");
    out = {static_cast<uint64_t>(std::max<int64_t>(0, u.col_i64(0))),
           static_cast<uint64_t>(std::max<int64_t>(0, u.col_i64(1)))};
    if (u.step() != SQLITE_DONE)
      return fail(SQLITE_ERROR, "totals update returned >1 row");
    if (out.ham_messages == 0 && out.spam_messages == 0) {
      Use d(*stmts_.at("totals_delete"));
      d.i64(1, sid);
      if (int drc = d.step(); drc != SQLITE_DONE)
        return fail(drc, "totals delete");
    }
    return Ok{};
  }

  // Journal entry + deferred snapshot patch for one write.
  Status finish_write(Txn& t, int64_t sid, std::vector<uint64_t> touched,
                      std::vector<std::pair<uint64_t, TokenCounts>> updates, ClassTotals totals) {
    touched = sorted_unique(touched);
    std::string blob = encode_le(touched);
    {
      Use u(*stmts_.at("journal_insert"));
      u.i64(1, sid).blob(2, blob);
      if (int rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "journal insert");
    }
    int64_t seq = sqlite3_last_insert_rowid(db_);
    if (seq % 256 == 0) {
      Use p(*stmts_.at("journal_prune"));
      p.i64(1, seq - kJournalKeep);
      if (int rc = p.step(); rc != SQLITE_DONE)
        return fail(rc, "journal prune");
    }
    t.after_commit.push_back([this, sid, seq, updates = std::move(updates), totals] {
      journal_seq_ = seq;
      auto it = snapshots_.find(sid);
      if (it == snapshots_.end())
        return;
      size_t before = it->second->table.memory_bytes();
      for (const auto& [token, c] : updates)
        it->second->table.set(token, c);
      snapshot_bytes_ += it->second->table.memory_bytes() - before;
      it->second->totals = totals;
    });
    return Ok{};
  }

  struct LearnedRow {
    Class cls;
    std::vector<uint64_t> tokens;
  };
  Result<std::optional<LearnedRow>> read_learned(int64_t sid, const std::string& digest) {
    Use u(*stmts_.at("learned_get"));
    u.i64(1, sid).text(2, digest);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return {std::nullopt};
    if (rc != SQLITE_ROW)
      return fail(rc, "learned read");
    return {LearnedRow{u.col_i64(0) == 0 ? Class::kHam : Class::kSpam, u.col_blob<uint64_t>(1)}};
  }

  Result<LearnOutcome> do_learn(Txn& t, const LearnRequest& req) {
    auto id = scope_id(t, req.scope, /*create=*/true);
    if (!id)
      return id.error();
    const int64_t sid = **id;
    auto prev = read_learned(sid, req.message_digest);
    if (!prev)
      return prev.error();
    if (*prev && (*prev)->cls == req.cls)
      return LearnOutcome::kAlreadyLearned;

    std::vector<uint64_t> tokens = sorted_unique(req.tokens);
    std::vector<uint64_t> touched = tokens;
    std::vector<std::pair<uint64_t, TokenCounts>> updates;
    ClassTotals totals;
    LearnOutcome outcome = LearnOutcome::kLearned;
    if (*prev) {
      const LearnedRow& old = **prev;
      if (auto s = apply_tokens(t, sid, old.tokens, old.cls, false, updates); !s)
        return s.error();
      if (auto s = apply_totals(t, sid, old.cls, -1, totals); !s)
        return s.error();
      touched.insert(touched.end(), old.tokens.begin(), old.tokens.end());
      outcome = LearnOutcome::kRelearned;
    }
    if (auto s = apply_tokens(t, sid, tokens, req.cls, true, updates); !s)
      return s.error();
    if (auto s = apply_totals(t, sid, req.cls, +1, totals); !s)
      return s.error();
    {
      std::string blob = encode_le(tokens);
      Use u(*stmts_.at("learned_put"));
      u.i64(1, sid).text(2, req.message_digest).i64(3, static_cast<int>(req.cls)).blob(4, blob);
      if (int rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "learned insert");
    }
    if (auto s = finish_write(t, sid, std::move(touched), std::move(updates), totals); !s)
      return s.error();
    return outcome;
  }

  Result<LearnOutcome> do_unlearn(Txn& t, const Scope& scope, const std::string& digest,
                                  Class cls) {
    auto id = scope_id(t, scope, /*create=*/false);
    if (!id)
      return id.error();
    if (!*id)
      return LearnOutcome::kNotLearned;
    const int64_t sid = **id;
    auto prev = read_learned(sid, digest);
    if (!prev)
      return prev.error();
    if (!*prev || (*prev)->cls != cls)
      return LearnOutcome::kNotLearned;
    std::vector<std::pair<uint64_t, TokenCounts>> updates;
    ClassTotals totals;
    if (auto s = apply_tokens(t, sid, (*prev)->tokens, cls, false, updates); !s)
      return s.error();
    if (auto s = apply_totals(t, sid, cls, -1, totals); !s)
      return s.error();
    {
      Use u(*stmts_.at("learned_delete"));
      u.i64(1, sid).text(2, digest);
      if (int rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "learned delete");
    }
    if (auto s = finish_write(t, sid, std::move((*prev)->tokens), std::move(updates), totals); !s)
      return s.error();
    return LearnOutcome::kUnlearned;
  }

  std::string path_;
  SqliteOptions options_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> stmts_;
  int64_t data_version_ = -1;
  int64_t journal_seq_ = 0;
  int64_t fuzzy_gen_ = 0;
  int64_t store_id_ = 0;
  // Snapshot images only for a database file (not ":memory:" or a URI).
  bool images_ = false;
  const volatile unsigned char* wal_index_ = nullptr;  // this connection's shm mapping
  WalHeader last_header_{};
  bool header_valid_ = false;
  std::unordered_map<std::string, int64_t> scope_ids_;
  std::unordered_set<std::string> negative_scopes_;
  std::unordered_map<int64_t, std::unique_ptr<Snapshot>> snapshots_;
  size_t snapshot_bytes_ = 0;
  uint64_t tick_ = 0;
  std::unordered_map<int64_t, FuzzyCache> fuzzy_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  return open_sqlite_store(path, SqliteOptions{});
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path,
                                                 const SqliteOptions& options) {
  try {
    auto store = std::make_unique<SqliteStore>(path, options);
    if (auto s = store->open(); !s)
      return s.error();
    return std::unique_ptr<Store>(std::move(store));
  } catch (const std::exception& e) {
    return Error::temporary("sqlite store " + path + ": " + e.what());
  }
}

}  // namespace mailsift::store
