// Hermetic tests of fleet::migrate_tenant_files: tenants.db and feedback.db written through the
// real SQLite backends, migrated into the in-memory backends; a second run writes nothing; a
// destination that disagrees shows as a mismatch. (fleet_pg_tenant runs the PostgreSQL stores.)
#include "fleet/migrate_tenant.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace mailsift::fleet {
namespace {

struct Files {
  std::filesystem::path dir;
  Files() {
    char tmpl[] = "/tmp/mailsift-migrate-tn-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Files() { std::filesystem::remove_all(dir); }
  std::string operator/(const char* name) const { return (dir / name).string(); }
};

const tenant::Clock kClock = [] { return int64_t{1'800'000'000}; };

void fill_tenants(const std::string& path) {
  auto s = tenant::open_sqlite_tenant_store(path);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  auto& t = **s;
  ASSERT_TRUE(tenant::add_reseller(t, kClock, "acme", "Acme").ok());
  ASSERT_TRUE(tenant::add_domain(t, kClock, "acme.test", "acme").ok());
  ASSERT_TRUE(tenant::add_user(t, kClock, "bob@acme.test").ok());
  ASSERT_TRUE(tenant::add_user(t, kClock, "carol@acme.test").ok());
  tenant::PolicyOverrides p;
  p.spam_score = 4.5;
  p.spam_action = tenant::SpamAction::kReject;
  ASSERT_TRUE(t.set_policy(tenant::Level::kDomain, "acme.test", p).ok());
  for (const char* e : {"spam@bad.test", "*.bad.test", "192.0.2.0/24"})
    ASSERT_TRUE(tenant::add_list_entry(t, kClock, tenant::Level::kUser, "bob@acme.test",
                                       tenant::ListKind::kBlock, e, "cli:root", "n", 1'900'000'000)
                    .ok());
  ASSERT_TRUE(tenant::create_api_key(t, kClock, tenant::Role::kReseller, "acme", "k").ok());
}

void fill_feedback(const std::string& path) {
  auto s = feedback::open_sqlite_store(path);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  auto& f = **s;
  auto rep = [](const char* user, const char* digest, feedback::Kind kind, const char* sender) {
    feedback::ReportRecord r;
    r.user = user;
    r.digest = digest;
    r.kind = kind;
    r.sender = sender;
    r.at_ms = 10;
    r.signature = {1, 0xFFFFFFFFu};
    r.bands = {5, 0xFFFFFFFFFFFFFFF0ull};
    return r;
  };
  feedback::ReportEffects fx;
  fx.agree = 1;
  fx.sender_spam = 1;
  fx.missed_spam = 1;
  ASSERT_TRUE(
      *f.commit_report(rep("bob@acme.test", "d1", feedback::Kind::kSpam, "x@bad.test"), fx));
  ASSERT_TRUE(
      *f.commit_report(rep("bob@acme.test", "d2", feedback::Kind::kSpam, "x@bad.test"), fx));
  fx = {};
  fx.disagree = 1;
  fx.sender_ham = 1;
  fx.false_positive = 1;
  ASSERT_TRUE(*f.commit_report(rep("bob@acme.test", "d3", feedback::Kind::kHam, "y@ok.test"), fx));
  ASSERT_TRUE(*f.commit_report(rep("carol@acme.test", "d1", feedback::Kind::kSpam, ""), {}));
  ASSERT_TRUE(f.set_consent("bob@acme.test", feedback::Consent::kAccepted, 7).ok());
  ASSERT_TRUE(f.set_consent("carol@acme.test", feedback::Consent::kDeclined, 8).ok());
}

std::map<std::string, KindCount> by_kind(const MigrateReport& r) {
  std::map<std::string, KindCount> out;
  for (const auto& k : r.kinds)
    out[k.kind] = k;
  return out;
}

TEST(MigrateTenant, CopiesEverythingVerifiesAndSecondRunWritesNothing) {
  Files f;
  fill_tenants(f / "tenants.db");
  fill_feedback(f / "feedback.db");
  EXPECT_EQ(tenant_file_kind(f / "tenants.db"), TenantFileKind::kTenants);
  EXPECT_EQ(tenant_file_kind(f / "feedback.db"), TenantFileKind::kFeedback);
  auto tenants = tenant::make_memory_tenant_store();
  auto fb = feedback::make_memory_store();
  MigrateReport report;
  ASSERT_TRUE(migrate_tenant_files({f / "tenants.db", f / "feedback.db"}, false,
                                   {tenants.get(), fb.get()}, report)
                  .ok());
  std::cout << report.table();
  EXPECT_TRUE(report.ok());
  auto k = by_kind(report);
  EXPECT_EQ(k["tenant resellers"].source, 1u);
  EXPECT_EQ(k["tenant users"].destination, 2u);
  EXPECT_EQ(k["tenant policies"].destination, 1u);
  EXPECT_EQ(k["tenant list entries"].written, 3u);
  EXPECT_EQ(k["tenant list entries"].destination, 3u);
  EXPECT_EQ(k["tenant api keys"].destination, 1u);
  EXPECT_EQ(k["feedback reports"].destination, 4u);
  EXPECT_EQ(k["feedback reporters"].destination, 2u);
  EXPECT_EQ(k["feedback senders"].destination, 2u);
  EXPECT_EQ(k["feedback corrections"].destination, 1u);  // carol has none
  EXPECT_EQ(k["feedback consent"].destination, 2u);
  // The counters themselves, and a campaign found by a migrated uint64 band.
  EXPECT_EQ(fb->reporter("bob@acme.test")->agree, 2);
  EXPECT_EQ(fb->reporter("bob@acme.test")->disagree, 1);
  EXPECT_EQ(fb->reporter("bob@acme.test")->reports, 3);
  EXPECT_EQ(fb->sender("bob@acme.test", "x@bad.test")->spam_reports, 2);
  EXPECT_EQ(fb->corrections("bob@acme.test")->false_positive, 1);
  auto c = fb->campaign_candidates({0xFFFFFFFFFFFFFFF0ull}, 0);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size(), 3u);  // the three spam reports (the ham one has no bands)

  MigrateReport again;
  ASSERT_TRUE(migrate_tenant_files({f / "tenants.db", f / "feedback.db"}, false,
                                   {tenants.get(), fb.get()}, again)
                  .ok());
  EXPECT_TRUE(again.ok());
  for (const auto& kc : again.kinds)
    EXPECT_EQ(kc.written, 0u) << kc.kind;
  EXPECT_EQ(fb->reporter("bob@acme.test")->agree, 2);  // nothing applied twice
}

TEST(MigrateTenant, DryRunWritesNothingAndMismatchIsReported) {
  Files f;
  fill_tenants(f / "tenants.db");
  auto tenants = tenant::make_memory_tenant_store();
  MigrateReport dry;
  ASSERT_TRUE(migrate_tenant_files({f / "tenants.db"}, true, {tenants.get(), nullptr}, dry).ok());
  EXPECT_FALSE(dry.ok());
  EXPECT_TRUE(tenants->list_resellers()->empty());
  // A destination reseller with another name is not "present".
  ASSERT_TRUE(tenant::add_reseller(*tenants, kClock, "acme", "Other name").ok());
  MigrateReport report;
  ASSERT_TRUE(
      migrate_tenant_files({f / "tenants.db"}, false, {tenants.get(), nullptr}, report).ok());
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(by_kind(report)["tenant resellers"].destination, 0u);
  EXPECT_EQ(by_kind(report)["tenant users"].destination, 2u);
  // A feedback file without a feedback destination is a configuration error.
  fill_feedback(f / "feedback.db");
  MigrateReport none;
  auto st = migrate_tenant_files({f / "feedback.db"}, false, {tenants.get(), nullptr}, none);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kConfig);
}

}  // namespace
}  // namespace mailsift::fleet
