// Removing resellers, domains and users (cascade, on both backends), revoking keys, and what a
// removal does to the removed users' learned data (tenant/feedback_bridge.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/store.h"
#include "tenant/feedback_bridge.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {
namespace {

struct Removal_ : ::testing::TestWithParam<std::string> {
  void SetUp() override {
    if (GetParam() == "memory") {
      store = make_memory_tenant_store();
    } else {
      dir = std::filesystem::temp_directory_path() /
            ("tenant_removal_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      auto s = open_sqlite_tenant_store((dir / "tenants.db").string());
      ASSERT_TRUE(s.ok()) << s.error().describe();
      store = std::move(*s);
    }
    for (auto [r, d, u] : {std::tuple{"acme", "acme.test", "bob@acme.test"},
                           std::tuple{"acme", "acme2.test", "amy@acme2.test"},
                           std::tuple{"globex", "globex.test", "dave@globex.test"}}) {
      (void)add_reseller(*store, clock, r, r);
      ASSERT_TRUE(add_domain(*store, clock, d, r).ok());
      ASSERT_TRUE(add_user(*store, clock, u).ok());
      ASSERT_TRUE(add_list_entry(*store, clock, Level::kUser, u, ListKind::kBlock, "x@bad.test",
                                 "t", "", std::nullopt)
                      .ok());
      ASSERT_TRUE(add_list_entry(*store, clock, Level::kDomain, d, ListKind::kAllow, "ok.test", "t",
                                 "", std::nullopt)
                      .ok());
      PolicyOverrides p;
      p.learning_enabled = false;
      ASSERT_TRUE(store->set_policy(Level::kUser, u, p).ok());
    }
    ASSERT_TRUE(add_list_entry(*store, clock, Level::kReseller, "acme", ListKind::kBlock,
                               "10.0.0.0/8", "t", "", std::nullopt)
                    .ok());
    acme_key = create_api_key(*store, clock, Role::kReseller, "acme", "panel")->key;
    globex_key = create_api_key(*store, clock, Role::kReseller, "globex", "panel")->key;
    admin_key = create_api_key(*store, clock, Role::kAdmin, "", "ops")->key;
  }
  void TearDown() override {
    store.reset();
    if (!dir.empty())
      std::filesystem::remove_all(dir);
  }
  Clock clock = [] { return int64_t{1'800'000'000}; };
  std::unique_ptr<TenantStore> store;
  std::filesystem::path dir;
  std::string acme_key, globex_key, admin_key;
};

TEST_P(Removal_, ResellerTakesEverythingBelowItAndOnlyThat) {
  auto r = store->remove_tenant(Level::kReseller, "acme");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->domains, (std::vector<std::string>{"acme.test", "acme2.test"}));
  EXPECT_EQ((*r)->users, (std::vector<std::string>{"bob@acme.test", "amy@acme2.test"}));
  EXPECT_EQ((*r)->list_entries, 5);  // 2 user + 2 domain + 1 reseller
  EXPECT_EQ((*r)->policies, 2);
  EXPECT_EQ((*r)->api_keys, 1);
  EXPECT_FALSE(store->get_reseller("acme")->has_value());
  EXPECT_FALSE(store->get_domain("acme2.test")->has_value());
  EXPECT_FALSE(store->get_user("bob@acme.test")->has_value());
  EXPECT_TRUE(store->list_entries(Level::kUser, "bob@acme.test")->empty());
  EXPECT_FALSE(authenticate(*store, acme_key).ok());
  // The other reseller is untouched.
  EXPECT_TRUE(authenticate(*store, globex_key).ok());
  EXPECT_TRUE(store->get_user("dave@globex.test")->has_value());
  EXPECT_EQ(store->list_entries(Level::kUser, "dave@globex.test")->size(), 1u);
  EXPECT_EQ(store->get_policy(Level::kUser, "dave@globex.test")->learning_enabled, false);
  // A removed id can be created again, from scratch.
  ASSERT_TRUE(add_reseller(*store, clock, "acme", "again").ok());
  ASSERT_TRUE(add_domain(*store, clock, "acme.test", "acme").ok());
  ASSERT_TRUE(add_user(*store, clock, "bob@acme.test").ok());
  EXPECT_TRUE(store->list_entries(Level::kUser, "bob@acme.test")->empty());
  EXPECT_TRUE(store->get_policy(Level::kUser, "bob@acme.test")->empty());
}

TEST_P(Removal_, DomainAndUserRemoval) {
  auto d = store->remove_tenant(Level::kDomain, "acme2.test");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->users, std::vector<std::string>{"amy@acme2.test"});
  EXPECT_EQ((*d)->list_entries, 2);
  EXPECT_TRUE(store->get_reseller("acme")->has_value());
  EXPECT_TRUE(store->get_user("bob@acme.test")->has_value());
  auto u = store->remove_tenant(Level::kUser, "bob@acme.test");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->list_entries, 1);
  EXPECT_EQ((*u)->policies, 1);
  EXPECT_TRUE(store->get_domain("acme.test")->has_value());
  EXPECT_EQ(store->list_entries(Level::kDomain, "acme.test")->size(), 1u);
  auto again = store->remove_tenant(Level::kUser, "bob@acme.test");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_FALSE(store->remove_tenant(Level::kGlobal, "").ok());
}

TEST_P(Removal_, KeysAreListedAndRevokedByIdOrKey) {
  auto all = store->list_api_keys("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(store->list_api_keys("acme")->size(), 1u);
  const Principal acme{Role::kReseller, "acme"};
  // A reseller cannot find (so cannot revoke) another reseller's or an admin key.
  auto other = find_key_for_revoke(*store, acme, globex_key);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  std::string admin_id = sha256_hex(admin_key).substr(0, 16);
  EXPECT_FALSE(find_key_for_revoke(*store, acme, admin_id)->has_value());
  EXPECT_EQ(find_key_for_revoke(*store, acme, "abcd").error().kind, ErrorKind::kMalformed);
  auto mine = find_key_for_revoke(*store, acme, sha256_hex(acme_key).substr(0, 12));
  ASSERT_TRUE(mine.ok() && mine->has_value());
  EXPECT_TRUE(*store->remove_api_key((*mine)->hash));
  EXPECT_FALSE(authenticate(*store, acme_key).ok());
  EXPECT_FALSE(*store->remove_api_key((*mine)->hash));
  EXPECT_TRUE(authenticate(*store, admin_key).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, Removal_, ::testing::Values("memory", "sqlite"));

// The learned-data part: a removed user's reports are forgotten and what they taught the user's
// own scope is unlearned; other users' data stays.
TEST(RemovalPurge, ForgetsTheUsersFeedbackAndUnlearnsTheirScope) {
  auto stats = store::make_memory_store();
  auto fb = feedback::make_memory_store();
  auto learn = [&](const std::string& user, const std::string& digest) {
    store::LearnRequest req{
        store::Scope{store::Level::kUser, user}, digest, store::Class::kSpam, {1, 2, 3}};
    ASSERT_TRUE(stats->learn(req).ok());
    feedback::ReportRecord r;
    r.user = user;
    r.digest = digest;
    r.sender = "x@bad.test";
    ASSERT_TRUE(fb->commit_report(r, feedback::ReportEffects{0, 0, 1, 0, 1, 0}).ok());
    ASSERT_TRUE(fb->set_consent(user, feedback::Consent::kAccepted, 1).ok());
  };
  learn("bob@acme.test", "d1");
  learn("bob@acme.test", "d2");
  learn("dave@globex.test", "d1");
  auto p = purge_users(*fb, *stats, {"bob@acme.test"});
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(p->reports, 2);
  EXPECT_EQ(p->unlearned, 2);
  EXPECT_TRUE(p->errors.empty());
  EXPECT_EQ(stats->totals(store::Scope{store::Level::kUser, "bob@acme.test"})->spam_messages, 0u);
  EXPECT_EQ(stats->totals(store::Scope{store::Level::kUser, "dave@globex.test"})->spam_messages,
            1u);
  EXPECT_EQ(fb->report_counts("bob@acme.test")->first, 0);
  EXPECT_EQ(fb->consent("bob@acme.test").value(), feedback::Consent::kUnknown);
  EXPECT_EQ(fb->sender("bob@acme.test", "x@bad.test")->spam_reports, 0);
  EXPECT_EQ(fb->report_counts("dave@globex.test")->first, 1);
  EXPECT_EQ(fb->consent("dave@globex.test").value(), feedback::Consent::kAccepted);
  // The same report by a re-created bob is a new report, not a duplicate.
  EXPECT_FALSE(*fb->has_report("bob@acme.test", "d1", feedback::Kind::kSpam));
}

}  // namespace
}  // namespace mailsift::tenant
