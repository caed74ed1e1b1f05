// Hermetic tests of fleet::migrate: SQLite files written through the real embedded backends,
// migrated into the in-memory backends (the Redis/PostgreSQL run is tests/fleet/migrate.sh).
#include "fleet/migrate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace mailsift::fleet {
namespace {

using store::Class;
using store::Scope;

struct Files {
  std::filesystem::path dir;
  Files() {
    char tmpl[] = "/tmp/mailsift-migrate-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Files() { std::filesystem::remove_all(dir); }
  std::string operator/(const char* name) const { return (dir / name).string(); }
};

const Scope kBob{store::Level::kUser, "bob@example.com"};
const Scope kDomain{store::Level::kDomain, "example.com"};

void fill_sources(const Files& f) {
  auto s = store::open_sqlite_store(f / "mailsift.db");
  ASSERT_TRUE(s.ok()) << s.error().describe();
  auto& st = **s;
  ASSERT_TRUE(st.learn({kBob, "m1", Class::kSpam, {1, 2, 3}}).ok());
  ASSERT_TRUE(st.learn({kBob, "m2", Class::kSpam, {2, 3, 4}}).ok());
  ASSERT_TRUE(st.learn({kBob, "m3", Class::kHam, {3, 5}}).ok());
  ASSERT_TRUE(st.learn({Scope::global(), "m1", Class::kSpam, {1, 2, 3}}).ok());
  ASSERT_TRUE(st.learn({kDomain, "m4", Class::kHam, {9}}).ok());
  ASSERT_TRUE(st.unlearn(kDomain, "m4", Class::kHam).ok());  // leaves an empty scope
  ASSERT_TRUE(st.learn({kDomain, "m5", Class::kSpam, {7, 8}}).ok());
  ASSERT_TRUE(st.fuzzy_add(kBob, {"m1", Class::kSpam, {11, 12}, {1, 2, 3, 4}, "alice", 100}).ok());
  ASSERT_TRUE(st.fuzzy_add(kBob, {"m1", Class::kSpam, {11, 12}, {1, 2, 3, 4}, "carol", 101}).ok());

  auto log = decisions::open_sqlite_log(f / "decisions.db");
  ASSERT_TRUE(log.ok()) << log.error().describe();
  for (int i = 0; i < 5; ++i) {
    decisions::Decision d;
    d.id = "d" + std::to_string(i);
    d.time_unix_ms = 1'700'000'000'000 + int64_t{i} * 40'000'000;  // spans three days
    d.node = "n1";
    d.mail_from = "x@example.net";
    d.recipients.push_back({"bob@example.com",
                            "bob@example.com",
                            "example.com",
                            "",
                            7.5,
                            "add header",
                            "",
                            "data",
                            "user",
                            {{"BAYES_SPAM", 3.0}}});
    if (i % 2) {
      decisions::RecipientDecision eve;
      eve.address = "eve@example.com";
      d.recipients.push_back(eve);
    }
    ASSERT_TRUE((*log)->record(d).ok());
  }

  auto ob = outbound::open_sqlite_store(f / "outbound.db");
  ASSERT_TRUE(ob.ok()) << ob.error().describe();
  auto& o = **ob;
  ASSERT_TRUE(o.put_status({outbound::Subject::user("bob@example.com"),
                            outbound::Level::kSendingDisabled, "phished", 5000, "cli", true})
                  .ok());
  ASSERT_TRUE(o.add_count("msg1h:user:bob@example.com", 10, 3, 0).ok());
  ASSERT_TRUE(o.add_count("msg1h:user:bob@example.com", 11, 2, 0).ok());
  ASSERT_TRUE(o.touch_member("rcpt1d:user:bob@example.com", "a@x.test", 1000, 0).ok());
  ASSERT_TRUE(o.touch_member("rcpt1d:user:bob@example.com", "b@x.test", 2000, 0).ok());
  ASSERT_TRUE(o.put_value("ewma:user:bob@example.com", "4.5").ok());
  ASSERT_TRUE(o.add_alert({3000, "user:bob@example.com", "auto_hold", 9.0, "burst"}).ok());
}

const KindCount& kind(const MigrateReport& r, const std::string& name) {
  for (const auto& k : r.kinds)
    if (k.kind == name)
      return k;
  static KindCount none{"(missing)", 1, 0, 0};
  ADD_FAILURE() << "no row " << name;
  return none;
}

struct Dest {
  std::unique_ptr<store::Store> store = store::make_memory_store();
  std::unique_ptr<decisions::DecisionLog> log = decisions::make_memory_log();
  std::unique_ptr<outbound::OutboundStore> outbound = outbound::make_memory_store();
  MigrateTargets targets() { return {store.get(), log.get(), outbound.get()}; }
};

TEST(Migrate, CopiesEveryKindAndVerifies) {
  Files f;
  ASSERT_NO_FATAL_FAILURE(fill_sources(f));
  Dest d;
  auto r =
      migrate({{f / "mailsift.db", f / "decisions.db", f / "outbound.db"}, false}, d.targets());
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->ok()) << r->table();
  EXPECT_EQ(kind(*r, "learned messages").source, 5u);  // m1 (bob), m2, m3, m1 (global), m5
  EXPECT_EQ(kind(*r, "learned messages").written, 5u);
  EXPECT_EQ(kind(*r, "token counts").source, 5u + 3u + 2u);  // bob 1..5, global 1..3, domain 7,8
  EXPECT_EQ(kind(*r, "fuzzy records").source, 2u);
  EXPECT_EQ(kind(*r, "decisions").source, 5u);
  EXPECT_EQ(kind(*r, "decision recipients").source, 7u);
  EXPECT_EQ(kind(*r, "counter buckets").source, 2u);
  EXPECT_EQ(kind(*r, "recipient-set members").source, 2u);
  EXPECT_EQ(kind(*r, "alerts").destination, 1u);

