// The PostgreSQL decision log against a real PostgreSQL started by the test: the DecisionLog
// conformance suite unchanged, migrations, partitions and retention, and faults (server killed,
// hung, restarted).
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "decisions/decision_json.h"
#include "decisions/testing/conformance.h"
#include "fleet/fleet.h"
#include "fleet/pg_conn.h"
#include "fleet/pg_log_internal.h"
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

// --- record_batch: a constant number of statements per batch (pg_log.cc insert_batch) ---

using BatchWrite = PostgresOptions::BatchWrite;
const char* mode_name(BatchWrite m) {
  return m == BatchWrite::kArrays ? "arrays" : "per_decision";
}

Result<std::unique_ptr<DecisionLog>> open_mode(const std::string& schema, BatchWrite mode) {
  PostgresOptions o = options_for(schema);
  o.batch_write = mode;
  return open_postgres_log(o);
}

// Every field set, with text an array literal or a VALUES list could mangle: quotes,
// backslashes, braces, commas, the word NULL, empty strings, edge spaces, newlines, non-ASCII.
Decision rich(const std::string& id, int64_t t, int recipients, const std::string& tag = "") {
  Decision d;
  d.id = id;
  d.time_unix_ms = t;
  d.node = "node \"a\"" + tag;
  d.direction = "outbound";
  d.queue_id = "Q{1,2}";
  d.message_id = "<m\\" + id + "@x.example>";
  d.client_ip = "2001:DB8::7";
  d.helo = "NULL";
  d.mail_from = "Sender+\"q\"@Example.COM";
  d.auth_user = "";
  d.subject = " lead, {trail} \n\t\xc3\xa9 " + tag;
  d.digest = "digest-" + id;
  d.elapsed_us = 12345 + static_cast<int64_t>(id.size());
  d.errors = {"dns: timeout", "x\"y\\z", ""};
  for (int i = 0; i < recipients; ++i) {
    decisions::RecipientDecision r;
    r.address = fmt::format("User{}@Example.org", i);
    r.user = i ? "u" + std::to_string(i) : "";
    r.domain = "example.org";
    r.reseller = "acme,{x}";
    r.score = -3.25 + i * 1e-7;
    r.action = i ? "reject" : "add header";
    r.smtp_reply = i ? "550 5.7.1 \"no\" \\ NULL" : "";
    r.stage = "data";
    r.policy_source = "domain";
    r.symbols = {{"BAYES_SPAM", 5.5}, {"R\"X{,}", -0.1 * i}};
    d.recipients.push_back(r);
  }
  return d;
}

std::string dump(const Decision& d) {
  return decisions::decision_to_json(d).dump();
}

// The one decision with this id, as JSON ("" and a failure when not exactly one).
std::string read_back(DecisionLog& log, const std::string& id) {
  Query q;
  q.id = id;
  auto got = log.query(q);
  if (!got.ok()) {
    ADD_FAILURE() << got.error().describe();
    return "";
  }
  if (got->size() != 1) {
    ADD_FAILURE() << id << ": " << got->size() << " decisions";
    return "";
  }
  return dump(got->front());
}

std::string rows_of(const std::string& schema, const std::string& table, const std::string& id) {
  return sql_value(fmt::format("SELECT count(*) FROM {}.{} WHERE {} = '{}'", schema, table,
                               table == "decisions" ? "id" : "decision_id", id));
}

TEST(PostgresBatch, IdAlreadyInTheTableIsSkipped) {
  SKIP_WITHOUT_POSTGRES();
  const std::string schema = "batch_seen";
  auto log = open_mode(schema, BatchWrite::kArrays);
  ASSERT_TRUE(log.ok()) << log.error().describe();
  const Decision old = rich("old", kT0, 2);
  ASSERT_TRUE((*log)->record(old).ok());
  // The retry carries different fields and recipients: the first write wins, as record().
  const std::vector<Decision> batch = {rich("new-1", kT0 + 1, 1), rich("old", kT0 + 5, 3, "v2"),
                                       rich("new-2", kT0 + 2, 3)};
  ASSERT_TRUE((*log)->record_batch(batch).ok());
  EXPECT_EQ(read_back(**log, "old"), dump(old));
  EXPECT_EQ(read_back(**log, "new-1"), dump(batch[0]));
  EXPECT_EQ(read_back(**log, "new-2"), dump(batch[2]));
  EXPECT_EQ(rows_of(schema, "decisions", "old"), "1");
  EXPECT_EQ(rows_of(schema, "decision_recipients", "old"), "2");
  EXPECT_EQ(rows_of(schema, "decision_recipients", "new-2"), "3");
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decisions"), "3");
}

