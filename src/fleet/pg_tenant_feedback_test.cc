// The PostgreSQL tenant store and feedback store against a real PostgreSQL started by the test
// (testing/servers.h): the TenantStore and FeedbackStore conformance suites unchanged, their
// versioned migrations, two handles (two nodes) on one database, and faults (server killed and
// restarted: kTemporary within the bound, then working again with the same object).
//
// Unlike a developer convenience skip, a missing PostgreSQL is a FAILURE here: scripts/deps.sh
// installs it, so CI without it is broken and must say so.
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "feedback/testing/conformance.h"
#include "fleet/fleet_tenant.h"
#include "fleet/migrate_tenant.h"
#include "fleet/testing/servers.h"
#include "tenant/testing/conformance.h"

namespace mailsift::fleet {
namespace {

using testing::PostgresServer;
using testing::Timed;
using testing::timed;

PostgresServer* g_pg = nullptr;
std::string g_missing;

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!PostgresServer::available(&g_missing))
      return;  // every test then fails with g_missing (REQUIRE_POSTGRES)
    g_pg = new PostgresServer();
    if (!g_pg->start()) {
      g_missing = "PostgreSQL did not start: " + g_pg->reason();
      delete g_pg;
      g_pg = nullptr;
    }
  }
  void TearDown() override {
    delete g_pg;
    g_pg = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

#define REQUIRE_POSTGRES() ASSERT_NE(g_pg, nullptr) << "no PostgreSQL server: " << g_missing

PostgresOptions options_for(const std::string& dsn, const std::string& schema) {
  PostgresOptions o;
  o.dsn = dsn;
  o.schema = schema;
  o.timeout_ms = 5000;
  o.pool_size = 2;
  return o;
}

// One schema per conformance case (named after its temp dir); reopen uses the same.
std::mutex g_schemas_mu;
std::map<std::string, std::string> g_schemas;
std::string schema_for(const std::string& dir, const char* prefix, bool fresh) {
  std::lock_guard lock(g_schemas_mu);
  if (fresh)
    g_schemas[dir] = prefix + std::to_string(g_schemas.size() + 1);
  return g_schemas[dir];
}

Result<std::unique_ptr<tenant::TenantStore>> tenant_store(const std::string& dir, bool fresh) {
  if (!g_pg)
    return Error::temporary("no PostgreSQL server: " + g_missing);
  return open_postgres_tenant_store(options_for(g_pg->dsn(), schema_for(dir, "tn_", fresh)));
}

MAILSIFT_TENANT_CONFORMANCE(Postgres,
                            (tenant::testing::BackendFactory{
                                "postgres",
                                [](const std::string& dir) { return tenant_store(dir, true); },
                                [](const std::string& dir) { return tenant_store(dir, false); }}));

MAILSIFT_FEEDBACK_CONFORMANCE(
    Postgres,
    (feedback::testing::StoreFactory{
        "postgres", [](const std::string& dir) -> Result<std::unique_ptr<feedback::FeedbackStore>> {
          if (!g_pg)
            return Error::temporary("no PostgreSQL server: " + g_missing);
          return open_postgres_feedback_store(
              options_for(g_pg->dsn(), schema_for(dir, "fb_", true)));
        }}));

// The replicas (postgres.replica_poll_ms) pass the same suites: a node's own writes are seen
// at once. poll_ms = 0: no background thread; other nodes' changes arrive at poll().
ReplicaOptions manual_replica() {
  ReplicaOptions r;
  r.poll_ms = 0;
  return r;
}
Result<std::unique_ptr<tenant::TenantStore>> tenant_replica(const std::string& dir, bool fresh) {
  if (!g_pg)
    return Error::temporary("no PostgreSQL server: " + g_missing);
  auto source = open_postgres_replicable_tenant_store(
      options_for(g_pg->dsn(), schema_for(dir, "tr_", fresh)));
  if (!source)
    return source.error();
  auto replica = replicate_tenant_store(std::move(source).value(), manual_replica());
  if (!replica)
    return replica.error();
  return std::unique_ptr<tenant::TenantStore>(std::move(replica).value());
}
MAILSIFT_TENANT_CONFORMANCE(
    PostgresReplica,
    (tenant::testing::BackendFactory{
        "postgres_replica", [](const std::string& dir) { return tenant_replica(dir, true); },
        // A restart's replica would load what the first one wrote;
        // a direct handle is what sees the first one's LATER writes at
        // once (a replica sees them at its poll: PgReplica tests).
        [](const std::string& dir) -> Result<std::unique_ptr<tenant::TenantStore>> {
          return open_postgres_tenant_store(
              options_for(g_pg->dsn(), schema_for(dir, "tr_", false)));
        }}));
MAILSIFT_FEEDBACK_CONFORMANCE(
    PostgresReplica,
    (feedback::testing::StoreFactory{
        "postgres_replica",
        [](const std::string& dir) -> Result<std::unique_ptr<feedback::FeedbackStore>> {
          if (!g_pg)
            return Error::temporary("no PostgreSQL server: " + g_missing);
          auto source = open_postgres_replicable_feedback_store(
              options_for(g_pg->dsn(), schema_for(dir, "fr_", true)));
          if (!source)
            return source.error();
          auto replica = replicate_feedback_store(std::move(source).value(), manual_replica());
          if (!replica)
            return replica.error();
          return std::unique_ptr<feedback::FeedbackStore>(std::move(replica).value());
        }}));

// Direct SQL for inspection.
std::string sql_value(const std::string& sql) {
  return g_pg->query_value(sql);
}

TEST(PgTenantStore, MigrationsAreVersionedRunOnceAndNewerIsRefused) {
  REQUIRE_POSTGRES();
  const auto o = options_for(g_pg->dsn(), "tmigr");
  ASSERT_TRUE(open_postgres_tenant_store(o).ok());
  ASSERT_TRUE(open_postgres_feedback_store(o).ok());
  EXPECT_EQ(sql_value("SELECT max(version) FROM tmigr.tenant_schema_migrations"),
            std::to_string(postgres_tenant_schema_version()));
  EXPECT_EQ(sql_value("SELECT max(version) FROM tmigr.feedback_schema_migrations"),
            std::to_string(postgres_feedback_schema_version()));
  // Nodes starting together on a new schema migrate once (advisory lock).
  std::vector<std::thread> nodes;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i)
    nodes.emplace_back([&] {
      const auto r = options_for(g_pg->dsn(), "tmigr_race");
      if (!open_postgres_tenant_store(r).ok() || !open_postgres_feedback_store(r).ok())
        ++failures;
    });
  for (auto& t : nodes)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(sql_value("SELECT count(*) FROM tmigr_race.tenant_schema_migrations"),
            std::to_string(postgres_tenant_schema_version()));
  EXPECT_EQ(sql_value("SELECT count(*) FROM tmigr_race.feedback_schema_migrations"),
            std::to_string(postgres_feedback_schema_version()));
  // Reopening applies nothing; a database from a newer mailsift is refused (kConfig).
  ASSERT_TRUE(open_postgres_tenant_store(o).ok());
  EXPECT_EQ(sql_value("SELECT count(*) FROM tmigr.tenant_schema_migrations"),
            std::to_string(postgres_tenant_schema_version()));
  sql_value("INSERT INTO tmigr.tenant_schema_migrations(version) VALUES (999)");
  sql_value("INSERT INTO tmigr.feedback_schema_migrations(version) VALUES (999)");
  auto t = open_postgres_tenant_store(o);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::kConfig) << t.error().describe();
  auto f = open_postgres_feedback_store(o);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().kind, ErrorKind::kConfig) << f.error().describe();
}