  // The destination answers like the source.
  auto c = d.store->token_counts(kBob, std::vector<uint64_t>{3, 5, 6});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0], (store::TokenCounts{1, 2}));
  EXPECT_EQ((*c)[1], (store::TokenCounts{1, 0}));
  EXPECT_EQ((*c)[2], (store::TokenCounts{0, 0}));
  EXPECT_EQ(d.store->totals(kDomain).value(), (store::ClassTotals{0, 1}));
  // Unlearn works on the destination (records migrated, not just counts).
  EXPECT_EQ(d.store->unlearn(kBob, "m2", Class::kSpam).value(), store::LearnOutcome::kUnlearned);
  EXPECT_EQ(d.outbound->sum_counts("msg1h:user:bob@example.com", 10, 11).value(), 5);
  EXPECT_EQ(d.outbound->get_status(outbound::Subject::user("bob@example.com")).value()->reason,
            "phished");
  decisions::Query q;
  q.limit = 0;
  EXPECT_EQ(d.log->query(q).value().size(), 5u);
}

TEST(Migrate, SecondRunWritesNothingAndCountsStay) {
  Files f;
  ASSERT_NO_FATAL_FAILURE(fill_sources(f));
  Dest d;
  MigrateOptions o{{f / "mailsift.db", f / "decisions.db", f / "outbound.db"}, false};
  ASSERT_TRUE(migrate(o, d.targets()).ok());
  auto again = migrate(o, d.targets());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->ok()) << again->table();
  for (const auto& k : again->kinds)
    EXPECT_EQ(k.written, 0u) << k.kind;
  EXPECT_EQ(d.store->totals(kBob).value(), (store::ClassTotals{1, 2}));
  EXPECT_EQ(d.outbound->sum_counts("msg1h:user:bob@example.com", 10, 11).value(), 5);
  EXPECT_EQ(d.outbound->alerts("", 0).value().size(), 1u);
  decisions::Query q;
  q.limit = 0;
  EXPECT_EQ(d.log->query(q).value().size(), 5u);
}

TEST(Migrate, DryRunWritesNothing) {
  Files f;
  ASSERT_NO_FATAL_FAILURE(fill_sources(f));
  Dest d;
  auto r = migrate({{f / "mailsift.db", f / "decisions.db", f / "outbound.db"}, true}, d.targets());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(kind(*r, "learned messages").destination, 0u);
  EXPECT_EQ(d.store->totals(kBob).value(), (store::ClassTotals{}));
  decisions::Query q;
  q.limit = 0;
  EXPECT_TRUE(d.log->query(q).value().empty());
}

// Other learning already in a migrated scope of the destination is a visible mismatch.
TEST(Migrate, DestinationWithOtherLearningIsAMismatch) {
  Files f;
  ASSERT_NO_FATAL_FAILURE(fill_sources(f));
  Dest d;
  ASSERT_TRUE(d.store->learn({kBob, "other", Class::kSpam, {1, 42}}).ok());
  auto r = migrate({{f / "mailsift.db"}, false}, d.targets());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(kind(*r, "learned messages").destination, 6u);
  EXPECT_LT(kind(*r, "token counts").destination, kind(*r, "token counts").source);
  EXPECT_NE(r->table().find("MISMATCH"), std::string::npos);
}

TEST(Migrate, UnknownFileAndMissingDestinationAreConfigErrors) {
  Files f;
  ASSERT_NO_FATAL_FAILURE(fill_sources(f));
  Dest d;
  auto r = migrate({{f / "nope.db"}, false}, d.targets());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
  r = migrate({{f / "decisions.db"}, false}, {d.store.get(), nullptr, nullptr});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
}

TEST(Migrate, ScopeKeysRoundTrip) {
  for (const Scope& s : {Scope::global(), kBob, kDomain, Scope{store::Level::kReseller, "acme"}})
    EXPECT_EQ(parse_scope_key(s.key()).value(), s);
  EXPECT_FALSE(parse_scope_key("x:y").ok());
  EXPECT_FALSE(parse_scope_key("g:extra").ok());
}

}  // namespace
}  // namespace mailsift::fleet