TEST(PostgresBatch, SameIdTwiceInOneBatchIsWrittenOnce) {
  SKIP_WITHOUT_POSTGRES();
  const std::string schema = "batch_dup";
  auto log = open_mode(schema, BatchWrite::kArrays);
  ASSERT_TRUE(log.ok()) << log.error().describe();
  const std::vector<Decision> batch = {rich("a", kT0, 2), rich("b", kT0 + 1, 1),
                                       rich("a", kT0 + 7, 3, "second"), rich("b", kT0, 0, "x")};
  ASSERT_TRUE((*log)->record_batch(batch).ok());
  EXPECT_EQ(read_back(**log, "a"), dump(batch[0]));  // the first one in the batch wins
  EXPECT_EQ(read_back(**log, "b"), dump(batch[1]));
  EXPECT_EQ(rows_of(schema, "decisions", "a"), "1");
  EXPECT_EQ(rows_of(schema, "decision_recipients", "a"), "2");
  EXPECT_EQ(rows_of(schema, "decision_recipients", "b"), "1");
  // The whole batch again (the group commit retrying after a lost COMMIT reply): no change.
  ASSERT_TRUE((*log)->record_batch(batch).ok());
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decisions"), "2");
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decision_recipients"), "3");
}

TEST(PostgresBatch, BatchSpanningTwoPartitions) {
  SKIP_WITHOUT_POSTGRES();
  const std::string schema = "batch_parts";
  auto log = open_mode(schema, BatchWrite::kArrays);
  ASSERT_TRUE(log.ok()) << log.error().describe();
  std::vector<Decision> batch;
  for (int i = 0; i < 6; ++i)
    batch.push_back(rich("p" + std::to_string(i), kT0 + (i % 2) * kDay + i, 1 + i % 3));
  ASSERT_TRUE((*log)->record_batch(batch).ok());
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decision_partitions"), "2");
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decisions_p20261127"), "3");
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decisions_p20261128"), "3");
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decision_recipients_p20261128"),
            "6");  // p1, p3, p5: 2 + 1 + 3 recipients
  for (const Decision& d : batch)
    EXPECT_EQ(read_back(**log, d.id), dump(d));
}

// The batch's id check on a day's partition that autovacuum has not analysed yet (every new
// day's first minute or so): through the id index, not a sequential scan of the partition
// (which, growing, cost ~40 ms per batch at 20,000 rows). Counted by PostgreSQL itself, in the
// checking transaction (pg_stat_xact_user_tables).
TEST(PostgresBatch, IdCheckUsesTheIndexOnAnUnanalysedPartition) {
  SKIP_WITHOUT_POSTGRES();
  const std::string schema = "batch_noseq";
  auto log = open_mode(schema, BatchWrite::kArrays);
  ASSERT_TRUE(log.ok()) << log.error().describe();
  std::vector<Decision> batch;
  for (int i = 0; i < 3000; ++i)
    batch.push_back(rich(fmt::format("ns-{:04}", i), kT0 + i, 1));
  ASSERT_TRUE((*log)->record_batch(batch).ok());
  const std::string part = schema + ".decisions_p20261127";
  (void)sql_value("ALTER TABLE " + part + " SET (autovacuum_enabled = false)");
  ASSERT_EQ(sql_value("SELECT reltuples FROM pg_class WHERE oid = '" + part + "'::regclass"), "-1")
      << "the partition was analysed: the case this test is about is gone";

  pg::Pool pool(options_for(schema).dsn, schema, 5000, 1);
  auto lease = pool.checkout();
  ASSERT_TRUE(lease.ok()) << lease.error().describe();
  pg::Connection& c = **lease;
  const auto until = pool.deadline();
  ASSERT_TRUE(c.exec("BEGIN", until).ok());
  // A group-commit-sized batch: 64 ids, half stored (with a handful the planner guessed an
  // index scan anyway; with a batch's worth it guessed a sequential scan).
  std::vector<std::string> ids, stored;
  for (int i = 0; i < 32; ++i) {
    ids.push_back(fmt::format("ns-{:04}", i * 90));
    stored.push_back(ids.back());
    ids.push_back(fmt::format("absent-{}", i));
  }
  auto seen = pg_log_detail::stored_ids(c, pg_log_detail::text_array(ids), until);
  ASSERT_TRUE(seen.ok()) << seen.error().describe();
  std::sort(seen->begin(), seen->end());
  EXPECT_EQ(*seen, stored);
  auto scans = c.exec(
      "SELECT coalesce(seq_scan, 0), coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
      "WHERE schemaname = '" +
          schema + "' AND relname = 'decisions_p20261127'",
      until);
  ASSERT_TRUE(scans.ok()) << scans.error().describe();
  ASSERT_EQ(PQntuples(scans->get()), 1);
  EXPECT_STREQ(PQgetvalue(scans->get(), 0, 0), "0") << "sequential scans of the partition";
  EXPECT_STRNE(PQgetvalue(scans->get(), 0, 1), "0") << "index scans of the partition";
  ASSERT_TRUE(c.exec("ROLLBACK", until).ok());
}