// Two nodes: a list entry added through one handle decides on the other at its next call, and
// the same report committed by both at once is stored and counted once.
TEST(PgTenantStore, TwoNodesShareListsAndCountAReportOnce) {
  REQUIRE_POSTGRES();
  const auto o = options_for(g_pg->dsn(), "twonodes");
  auto a = open_postgres_tenant_store(o);
  auto b = open_postgres_tenant_store(o);
  ASSERT_TRUE(a.ok() && b.ok());
  const tenant::Clock clock = [] { return int64_t{1'800'000'000}; };
  ASSERT_TRUE(tenant::add_reseller(**a, clock, "acme", "").ok());
  ASSERT_TRUE(tenant::add_domain(**a, clock, "acme.test", "acme").ok());
  ASSERT_TRUE(tenant::add_user(**a, clock, "bob@acme.test").ok());
  tenant::SenderFacts facts;
  facts.address = "spammer@bad.test";
  auto before = tenant::match(**b, "bob@acme.test", facts, clock());
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->verdict().has_value());
  ASSERT_TRUE(tenant::add_list_entry(**a, clock, tenant::Level::kUser, "bob@acme.test",
                                     tenant::ListKind::kBlock, "spammer@bad.test", "test", "",
                                     std::nullopt)
                  .ok());
  auto after = tenant::match(**b, "bob@acme.test", facts, clock());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->verdict(), std::optional<tenant::ListKind>(tenant::ListKind::kBlock));

  auto fa = open_postgres_feedback_store(o);
  auto fb = open_postgres_feedback_store(o);
  ASSERT_TRUE(fa.ok() && fb.ok());
  feedback::ReportRecord rep;
  rep.user = "bob@acme.test";
  rep.digest = "d1";
  rep.sender = "spammer@bad.test";
  rep.at_ms = 1;
  rep.bands = {1, 2, 0xFFFFFFFFFFFFFFFFull};
  rep.signature = {7, 0xFFFFFFFFu};
  feedback::ReportEffects fx;
  fx.agree = 1;
  fx.sender_spam = 1;
  std::atomic<int> stored{0}, errors{0};
  std::thread t1([&] {
    auto r = (*fa)->commit_report(rep, fx);
    r.ok() ? stored += *r : ++errors;
  });
  std::thread t2([&] {
    auto r = (*fb)->commit_report(rep, fx);
    r.ok() ? stored += *r : ++errors;
  });
  t1.join();
  t2.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stored.load(), 1);
  EXPECT_EQ((*fb)->reporter("bob@acme.test")->agree, 1);
  EXPECT_EQ((*fa)->sender("bob@acme.test", "spammer@bad.test")->spam_reports, 1);
  // uint64 bands and uint32 signatures survive the bigint columns bit for bit.
  auto found = (*fb)->campaign_candidates({0xFFFFFFFFFFFFFFFFull}, 0);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].signature, rep.signature);
  ASSERT_TRUE((*fa)->set_consent("bob@acme.test", feedback::Consent::kAccepted, 5).ok());
  EXPECT_EQ(*(*fb)->consent("bob@acme.test"), feedback::Consent::kAccepted);
}

