// The PostgreSQL decision log against a real PostgreSQL started by the test: the DecisionLog
// conformance suite unchanged, migrations, partitions and retention, and faults (server killed,
// hung, restarted).
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "decisions/testing/conformance.h"
#include "fleet/fleet.h"
#include "fleet/testing/servers.h"
#include "store/testing/conformance.h"

namespace mailsift::fleet {
namespace {

using decisions::Decision;
using decisions::DecisionLog;
using decisions::Query;
using testing::PostgresServer;
using testing::Timed;
using testing::timed;

PostgresServer* g_pg = nullptr;
std::string g_skip_reason;

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!PostgresServer::available(&g_skip_reason))
      return;
    g_pg = new PostgresServer();
    auto t0 = std::chrono::steady_clock::now();
    if (!g_pg->start()) {
      ADD_FAILURE() << "PostgreSQL did not start: " << g_pg->reason();
      delete g_pg;
      g_pg = nullptr;
      return;
    }
    std::printf("[postgres] initdb + start took %lld ms\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - t0)
                                           .count()));
  }
  void TearDown() override {
    delete g_pg;
    g_pg = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

#define SKIP_WITHOUT_POSTGRES()                             \
  do {                                                      \
    if (!PostgresServer::available(&g_skip_reason))         \
      GTEST_SKIP() << g_skip_reason;                        \
    ASSERT_NE(g_pg, nullptr) << "PostgreSQL did not start"; \
  } while (0)

// Each conformance case gets its own schema, named after its temp dir; reopen uses the same.
std::mutex g_schemas_mu;
std::map<std::string, std::string> g_schemas;

PostgresOptions options_for(const std::string& schema) {
  PostgresOptions o;
  o.dsn = g_pg ? g_pg->dsn() : "";
  o.schema = schema;
  o.timeout_ms = 5000;
  return o;
}

Result<std::unique_ptr<DecisionLog>> open_fresh(const std::string& dir) {
  if (!g_pg)
    return Error::temporary("no PostgreSQL server: " + g_skip_reason);
  std::string schema;
  {
    std::lock_guard lock(g_schemas_mu);
    schema = "conf_" + std::to_string(g_schemas.size() + 1);
    g_schemas[dir] = schema;
  }
  return open_postgres_log(options_for(schema));
}

Result<std::unique_ptr<DecisionLog>> reopen(const std::string& dir) {
  std::string schema;
  {
    std::lock_guard lock(g_schemas_mu);
    schema = g_schemas[dir];
  }
  return open_postgres_log(options_for(schema));
}

MAILSIFT_DECISIONS_CONFORMANCE(Postgres,
                               (decisions::testing::LogFactory{"postgres", open_fresh, reopen}));

// The store conformance suite on the PostgreSQL Store, one schema per case as well.
Result<std::unique_ptr<store::Store>> open_store_fresh(const std::string& dir) {
  if (!g_pg)
    return Error::temporary("no PostgreSQL server: " + g_skip_reason);
  std::string schema;
  {
    std::lock_guard lock(g_schemas_mu);
    schema = "store_" + std::to_string(g_schemas.size() + 1);
    g_schemas[dir] = schema;
  }
  return open_postgres_store(options_for(schema));
}

Result<std::unique_ptr<store::Store>> reopen_store(const std::string& dir) {
  std::string schema;
  {
    std::lock_guard lock(g_schemas_mu);
    schema = g_schemas[dir];
  }
  return open_postgres_store(options_for(schema));
}

MAILSIFT_STORE_CONFORMANCE(PostgresStore, (store::testing::BackendFactory{
                                              "postgres", open_store_fresh, reopen_store}));

// Direct SQL for inspection.
std::string sql_value(const std::string& sql) {
  return g_pg->query_value(sql);
}

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1795792500000;  // 2026-11-27T15:15:00Z

Decision at(const std::string& id, int64_t t) {
  Decision d;
  d.id = id;
  d.time_unix_ms = t;
  d.mail_from = "s@example.com";
  decisions::RecipientDecision r;
  r.address = "r@example.org";
  r.action = "reject";
  d.recipients = {r};
  return d;
}

TEST(PostgresLog, MigrationsAreVersionedAndRunOnce) {
  SKIP_WITHOUT_POSTGRES();
  auto a = open_postgres_log(options_for("migr"));
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(sql_value("SELECT max(version) FROM migr.schema_migrations"),
            std::to_string(postgres_log_schema_version()));
  EXPECT_EQ(sql_value("SELECT count(*) FROM migr.schema_migrations"),
            std::to_string(postgres_log_schema_version()));
  // Opening again (another node, a restart) applies nothing.
  auto b = open_postgres_log(options_for("migr"));
  ASSERT_TRUE(b.ok()) << b.error().describe();
  EXPECT_EQ(sql_value("SELECT count(*) FROM migr.schema_migrations"),
            std::to_string(postgres_log_schema_version()));
  // Several nodes starting at once on a new schema migrate exactly once.
  std::vector<std::thread> nodes;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i)
    nodes.emplace_back([&] {
      if (!open_postgres_log(options_for("migr_race")).ok())
        ++failures;
    });
  for (auto& t : nodes)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(sql_value("SELECT count(*) FROM migr_race.schema_migrations"),
            std::to_string(postgres_log_schema_version()));
  // A database migrated by a newer mailsift is refused, not downgraded.
  sql_value("INSERT INTO migr.schema_migrations(version) VALUES (999)");
  auto c = open_postgres_log(options_for("migr"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::kConfig) << c.error().describe();
}

TEST(PostgresLog, PartitionsPerDayCreatedOnDemandAndDroppedByExpire) {
  SKIP_WITHOUT_POSTGRES();
  auto log = open_postgres_log(options_for("parts"));
  ASSERT_TRUE(log.ok()) << log.error().describe();
  for (int day = 0; day < 5; ++day)
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE((*log)
                      ->record(at("d" + std::to_string(day) + "-" + std::to_string(i),
                                  kT0 + day * kDay + i))
                      .ok());
  EXPECT_EQ(sql_value("SELECT count(*) FROM parts.decision_partitions"), "5");
  EXPECT_EQ(sql_value("SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
                      "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = 'parts' "
                      "AND p.relname = 'decisions'"),
            "5");
  EXPECT_EQ(sql_value("SELECT count(*) FROM parts.decisions_p20261127"), "3");
  // Query planning prunes partitions by time.
  std::string plan = sql_value(
      "EXPLAIN SELECT * FROM parts.decisions WHERE time_ms >= " + std::to_string(kT0 + 2 * kDay) +
      " AND time_ms < " + std::to_string(kT0 + 2 * kDay + 10));
  EXPECT_EQ(plan.find("p20261127"), std::string::npos) << plan;
  // Expire at the start of day 2 + 1 ms: days 0 and 1 are dropped whole... day 2 loses 1 row.
  const int64_t day2_start = (kT0 + 2 * kDay) / kDay * kDay;
  auto removed = (*log)->expire(day2_start + (kT0 % kDay) + 1);
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  EXPECT_EQ(*removed, 7u);
  EXPECT_EQ(sql_value("SELECT count(*) FROM parts.decision_partitions"), "3");
  EXPECT_EQ(sql_value("SELECT to_regclass('parts.decisions_p20261127') IS NULL"), "t");
  Query q;
  q.limit = 0;
  auto left = (*log)->query(q);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 8u);
  // A late decision for an expired day gets a partition again.
  ASSERT_TRUE((*log)->record(at("late", kT0)).ok());
  q.id = "late";
  auto late = (*log)->query(q);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->size(), 1u);
}