// More rows than one multi-row VALUES statement could carry (65,535 parameters: 3,640
// decisions, 3,855 recipients): the array parameters have no such limit.
TEST(PostgresBatch, LargeBatchBeyondTheParameterLimit) {
  SKIP_WITHOUT_POSTGRES();
  constexpr int kN = 4000;
  std::vector<Decision> batch;
  for (int i = 0; i < kN; ++i)
    batch.push_back(rich(fmt::format("big-{:05}", i), kT0 + i, 1 + i % 3));
  const std::string schema = "batch_big";
  auto log = open_mode(schema, BatchWrite::kArrays);
  ASSERT_TRUE(log.ok()) << log.error().describe();
  ASSERT_TRUE((*log)->record_batch(batch).ok());
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decisions"), std::to_string(kN));
  EXPECT_EQ(sql_value("SELECT count(DISTINCT id) FROM " + schema + ".decisions"),
            std::to_string(kN));
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decision_recipients"),
            std::to_string(kN / 3 * 6 + (kN % 3 >= 1 ? 1 : 0) + (kN % 3 >= 2 ? 2 : 0)));
  // Both ends and the rows either side of each chunk boundary read back whole.
  for (int i : {0, 3639, 3640, 3641, 3854, 3855, kN - 1})
    EXPECT_EQ(read_back(**log, batch[i].id), dump(batch[i])) << i;
}

// The batch paths write exactly the rows record()'s per-decision path writes (every column,
// match keys included), on a batch with an existing id, a duplicate and two partitions.
TEST(PostgresBatch, EveryModeWritesTheSameRows) {
  SKIP_WITHOUT_POSTGRES();
  std::vector<Decision> batch;
  for (int i = 0; i < 40; ++i)
    batch.push_back(rich("same-" + std::to_string(i % 30), kT0 + (i % 4) * kDay / 2 + i, i % 4,
                         std::to_string(i)));
  batch.push_back(rich(std::string("\xff\xfe bad utf8 \x00 id", 16), kT0, 1));
  batch.push_back(rich("\xef\xbf\xbd\xef\xbf\xbd bad utf8 \xef\xbf\xbd id", kT0, 2, "dup"));
  std::map<std::string, std::string> decisions, recipients;
  for (BatchWrite mode : {BatchWrite::kPerDecision, BatchWrite::kArrays}) {
    const std::string schema = fmt::format("batch_same_{}", mode_name(mode));
    auto log = open_mode(schema, mode);
    ASSERT_TRUE(log.ok()) << log.error().describe();
    ASSERT_TRUE((*log)->record(batch[5]).ok());
    ASSERT_TRUE((*log)->record_batch(batch).ok()) << mode_name(mode);
    decisions[mode_name(mode)] = sql_value(
        "SELECT string_agg(t::text, E'\\n' ORDER BY t.id) FROM " + schema + ".decisions t");
    recipients[mode_name(mode)] =
        sql_value("SELECT string_agg(t::text, E'\\n' ORDER BY t.decision_id, t.idx) FROM " +
                  schema + ".decision_recipients t");
  }
  EXPECT_NE(decisions["per_decision"].find("same-29"), std::string::npos);
  // 31 ids: the two invalid-UTF-8 ids store as the same text.
  EXPECT_EQ(sql_value("SELECT count(*) FROM batch_same_arrays.decisions"), "31");
  EXPECT_EQ(decisions["arrays"], decisions["per_decision"]);
  EXPECT_EQ(recipients["arrays"], recipients["per_decision"]);
}

// Two nodes replaying overlapping batches in opposite orders at once: every id once, and no
// deadlock (the batch takes its locks sorted; in batch order the two would wait on each other).
TEST(PostgresBatch, TwoNodesOverlappingBatchesConcurrently) {
  SKIP_WITHOUT_POSTGRES();
  const std::string schema = "batch_race";
  auto a = open_mode(schema, BatchWrite::kArrays);
  auto b = open_mode(schema, BatchWrite::kArrays);
  ASSERT_TRUE(a.ok() && b.ok());
  constexpr int kRounds = 8, kPerRound = 200;
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex mu;
  auto node = [&](DecisionLog& log, bool reversed) {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<Decision> batch;
      for (int i = 0; i < kPerRound; ++i) {
        const int k = reversed ? kPerRound - 1 - i : i;
        batch.push_back(rich(fmt::format("r{}-{}", round, k), kT0 + k, 1 + k % 3));
      }
      if (Status s = log.record_batch(batch); !s.ok()) {
        ++failures;
        std::lock_guard lock(mu);
        if (first_error.empty())
          first_error = s.error().describe();
      }
    }
  };
  std::thread ta(node, std::ref(**a), false), tb(node, std::ref(**b), true);
  ta.join();
  tb.join();
  EXPECT_EQ(failures.load(), 0) << first_error;
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + schema + ".decisions"),
            std::to_string(kRounds * kPerRound));
  EXPECT_EQ(sql_value("SELECT count(*) FROM (SELECT DISTINCT decision_id, idx FROM " + schema +
                      ".decision_recipients) s"),
            sql_value("SELECT count(*) FROM " + schema + ".decision_recipients"));
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