// mailsift migrate into the PostgreSQL stores: a SQLite tenants.db and feedback.db copied,
// verified, and a second run writes nothing.
TEST(PgTenantMigrate, SqliteFilesCopiedVerifiedAndIdempotent) {
  REQUIRE_POSTGRES();
  char tmpl[] = "/tmp/mailsift-pgmig-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const tenant::Clock clock = [] { return int64_t{1'800'000'000}; };
  {
    auto t = tenant::open_sqlite_tenant_store(dir + "/tenants.db");
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(tenant::add_reseller(**t, clock, "acme", "Acme").ok());
    ASSERT_TRUE(tenant::add_domain(**t, clock, "acme.test", "acme").ok());
    ASSERT_TRUE(tenant::add_user(**t, clock, "bob@acme.test").ok());
    ASSERT_TRUE(tenant::add_list_entry(**t, clock, tenant::Level::kDomain, "acme.test",
                                       tenant::ListKind::kAllow, "friend@ok.test", "cli", "",
                                       std::nullopt)
                    .ok());
    ASSERT_TRUE(tenant::create_api_key(**t, clock, tenant::Role::kAdmin, "", "x").ok());
    auto f = feedback::open_sqlite_store(dir + "/feedback.db");
    ASSERT_TRUE(f.ok());
    feedback::ReportRecord r;
    r.user = "bob@acme.test";
    r.digest = "d";
    r.sender = "s@x.test";
    r.bands = {0x8000000000000001ull};
    feedback::ReportEffects fx;
    fx.agree = 1;
    fx.sender_spam = 1;
    ASSERT_TRUE(*(*f)->commit_report(r, fx));
    ASSERT_TRUE((*f)->set_consent("bob@acme.test", feedback::Consent::kAccepted, 1).ok());
  }
  const auto o = options_for(g_pg->dsn(), "pgmig");
  auto ts = open_postgres_tenant_store(o);
  auto fs = open_postgres_feedback_store(o);
  ASSERT_TRUE(ts.ok() && fs.ok());
  for (int run = 0; run < 2; ++run) {
    MigrateReport report;
    auto st = migrate_tenant_files({dir + "/tenants.db", dir + "/feedback.db"}, false,
                                   {ts->get(), fs->get()}, report);
    ASSERT_TRUE(st.ok()) << st.error().describe();
    std::cout << report.table();
    EXPECT_TRUE(report.ok()) << "run " << run;
    uint64_t written = 0, source = 0;
    for (const auto& k : report.kinds) {
      written += k.written;
      source += k.source;
    }
    EXPECT_EQ(source, 9u);  // tenants 1+1+1+0+1+1, feedback 1+1+1+0+1
    EXPECT_EQ(written, run == 0 ? 9u : 0u) << "run " << run;
  }
  EXPECT_EQ((*fs)->campaign_candidates({0x8000000000000001ull}, 0)->size(), 1u);
  std::filesystem::remove_all(dir);
}

