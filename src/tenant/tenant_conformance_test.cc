// The one TenantStore conformance suite: every backend must pass it unchanged. It drives the
// store through the shared operations (tenant.h) the CLI, API and list check use.
#include <cstdlib>
#include <filesystem>

#include "tenant/testing/conformance.h"

namespace mailsift::tenant::testing {

void TenantConformance::SetUp() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mailsift-tenant-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
}

void TenantConformance::TearDown() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::unique_ptr<TenantStore> TenantConformance::fresh() {
  auto s = GetParam().open_fresh(dir_);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().describe());
  return s.ok() ? std::move(s).value() : nullptr;
}

std::unique_ptr<TenantStore> TenantConformance::reopen() {
  if (!GetParam().reopen)
    return nullptr;
  auto s = GetParam().reopen(dir_);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().describe());
  return s.ok() ? std::move(s).value() : nullptr;
}

namespace {

int64_t g_now = 1'800'000'000;
const Clock kClock = [] { return g_now; };

// acme: acme.test (bob, carol); globex: globex.test (dave).
void populate(TenantStore& s) {
  ASSERT_TRUE(add_reseller(s, kClock, "acme", "Acme Hosting").ok());
  ASSERT_TRUE(add_reseller(s, kClock, "globex", "").ok());
  ASSERT_TRUE(add_domain(s, kClock, "acme.test", "acme").ok());
  ASSERT_TRUE(add_domain(s, kClock, "Globex.TEST", "globex").ok());
  ASSERT_TRUE(add_user(s, kClock, "bob@acme.test").ok());
  ASSERT_TRUE(add_user(s, kClock, "<Carol@ACME.test>").ok());
  ASSERT_TRUE(add_user(s, kClock, "dave@globex.test").ok());
}

ListEntry add(TenantStore& s, Level level, const std::string& owner, ListKind kind,
              const std::string& text, std::optional<int64_t> expires = std::nullopt) {
  auto e = add_list_entry(s, kClock, level, owner, kind, text, "test", "", expires);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().describe());
  return e.ok() ? *e : ListEntry{};
}

TEST_P(TenantConformance, ModelAddGetList) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  auto r = s->get_reseller("acme");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->name, "Acme Hosting");
  EXPECT_EQ((*r)->created_at, g_now);
  EXPECT_EQ((*s->get_reseller("globex"))->name, "globex");  // name defaults to the id
  EXPECT_FALSE(s->get_reseller("nope")->has_value());

  auto d = s->get_domain("globex.test");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->reseller, "globex");
  auto u = s->get_user("carol@acme.test");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->domain, "acme.test");

  EXPECT_EQ(s->list_resellers()->size(), 2u);
  EXPECT_EQ((*s->list_resellers())[0].id, "acme");
  EXPECT_EQ(s->list_domains("")->size(), 2u);
  EXPECT_EQ(s->list_domains("acme")->size(), 1u);
  EXPECT_EQ(s->list_domains("nope")->size(), 0u);
  auto users = s->list_users("acme.test");
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].address, "bob@acme.test");
  EXPECT_EQ((*users)[1].address, "carol@acme.test");
  EXPECT_EQ(s->list_users("")->size(), 3u);
}