// The factory mailsiftd uses: decisions.backend picks the backend, postgres.* configure it.
TEST(FleetFactory, DecisionLogBackendFromConfig) {
  SKIP_WITHOUT_POSTGRES();
  Config config;
  ASSERT_TRUE(config.set("decisions.backend", "postgres").ok());
  ASSERT_TRUE(config.set("postgres.dsn", g_pg->dsn()).ok());
  ASSERT_TRUE(config.set("postgres.schema", "factory").ok());
  auto log = open_configured_log(config, "/nonexistent");
  ASSERT_TRUE(log.ok()) << log.error().describe();
  ASSERT_TRUE((*log)->record(at("via-factory", kT0)).ok());
  EXPECT_EQ(sql_value("SELECT count(*) FROM factory.decisions"), "1");
  ASSERT_TRUE(config.set("decisions.backend", "memory").ok());
  EXPECT_TRUE(open_configured_log(config, "/nonexistent").ok());
  ASSERT_TRUE(config.set("decisions.backend", "mongodb").ok());
  auto bad = open_configured_log(config, "/nonexistent");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kConfig);
}

TEST(PostgresLog, UnreachableServerIsTemporary) {
  PostgresOptions o;
  o.dsn = "host=127.0.0.1 port=" + std::to_string(testing::free_port()) +
          " user=postgres dbname=postgres";
  o.timeout_ms = 300;
  auto log = open_postgres_log(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().kind, ErrorKind::kTemporary) << log.error().describe();
}

