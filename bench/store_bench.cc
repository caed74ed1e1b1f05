// Store speed: what a scan pays for token lookups, and what training costs.
//
//   store_bench [--benchmark_filter=...]
//
// The 2M-token SQLite fixture is built once in $TMPDIR/mailsift-store-bench.db (bulk-inserted
// through SQLite directly; it takes a few seconds) and reused by later runs.
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include "store/store.h"
#include "store/token_table.h"

namespace mailsift::store {
namespace {

constexpr uint64_t kFixtureTokens = 2'000'000;
const Scope kReseller{Level::kReseller, "acme"};
const Scope kDomain{Level::kDomain, "example.com"};
const Scope kUser{Level::kUser, "bob@example.com"};

uint64_t token_at(uint64_t i) {
  return (i + 1) * 0x9E3779B97F4A7C15ULL;
}

std::string fixture_path() {
  return (std::filesystem::temp_directory_path() / "mailsift-store-bench.db").string();
}

size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Global scope: kFixtureTokens tokens; reseller/domain/user: 20k/5k/2k (a realistic chain).
void build_fixture(const std::string& path) {
  if (std::filesystem::exists(path))
    return;
  {
    auto s = open_sqlite_store(path);  // creates the schema
    if (!s.ok())
      std::abort();
    // One learn per scope creates the scope rows and totals.
    for (const Scope& sc : {Scope::global(), kReseller, kDomain, kUser}) {
      (void)(*s)->learn({sc, "seed", Class::kSpam, {token_at(0)}});
    }
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT OR REPLACE INTO tokens(scope, token, ham, spam) "
                     "SELECT id, ?2, ?3, ?4 FROM scopes WHERE key=?1",
                     -1, &st, nullptr);
  std::mt19937_64 rng(1);
  auto fill = [&](const char* key, uint64_t n) {
    for (uint64_t i = 1; i < n; ++i) {
      sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, static_cast<int64_t>(token_at(i)));
      sqlite3_bind_int64(st, 3, static_cast<int64_t>(rng() % 50));
      sqlite3_bind_int64(st, 4, static_cast<int64_t>(rng() % 50 + 1));
      sqlite3_step(st);
      sqlite3_reset(st);
    }
  };
  fill("g:", kFixtureTokens);
  fill("r:acme", 20000);
  fill("d:example.com", 5000);
  fill("u:bob@example.com", 2000);
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

// 600 tokens of one message: 2/3 known to the global scope, 1/3 never seen.
std::vector<uint64_t> message_tokens(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> t;
  for (int i = 0; i < 600; ++i) {
    t.push_back(i % 3 == 2 ? rng() : token_at(rng() % kFixtureTokens));
  }
  return t;
}

Store& warm_sqlite() {
  static std::unique_ptr<Store> store = [] {
    build_fixture(fixture_path());
    auto s = open_sqlite_store(fixture_path());
    if (!s.ok())
      std::abort();
    size_t before = rss_bytes();
    auto t0 = std::chrono::steady_clock::now();
    auto probe = message_tokens(0);
    for (const Scope& sc : {Scope::global(), kReseller, kDomain, kUser}) {
      (void)(*s)->token_counts(sc, probe);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr,
                 "sqlite fixture: %llu+27k tokens, snapshot load %.2f s, RSS +%.1f MiB "
                 "(%.1f bytes/token)\n",
                 static_cast<unsigned long long>(kFixtureTokens), secs,
                 (rss_bytes() - before) / 1048576.0,
                 double(rss_bytes() - before) / double(kFixtureTokens + 27000));
    return std::move(s).value();
  }();
  return *store;
}

void BM_SqliteTokenCounts600(benchmark::State& state) {
  Store& s = warm_sqlite();
  std::vector<std::vector<uint64_t>> msgs;
  for (int i = 0; i < 64; ++i)
    msgs.push_back(message_tokens(i + 1));
  size_t i = 0;
  for (auto _ : state) {
    auto r = s.token_counts(Scope::global(), msgs[i++ % msgs.size()]);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * 600);
}
BENCHMARK(BM_SqliteTokenCounts600)->Unit(benchmark::kMicrosecond);

// What the scanner does per message: four scopes, plus totals for each.
void BM_SqliteScopeChain600(benchmark::State& state) {
  Store& s = warm_sqlite();
  std::vector<std::vector<uint64_t>> msgs;
  for (int i = 0; i < 64; ++i)
    msgs.push_back(message_tokens(i + 1));
  const Scope chain[] = {kUser, kDomain, kReseller, Scope::global()};
  size_t i = 0;
  for (auto _ : state) {
    const auto& m = msgs[i++ % msgs.size()];
    for (const Scope& sc : chain) {
      auto r = s.token_counts(sc, m);
      auto t = s.totals(sc);
      benchmark::DoNotOptimize(r);
      benchmark::DoNotOptimize(t);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SqliteScopeChain600)->Unit(benchmark::kMicrosecond);

void BM_SqliteTotals(benchmark::State& state) {
  Store& s = warm_sqlite();
  for (auto _ : state) {
    auto t = s.totals(Scope::global());
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_SqliteTotals);

void BM_MemoryTokenCounts600(benchmark::State& state) {
  static std::unique_ptr<Store> s = [] {
    auto m = make_memory_store();
    std::vector<uint64_t> tokens;
    for (uint64_t i = 0; i < 200'000; ++i)
      tokens.push_back(token_at(i));
    (void)m->learn({Scope::global(), "bulk", Class::kSpam, tokens});
    return m;
  }();
  auto msg = message_tokens(5);
  for (auto _ : state) {
    auto r = s->token_counts(Scope::global(), msg);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_MemoryTokenCounts600)->Unit(benchmark::kMicrosecond);

// Training throughput: each learn is one durable transaction (WAL, synchronous=FULL).
void BM_SqliteLearn500(benchmark::State& state) {
  std::string dir = (std::filesystem::temp_directory_path() / "mailsift-learn-bench").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto s = open_sqlite_store(dir + "/learn.db");
  if (!s.ok())
    std::abort();
  std::mt19937_64 rng(7);
  uint64_t n = 0;
  for (auto _ : state) {
    LearnRequest r{Scope::global(), "m" + std::to_string(n++), Class::kSpam, {}};
    for (int i = 0; i < 500; ++i)
      r.tokens.push_back(token_at(rng() % 100000));
    auto o = (*s)->learn(r);
    if (!o.ok())
      state.SkipWithError(o.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
  s.value().reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SqliteLearn500)->Unit(benchmark::kMillisecond)->Iterations(300);

// Bulk training: 100 messages per durable transaction (learn_batch).
void BM_SqliteLearnBatch100x500(benchmark::State& state) {
  std::string dir = (std::filesystem::temp_directory_path() / "mailsift-batch-bench").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto s = open_sqlite_store(dir + "/learn.db");
  if (!s.ok())
    std::abort();
  std::mt19937_64 rng(7);
  uint64_t n = 0;
  for (auto _ : state) {
    std::vector<LearnRequest> batch;
    for (int m = 0; m < 100; ++m) {
      LearnRequest r{Scope::global(), "m" + std::to_string(n++), Class::kSpam, {}};
      for (int i = 0; i < 500; ++i)
        r.tokens.push_back(token_at(rng() % 100000));
      batch.push_back(std::move(r));
    }
    auto o = (*s)->learn_batch(batch);
    if (!o.ok())
      state.SkipWithError(o.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations() * 100);
  s.value().reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SqliteLearnBatch100x500)->Unit(benchmark::kMillisecond)->Iterations(10);

void BM_TokenTableBytesPerToken(benchmark::State& state) {
  TokenTable t;
  for (auto _ : state) {
    TokenTable fresh;
    fresh.reserve(kFixtureTokens);
    for (uint64_t i = 0; i < kFixtureTokens; ++i)
      fresh.set(token_at(i), {1, 1});
    t = std::move(fresh);
  }
  state.counters["bytes_per_token"] = double(t.memory_bytes()) / double(t.size());
}
BENCHMARK(BM_TokenTableBytesPerToken)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace mailsift::store

BENCHMARK_MAIN();