TEST_P(TenantConformance, DuplicatesAndMissingParentsArePermanent) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  auto dup = add_reseller(*s, kClock, "ACME", "x");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(add_domain(*s, kClock, "acme.test", "globex").error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(add_domain(*s, kClock, "new.test", "nope").error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(add_user(*s, kClock, "x@unknown.test").error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(add_user(*s, kClock, "bob@acme.test").error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(add_reseller(*s, kClock, "bad id!", "").error().kind, ErrorKind::kMalformed);
  EXPECT_EQ(add_domain(*s, kClock, "not a domain", "acme").error().kind, ErrorKind::kMalformed);
  EXPECT_EQ(add_user(*s, kClock, "nobody").error().kind, ErrorKind::kMalformed);
}

TEST_P(TenantConformance, PolicySetGetClear) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  EXPECT_TRUE(s->get_policy(Level::kDomain, "acme.test")->empty());
  PolicyOverrides p;
  p.spam_action = SpamAction::kReject;
  p.reject_score = 20;
  ASSERT_TRUE(s->set_policy(Level::kDomain, "acme.test", p).ok());
  EXPECT_EQ(*s->get_policy(Level::kDomain, "acme.test"), p);
  PolicyOverrides all{SpamAction::kTagSubject, 4.5, -2.25, false};
  ASSERT_TRUE(s->set_policy(Level::kUser, "bob@acme.test", all).ok());
  EXPECT_EQ(*s->get_policy(Level::kUser, "bob@acme.test"), all);
  ASSERT_TRUE(s->set_policy(Level::kUser, "bob@acme.test", PolicyOverrides{}).ok());
  EXPECT_TRUE(s->get_policy(Level::kUser, "bob@acme.test")->empty());
  EXPECT_EQ(s->set_policy(Level::kUser, "nobody@acme.test", p).error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(s->set_policy(Level::kGlobal, "", p).error().kind, ErrorKind::kPermanent);
}

TEST_P(TenantConformance, EffectivePolicyInheritsWithProvenance) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  PolicyDefaults d;  // folder, 6, 15, learning on
  PolicyOverrides reseller;
  reseller.spam_score = 7;
  reseller.learning_enabled = false;
  ASSERT_TRUE(s->set_policy(Level::kReseller, "acme", reseller).ok());
  PolicyOverrides domain;
  domain.spam_action = SpamAction::kReject;
  domain.reject_score = 18;
  ASSERT_TRUE(s->set_policy(Level::kDomain, "acme.test", domain).ok());
  PolicyOverrides user;
  user.spam_score = 5;
  ASSERT_TRUE(s->set_policy(Level::kUser, "bob@acme.test", user).ok());

  auto e = effective_policy(*s, d, "Bob@Acme.Test");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->user, "bob@acme.test");
  EXPECT_EQ(e->domain, "acme.test");
  EXPECT_EQ(e->reseller, "acme");
  EXPECT_EQ(e->spam_score.value, 5);
  EXPECT_EQ(e->spam_score.from, (Provenance{Level::kUser, "bob@acme.test"}));
  EXPECT_EQ(e->spam_action.value, SpamAction::kReject);
  EXPECT_EQ(e->spam_action.from, (Provenance{Level::kDomain, "acme.test"}));
  EXPECT_EQ(e->reject_score.value, 18);
  EXPECT_EQ(e->learning_enabled.value, false);
  EXPECT_EQ(e->learning_enabled.from, (Provenance{Level::kReseller, "acme"}));

  // carol: no user policy -> reseller's spam score.
  auto c = effective_policy(*s, d, "carol@acme.test");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->spam_score.value, 7);
  EXPECT_EQ(c->spam_score.from, (Provenance{Level::kReseller, "acme"}));

  // Unknown user of a known domain: domain chain; unknown domain: defaults from config.
  auto unknown = effective_policy(*s, d, "new@acme.test");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->user, "");
  EXPECT_EQ(unknown->spam_action.from, (Provenance{Level::kDomain, "acme.test"}));
  auto stranger = effective_policy(*s, d, "x@elsewhere.test");
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(stranger->spam_score.value, 6);
  EXPECT_EQ(stranger->spam_score.from, (Provenance{Level::kGlobal, "config"}));
}