// A killed server: every call is kTemporary within the bound (an error value, nothing thrown);
// after the restart the same objects work again and nothing acknowledged was lost.
TEST(PgTenantFaults, KilledAndRestartedServerIsTemporaryThenRecovers) {
  REQUIRE_POSTGRES();
  PostgresServer server;  // our own: this test kills it
  ASSERT_TRUE(server.start()) << server.reason();
  constexpr int kTimeoutMs = 500;
  constexpr int64_t kBoundMs = 2 * kTimeoutMs + 500;  // reconnect + statement + slack
  // The test server runs with synchronous_commit=off (speed); these sessions turn it back on, as
  // production has it, so that an acknowledged write must survive the SIGKILL.
  auto o = options_for(server.dsn() + " options='-c synchronous_commit=on'", "faults");
  o.timeout_ms = kTimeoutMs;
  auto ts = open_postgres_tenant_store(o);
  auto fs = open_postgres_feedback_store(o);
  ASSERT_TRUE(ts.ok() && fs.ok());
  tenant::TenantStore& t = **ts;
  feedback::FeedbackStore& f = **fs;
  ASSERT_TRUE(t.add_reseller({"acme", "", 1}).ok());
  ASSERT_TRUE(f.set_consent("u@acme.test", feedback::Consent::kDeclined, 1).ok());

  server.kill();
  std::vector<Timed> calls = {
      timed([&] { return t.get_reseller("acme"); }),
      timed([&] {
        return t.add_reseller({"globex", "", 2});
      }),
      timed([&] { return t.list_entries(tenant::Level::kUser, "u@acme.test"); }),
      timed([&] { return t.remove_tenant(tenant::Level::kReseller, "acme"); }),
      timed([&] { return f.consent("u@acme.test"); }),
      timed([&] {
        feedback::ReportRecord r;
        r.user = "u@acme.test";
        r.digest = "x";
        return f.commit_report(r, {});
      }),
      timed([&] { return f.forget_user("u@acme.test"); }),
  };
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_FALSE(calls[i].ok) << "call " << i;
    EXPECT_EQ(calls[i].kind, ErrorKind::kTemporary) << "call " << i;
    EXPECT_LE(calls[i].ms, kBoundMs) << "call " << i;
  }
  ASSERT_TRUE(server.restart()) << server.reason();
  // The pool reconnects; allow the first call after the restart one retry.
  auto again = t.get_reseller("acme");
  if (!again.ok())
    again = t.get_reseller("acme");
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_TRUE(again->has_value());
  EXPECT_FALSE(t.get_reseller("globex")->has_value());  // the failed write did not happen
  auto c = f.consent("u@acme.test");
  if (!c.ok())
    c = f.consent("u@acme.test");
  ASSERT_TRUE(c.ok()) << c.error().describe();
  EXPECT_EQ(*c, feedback::Consent::kDeclined);
  EXPECT_EQ(f.report_counts("u@acme.test")->first, 0);
}

// ---- Replicas ---------------------------------------------------------------------------

struct ReplicaNodes {
  std::unique_ptr<tenant::TenantStore> a;  // node A reads and writes PostgreSQL directly
  std::unique_ptr<TenantReplica> b;        // node B: the scan path's replica
  std::unique_ptr<feedback::FeedbackStore> fa;
  std::unique_ptr<FeedbackReplica> fb;
};
ReplicaNodes replica_nodes(const std::string& schema, ReplicaOptions ro = manual_replica()) {
  ReplicaNodes n;
  const auto o = options_for(g_pg->dsn(), schema);
  n.a = std::move(open_postgres_tenant_store(o).value());
  n.b = std::move(
      replicate_tenant_store(std::move(open_postgres_replicable_tenant_store(o).value()), ro)
          .value());
  n.fa = std::move(open_postgres_feedback_store(o).value());
  n.fb = std::move(
      replicate_feedback_store(std::move(open_postgres_replicable_feedback_store(o).value()), ro)
          .value());
  return n;
}