// Killed, hung and restarted server: every call returns kTemporary within the bound, nothing
// crashes, and the same log object works again after the restart.
TEST(PostgresFaults, KilledHungAndRestartedServer) {
  SKIP_WITHOUT_POSTGRES();
  PostgresServer server;  // our own: this test kills it
  ASSERT_TRUE(server.start()) << server.reason();
  constexpr int kTimeoutMs = 500;
  // A call may reconnect (timeout) and then run its statements (timeout): 2x + slack.
  constexpr int64_t kBoundMs = 2 * kTimeoutMs + 500;
  PostgresOptions o;
  o.dsn = server.dsn();
  o.schema = "faults";
  o.timeout_ms = kTimeoutMs;
  o.pool_size = 2;
  auto opened = open_postgres_log(o);
  ASSERT_TRUE(opened.ok()) << opened.error().describe();
  DecisionLog& log = **opened;
  ASSERT_TRUE(log.record(at("before", kT0)).ok());
  // The PostgreSQL Store on the same server goes through the same faults.
  auto opened_store = open_postgres_store(o);
  ASSERT_TRUE(opened_store.ok()) << opened_store.error().describe();
  store::Store& st = **opened_store;
  const store::Scope sc{store::Level::kDomain, "example.com"};
  auto learn = [&](const std::string& digest) {
    return st.learn(store::LearnRequest{sc, digest, store::Class::kSpam, {1, 2}});
  };
  auto read = [&] { return st.token_counts(sc, std::vector<uint64_t>{1, 2}); };
  ASSERT_TRUE(learn("s-before").ok());

  std::atomic<bool> stop{false};
  std::atomic<int> ok_calls{0}, temp_calls{0}, other{0};
  std::atomic<int64_t> worst{0};
  std::vector<std::thread> traffic;
  for (int t = 0; t < 3; ++t) {
    traffic.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        Timed r = i % 2 ? timed([&] { return log.query(Query{}); }) : timed([&] {
          return log.record(at("t" + std::to_string(t * 100000 + i), kT0 + i));
        });
        (r.ok ? ok_calls : r.kind == ErrorKind::kTemporary ? temp_calls : other)++;
        int64_t prev = worst.load();
        while (r.ms > prev && !worst.compare_exchange_weak(prev, r.ms)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  server.kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  for (auto& th : traffic)
    th.join();
  EXPECT_GT(ok_calls.load(), 0);
  EXPECT_GT(temp_calls.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_LE(worst.load(), kBoundMs);
  std::printf("[postgres killed] ok=%d temporary=%d worst call=%lld ms (bound %lld ms)\n",
              ok_calls.load(), temp_calls.load(), static_cast<long long>(worst.load()),
              static_cast<long long>(kBoundMs));
  Timed down = timed([&] { return log.record(at("while-down", kT0)); });
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.kind, ErrorKind::kTemporary);
  EXPECT_LE(down.ms, kBoundMs);

  for (Timed t : {timed([&] { return learn("s-down"); }), timed(read)}) {
    EXPECT_FALSE(t.ok);
    EXPECT_EQ(t.kind, ErrorKind::kTemporary);
    EXPECT_LE(t.ms, kBoundMs);
  }

  ASSERT_TRUE(server.restart()) << server.reason();
  Timed up = timed([&] { return log.record(at("after-restart", kT0 + 1)); });
  EXPECT_TRUE(up.ok);
  EXPECT_TRUE(learn("s-after").ok());
  auto counts = read();
  ASSERT_TRUE(counts.ok()) << counts.error().describe();
  EXPECT_EQ((*counts)[0], (store::TokenCounts{0, 2})) << "s-before and s-after, not s-down";
  Query q;
  q.id = "before";
  auto before = log.query(q);
  ASSERT_TRUE(before.ok()) << before.error().describe();
  EXPECT_EQ(before->size(), 1u) << "committed data survives the crash";

  server.pause();
  for (int i = 0; i < 2; ++i) {
    Timed hung = i % 2 ? timed([&] { return log.query(Query{}); })
                       : timed([&] { return log.record(at("hung", kT0 + 2)); });
    EXPECT_FALSE(hung.ok);
    EXPECT_EQ(hung.kind, ErrorKind::kTemporary);
    EXPECT_LE(hung.ms, kBoundMs);
    std::printf("[postgres hung] call %d: temporary after %lld ms (timeout %d ms)\n", i,
                static_cast<long long>(hung.ms), kTimeoutMs);
  }
  Timed hung_store = timed(read);
  EXPECT_FALSE(hung_store.ok);
  EXPECT_EQ(hung_store.kind, ErrorKind::kTemporary);
  EXPECT_LE(hung_store.ms, kBoundMs);
  std::printf("[postgres hung] store read: temporary after %lld ms\n",
              static_cast<long long>(hung_store.ms));
  server.resume();
  Timed again = timed([&] { return log.query(Query{}); });
  EXPECT_TRUE(again.ok);
  EXPECT_TRUE(timed(read).ok);
}

}  // namespace
}  // namespace mailsift::fleet