TEST_P(TenantConformance, ListEntriesAddRemoveAndDuplicates) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  ListEntry a = add(*s, Level::kUser, "bob@acme.test", ListKind::kBlock, "Spammer@Bad.TEST");
  EXPECT_GT(a.id, 0);
  EXPECT_EQ(a.pattern, (ListPattern{EntryType::kAddress, "spammer@bad.test"}));
  EXPECT_EQ(a.created_at, g_now);
  ListEntry b = add(*s, Level::kUser, "bob@acme.test", ListKind::kAllow, "192.0.2.9/24", 42);
  EXPECT_GT(b.id, a.id);
  EXPECT_EQ(b.pattern.value, "192.0.2.0/24");
  auto dup = add_list_entry(*s, kClock, Level::kUser, "bob@acme.test", ListKind::kBlock,
                            "spammer@bad.test", "x", "", std::nullopt);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, ErrorKind::kPermanent);
  // Same pattern on the other list is a different entry.
  EXPECT_TRUE(add_list_entry(*s, kClock, Level::kUser, "bob@acme.test", ListKind::kAllow,
                             "spammer@bad.test", "x", "n", std::nullopt)
                  .ok());
  EXPECT_EQ(add_list_entry(*s, kClock, Level::kUser, "nobody@acme.test", ListKind::kBlock,
                           "x@y.test", "x", "", std::nullopt)
                .error()
                .kind,
            ErrorKind::kPermanent);
  EXPECT_EQ(add_list_entry(*s, kClock, Level::kUser, "bob@acme.test", ListKind::kBlock,
                           "not an entry", "x", "", std::nullopt)
                .error()
                .kind,
            ErrorKind::kMalformed);

  auto entries = s->list_entries(Level::kUser, "bob@acme.test");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0], a);
  EXPECT_EQ((*entries)[1], b);
  EXPECT_EQ((*entries)[1].expires_at, std::optional<int64_t>(42));
  EXPECT_EQ(**s->get_list_entry(b.id), b);
  EXPECT_TRUE(*s->remove_list_entry(a.id));
  EXPECT_FALSE(*s->remove_list_entry(a.id));
  EXPECT_FALSE(s->get_list_entry(a.id)->has_value());
  EXPECT_EQ(s->list_entries(Level::kUser, "bob@acme.test")->size(), 2u);
  // Ids are never reused.
  ListEntry c = add(*s, Level::kDomain, "acme.test", ListKind::kBlock, "*.bad.test");
  EXPECT_GT(c.id, b.id);
}

TEST_P(TenantConformance, MatchPrecedenceAcrossLevels) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  add(*s, Level::kReseller, "acme", ListKind::kBlock, "*.bulk.test");
  add(*s, Level::kDomain, "acme.test", ListKind::kAllow, "news.bulk.test");
  ListEntry ip_block = add(*s, Level::kUser, "bob@acme.test", ListKind::kBlock, "2001:db8::/32");
  ListEntry ip_allow = add(*s, Level::kUser, "bob@acme.test", ListKind::kAllow, "2001:db8::1");
  add(*s, Level::kUser, "carol@acme.test", ListKind::kBlock, "news.bulk.test");

  // Domain allow (more specific) beats reseller block.
  auto m = match(*s, "bob@acme.test", SenderFacts{"x@news.bulk.test", {}, ""}, g_now);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->matches.size(), 2u);
  EXPECT_EQ(m->verdict(), ListKind::kAllow);
  EXPECT_EQ(m->matches[*m->deciding].entry.level, Level::kDomain);
  // Voided domain allows (DMARC failed): the reseller block decides.
  m = match(*s, "bob@acme.test", SenderFacts{"x@news.bulk.test", {}, ""}, g_now, true);
  EXPECT_EQ(m->verdict(), ListKind::kBlock);
  EXPECT_EQ(m->matches[*m->deciding].entry.level, Level::kReseller);
  // Carol's own block beats the domain allow.
  m = match(*s, "carol@acme.test", SenderFacts{"x@news.bulk.test", {}, ""}, g_now);
  EXPECT_EQ(m->verdict(), ListKind::kBlock);
  EXPECT_EQ(m->matches[*m->deciding].entry.level, Level::kUser);
  // Same level: block beats allow; IP allow is not voided by DMARC.
  m = match(*s, "bob@acme.test", SenderFacts{"", {}, "2001:db8::1"}, g_now, true);
  ASSERT_EQ(m->matches.size(), 2u);
  EXPECT_EQ(m->matches[*m->deciding].entry.id, ip_block.id);
  EXPECT_EQ(m->matches[1].entry.id, ip_allow.id);
  // Header From domain is checked too; other reseller's users are unaffected.
  m = match(*s, "bob@acme.test", SenderFacts{"bounce@esp.test", {"deep.bulk.test"}, ""}, g_now);
  EXPECT_EQ(m->verdict(), ListKind::kBlock);
  m = match(*s, "dave@globex.test", SenderFacts{"x@news.bulk.test", {}, ""}, g_now);
  EXPECT_TRUE(m->matches.empty());
  EXPECT_FALSE(m->verdict());
}