// B answers from memory: another node's writes (and removals, which cascade through triggers)
// appear at B's next poll, B's own writes at once; a user's corrections likewise.
TEST(PgReplica, OtherNodesChangesArriveAtThePollOwnWritesAtOnce) {
  REQUIRE_POSTGRES();
  auto n = replica_nodes("replica_nodes");
  const tenant::Clock clock = [] { return int64_t{1'800'000'000}; };
  ASSERT_TRUE(tenant::add_reseller(*n.a, clock, "acme", "").ok());
  ASSERT_TRUE(tenant::add_domain(*n.a, clock, "acme.test", "acme").ok());
  ASSERT_TRUE(tenant::add_user(*n.a, clock, "bob@acme.test").ok());
  ASSERT_TRUE(tenant::add_list_entry(*n.a, clock, tenant::Level::kDomain, "acme.test",
                                     tenant::ListKind::kBlock, "spammer@bad.test", "test", "",
                                     std::nullopt)
                  .ok());
  tenant::PolicyOverrides reject;
  reject.spam_action = tenant::SpamAction::kReject;
  ASSERT_TRUE(n.a->set_policy(tenant::Level::kDomain, "acme.test", reject).ok());
  tenant::SenderFacts facts;
  facts.address = "spammer@bad.test";
  const tenant::PolicyDefaults defaults;

  EXPECT_FALSE(n.b->get_user("bob@acme.test")->has_value());  // not polled yet: memory only
  ASSERT_TRUE(n.b->poll().ok());
  EXPECT_TRUE(n.b->get_user("bob@acme.test")->has_value());
  EXPECT_EQ(tenant::match(*n.b, "bob@acme.test", facts, clock())->verdict(),
            std::optional<tenant::ListKind>(tenant::ListKind::kBlock));
  auto policy = tenant::effective_policy(*n.b, defaults, "bob@acme.test");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->spam_action.value, tenant::SpamAction::kReject);
  EXPECT_EQ(policy->spam_action.from.describe(), "domain:acme.test");
  EXPECT_GE(n.b->stats().changes_applied, 5);

  // B's own write: seen by B at once, by A (PostgreSQL) too.
  auto allow =
      tenant::add_list_entry(*n.b, clock, tenant::Level::kUser, "bob@acme.test",
                             tenant::ListKind::kAllow, "friend@ok.test", "test", "", std::nullopt);
  ASSERT_TRUE(allow.ok());
  EXPECT_EQ(n.b->list_entries(tenant::Level::kUser, "bob@acme.test")->size(), 1u);
  EXPECT_EQ(n.a->list_entries(tenant::Level::kUser, "bob@acme.test")->size(), 1u);
  ASSERT_TRUE(*n.b->remove_list_entry(allow->id));
  EXPECT_TRUE(n.b->list_entries(tenant::Level::kUser, "bob@acme.test")->empty());

  // A removes the domain: its user, list entries and policy go from B at the next poll.
  ASSERT_TRUE(n.a->remove_tenant(tenant::Level::kDomain, "acme.test")->has_value());
  EXPECT_TRUE(n.b->get_domain("acme.test")->has_value());
  ASSERT_TRUE(n.b->poll().ok());
  EXPECT_FALSE(n.b->get_domain("acme.test")->has_value());
  EXPECT_FALSE(n.b->get_user("bob@acme.test")->has_value());
  EXPECT_TRUE(n.b->list_entries(tenant::Level::kDomain, "acme.test")->empty());
  EXPECT_TRUE(n.b->get_policy(tenant::Level::kDomain, "acme.test")->empty());
  EXPECT_TRUE(n.b->get_reseller("acme")->has_value());

  // Corrections (the threshold shift's input): A's report reaches B at its poll.
  feedback::ReportRecord rep;
  rep.user = "bob@acme.test";
  rep.digest = "d1";
  feedback::ReportEffects fx;
  fx.missed_spam = 1;
  ASSERT_TRUE(*n.fa->commit_report(rep, fx));
  EXPECT_EQ(n.fb->corrections("bob@acme.test")->missed_spam, 0);
  ASSERT_TRUE(n.fb->poll().ok());
  EXPECT_EQ(n.fb->corrections("bob@acme.test")->missed_spam, 1);
  rep.digest = "d2";
  fx = {};
  fx.false_positive = 1;
  ASSERT_TRUE(*n.fb->commit_report(rep, fx));  // B's own: at once
  EXPECT_EQ(n.fb->corrections("bob@acme.test")->false_positive, 1);
  ASSERT_TRUE(n.fa->forget_user("bob@acme.test").ok());
  ASSERT_TRUE(n.fb->poll().ok());
  EXPECT_EQ(n.fb->corrections("bob@acme.test")->missed_spam, 0);
  EXPECT_EQ(n.fb->corrections("bob@acme.test")->false_positive, 0);
}

// A transaction that began writing before another one but commits after it is not skipped: the
// feed reads by transaction id below the snapshot's xmin, not by a sequence (pg_changes.h).
TEST(PgReplica, AChangeCommittedLateIsNotSkipped) {
  REQUIRE_POSTGRES();
  auto n = replica_nodes("replica_late");
  const tenant::Clock clock = [] { return int64_t{1'800'000'000}; };
  ASSERT_TRUE(tenant::add_reseller(*n.a, clock, "acme", "").ok());
  ASSERT_TRUE(n.b->poll().ok());
  PGconn* late = PQconnectdb(g_pg->dsn().c_str());
  ASSERT_EQ(PQstatus(late), CONNECTION_OK);
  auto sql = [&](const char* q) {
    PGresult* r = PQexec(late, q);
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
  };
  ASSERT_TRUE(sql("BEGIN"));
  ASSERT_TRUE(
      sql("INSERT INTO replica_late.tenant_policies(level, id, spam_score) "
          "VALUES(1, 'acme', 9)"));
  // Meanwhile another node commits a change, and B polls.
  ASSERT_TRUE(tenant::add_domain(*n.a, clock, "acme.test", "acme").ok());
  ASSERT_TRUE(n.b->poll().ok());
  ASSERT_TRUE(sql("COMMIT"));
  PQfinish(late);
  ASSERT_TRUE(n.b->poll().ok());
  EXPECT_EQ(n.b->get_policy(tenant::Level::kReseller, "acme")->spam_score, std::optional(9.0));
  EXPECT_TRUE(n.b->get_domain("acme.test")->has_value());
}

// Feed rows older than the retention are pruned; a node that could not read the feed for half
// the retention reloads in full instead of trusting a window that may have been pruned.
TEST(PgReplica, PrunedFeedAndAStaleNodeReloads) {
  REQUIRE_POSTGRES();
  std::atomic<int64_t> now{1'000'000};
  ReplicaOptions ro = manual_replica();
  ro.retention_s = 60;
  ro.now_ms = [&] { return now.load(); };
  auto n = replica_nodes("replica_prune", ro);
  const tenant::Clock clock = [] { return int64_t{1'800'000'000}; };
  ASSERT_TRUE(tenant::add_reseller(*n.a, clock, "acme", "").ok());
  ASSERT_TRUE(n.b->poll().ok());
  EXPECT_EQ(n.b->stats().reloads, 0);
  ASSERT_NE(sql_value("SELECT count(*) FROM replica_prune.tenant_changes"), "0");
  ASSERT_EQ(sql_value("UPDATE replica_prune.tenant_changes SET at = now() - interval '2 minutes' "
                      "RETURNING 1"),
            "1");
  ASSERT_TRUE(tenant::add_reseller(*n.a, clock, "globex", "").ok());
  now += 61'000;  // also past the once-a-minute prune spacing
  ASSERT_TRUE(n.b->poll().ok());
  EXPECT_EQ(n.b->stats().reloads, 1);  // 61 s without a poll > retention / 2
  EXPECT_TRUE(n.b->get_reseller("globex")->has_value());
  EXPECT_EQ(sql_value("SELECT count(*) FROM replica_prune.tenant_changes"), "1");
}

// A full load may take longer than postgres.timeout_ms in total: each statement of the load
// has its own deadline (the first version timed out at the COMMIT of a million-user load).
TEST(PgReplica, ALoadLongerThanOneTimeoutCompletes) {
  REQUIRE_POSTGRES();
  auto o = options_for(g_pg->dsn(), "replica_big");
  ASSERT_TRUE(open_postgres_tenant_store(o).ok());  // migrations
  ASSERT_EQ(sql_value("INSERT INTO replica_big.tenant_resellers VALUES('acme', '', 0); "
                      "INSERT INTO replica_big.tenant_domains VALUES('acme.test', 'acme', 0); "
                      "INSERT INTO replica_big.tenant_users SELECT 'u' || i || '@acme.test', "
                      "'acme.test', i FROM generate_series(1, 300000) i"),
            "");
  o.timeout_ms = 150;
  const auto t0 = std::chrono::steady_clock::now();
  auto b = replicate_tenant_store(std::move(open_postgres_replicable_tenant_store(o).value()),
                                  manual_replica());
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(b.ok()) << b.error().describe();
  // Only meaningful if the load really outlasted one timeout (it takes ~1 s here).
  EXPECT_GT(took, std::chrono::milliseconds(o.timeout_ms));
  auto u = (*b)->get_user("u299999@acme.test");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->domain, "acme.test");
  EXPECT_EQ((*u)->created_at, 299999);
}

// While PostgreSQL is down the replica keeps answering the scan path from its image (that is
// the point: no round trip), polls fail as kTemporary and are counted, and it follows again
// after the restart.
TEST(PgReplicaFaults, ServesTheScanPathWhilePostgresIsDown) {
  REQUIRE_POSTGRES();
  PostgresServer server;  // our own: this test kills it
  ASSERT_TRUE(server.start()) << server.reason();
  // As in the test above: acknowledged writes must survive the SIGKILL.
  auto o = options_for(server.dsn() + " options='-c synchronous_commit=on'", "replica_down");
  o.timeout_ms = 500;
  auto a = open_postgres_tenant_store(o);
  ASSERT_TRUE(a.ok());
  const tenant::Clock clock = [] { return int64_t{1'800'000'000}; };
  ASSERT_TRUE(tenant::add_reseller(**a, clock, "acme", "").ok());
  ASSERT_TRUE(tenant::add_domain(**a, clock, "acme.test", "acme").ok());
  ASSERT_TRUE(tenant::add_list_entry(**a, clock, tenant::Level::kDomain, "acme.test",
                                     tenant::ListKind::kBlock, "bad.test", "test", "", std::nullopt)
                  .ok());
  auto b = replicate_tenant_store(std::move(open_postgres_replicable_tenant_store(o).value()),
                                  manual_replica());
  ASSERT_TRUE(b.ok()) << b.error().describe();
  server.kill();
  tenant::SenderFacts facts;
  facts.address = "x@bad.test";
  auto m = tenant::match(**b, "bob@acme.test", facts, clock());
  ASSERT_TRUE(m.ok()) << m.error().describe();
  EXPECT_EQ(m->verdict(), std::optional<tenant::ListKind>(tenant::ListKind::kBlock));
  EXPECT_TRUE(tenant::effective_policy(**b, tenant::PolicyDefaults{}, "bob@acme.test").ok());
  auto polled = (*b)->poll();
  ASSERT_FALSE(polled.ok());
  EXPECT_EQ(polled.error().kind, ErrorKind::kTemporary);
  EXPECT_EQ((*b)->stats().poll_errors, 1);
  auto write = (*b)->add_reseller({"globex", "", 2});
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().kind, ErrorKind::kTemporary);
  ASSERT_TRUE(server.restart()) << server.reason();
  // Each pooled connection finds out it is broken on its next use (pool_size 2): retries.
  auto retried = [](auto call) {
    for (int i = 0; i < 3; ++i) {
      auto r = call();
      if (r.ok())
        return true;
      std::cerr << "retry " << i << ": " << r.error().describe() << "\n";
    }
    return false;
  };
  ASSERT_TRUE(retried([&] { return (*b)->poll(); }));
  ASSERT_TRUE(retried([&] { return tenant::add_user(**a, clock, "bob@acme.test"); }));
  ASSERT_TRUE((*b)->poll().ok());
  EXPECT_TRUE((*b)->get_user("bob@acme.test")->has_value());
}

}  // namespace
}  // namespace mailsift::fleet