TEST_P(TenantConformance, ExpiredEntriesNeverMatch) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  add(*s, Level::kUser, "bob@acme.test", ListKind::kBlock, "198.51.100.7", g_now + 60);
  SenderFacts f{"", {}, "::ffff:198.51.100.7"};
  EXPECT_EQ(match(*s, "bob@acme.test", f, g_now)->verdict(), ListKind::kBlock);
  EXPECT_FALSE(match(*s, "bob@acme.test", f, g_now + 60)->verdict());
}

TEST_P(TenantConformance, ApiKeysAndAuthorization) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  auto admin = create_api_key(*s, kClock, Role::kAdmin, "", "ops");
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->key.size(), 4u + 64u);
  EXPECT_EQ(admin->record.hash, sha256_hex(admin->key));
  EXPECT_EQ(admin->record.hash.find(admin->key.substr(4)), std::string::npos);
  auto acme = create_api_key(*s, kClock, Role::kReseller, "ACME", "panel");
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(create_api_key(*s, kClock, Role::kReseller, "nope", "").error().kind,
            ErrorKind::kPermanent);
  auto stored = s->find_api_key(acme->record.hash);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, acme->record);

  auto a = authenticate(*s, admin->key);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->role, Role::kAdmin);
  auto r = authenticate(*s, acme->key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->role, Role::kReseller);
  EXPECT_EQ(r->reseller, "acme");
  EXPECT_FALSE(authenticate(*s, "msk_wrong").ok());
  EXPECT_FALSE(authenticate(*s, "").ok());

  auto access = [&](const Principal& p, Level l, const char* id) {
    return *authorize(*s, p, Target{l, id});
  };
  EXPECT_EQ(access(*a, Level::kDomain, "globex.test"), Access::kAllowed);
  EXPECT_EQ(access(*a, Level::kGlobal, ""), Access::kAllowed);
  EXPECT_EQ(access(*a, Level::kUser, "ghost@acme.test"), Access::kNotFound);
  EXPECT_EQ(access(*r, Level::kReseller, "acme"), Access::kAllowed);
  EXPECT_EQ(access(*r, Level::kDomain, "acme.test"), Access::kAllowed);
  EXPECT_EQ(access(*r, Level::kUser, "bob@acme.test"), Access::kAllowed);
  EXPECT_EQ(access(*r, Level::kReseller, "globex"), Access::kNotFound);
  EXPECT_EQ(access(*r, Level::kDomain, "globex.test"), Access::kNotFound);
  EXPECT_EQ(access(*r, Level::kUser, "dave@globex.test"), Access::kNotFound);
  EXPECT_EQ(access(*r, Level::kGlobal, ""), Access::kForbidden);
}

TEST_P(TenantConformance, SurvivesReopen) {
  auto s = fresh();
  ASSERT_TRUE(s);
  populate(*s);
  PolicyOverrides p;
  p.spam_score = 9;
  ASSERT_TRUE(s->set_policy(Level::kDomain, "acme.test", p).ok());
  ListEntry e = add(*s, Level::kUser, "bob@acme.test", ListKind::kBlock, "10.0.0.0/8");
  auto key = create_api_key(*s, kClock, Role::kAdmin, "", "");
  ASSERT_TRUE(key.ok());
  auto again = reopen();
  if (!again)
    GTEST_SKIP() << "backend keeps no data outside the object";
  EXPECT_EQ(again->list_users("")->size(), 3u);
  EXPECT_EQ(*again->get_policy(Level::kDomain, "acme.test"), p);
  EXPECT_EQ(**again->get_list_entry(e.id), e);
  EXPECT_TRUE(authenticate(*again, key->key).ok());
  // A second handle sees the first one's later writes.
  ASSERT_TRUE(add_user(*s, kClock, "erin@acme.test").ok());
  EXPECT_TRUE(again->get_user("erin@acme.test")->has_value());
}

}  // namespace
}  // namespace mailsift::tenant::testing
