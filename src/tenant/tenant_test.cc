// List-entry parsing and matching, the list check's symbols and DMARC rule, and the mapping of
// an effective policy onto the engine's thresholds.
#include <gtest/gtest.h>

#include "mime/message.h"
#include "scan/engine.h"
#include "tenant/list_check.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {
namespace {

ListPattern parsed(const char* text) {
  auto p = parse_list_entry(text);
  EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.error().message);
  return p.ok() ? *p : ListPattern{};
}

TEST(ListEntry, ParsesEveryKindToCanonicalForm) {
  EXPECT_EQ(parsed(" <Bob@Example.COM> "), (ListPattern{EntryType::kAddress, "bob@example.com"}));
  EXPECT_EQ(parsed("@Example.com"), (ListPattern{EntryType::kDomain, "example.com"}));
  EXPECT_EQ(parsed("example.com"), (ListPattern{EntryType::kDomain, "example.com"}));
  EXPECT_EQ(parsed("*.example.com"), (ListPattern{EntryType::kDomainTree, "example.com"}));
  EXPECT_EQ(parsed(".example.com"), (ListPattern{EntryType::kDomainTree, "example.com"}));
  EXPECT_EQ(parsed("192.0.2.7"), (ListPattern{EntryType::kIp, "192.0.2.7"}));
  EXPECT_EQ(parsed("::ffff:192.0.2.7"), (ListPattern{EntryType::kIp, "192.0.2.7"}));
  EXPECT_EQ(parsed("2001:DB8:0:0::1"), (ListPattern{EntryType::kIp, "2001:db8::1"}));
  EXPECT_EQ(parsed("[2001:db8::1]"), (ListPattern{EntryType::kIp, "2001:db8::1"}));
  EXPECT_EQ(parsed("192.0.2.77/24"), (ListPattern{EntryType::kCidr, "192.0.2.0/24"}));
  EXPECT_EQ(parsed("10.1.2.3/0"), (ListPattern{EntryType::kCidr, "0.0.0.0/0"}));
  EXPECT_EQ(parsed("2001:db8:ffff::1/33"), (ListPattern{EntryType::kCidr, "2001:db8:8000::/33"}));
  EXPECT_EQ(parsed("::/0"), (ListPattern{EntryType::kCidr, "::/0"}));
}

TEST(ListEntry, RefusesGarbageWithClearMessages) {
  for (const char* bad : {"",
                          "  ",
                          "@",
                          "a@",
                          "@@x",
                          "a b@x.test",
                          "x..test",
                          "-x.test",
                          "x-.test",
                          "*.",
                          ".",
                          "192.0.2.0/33",
                          "192.0.2.0/",
                          "192.0.2.0/-1",
                          "2001:db8::/129",
                          "1.2.3.4/24/1",
                          "300.1.1.1",
                          "fe80::1%eth0",
                          "a@b@c",
                          "http://x.test",
                          "x.test/8"}) {
    auto p = parse_list_entry(bad);
    EXPECT_FALSE(p.ok()) << "'" << bad << "' parsed as " << (p.ok() ? p->value : "");
    if (!p.ok()) {
      EXPECT_EQ(p.error().kind, ErrorKind::kMalformed);
      EXPECT_FALSE(p.error().message.empty());
    }
  }
  EXPECT_FALSE(parse_list_entry(std::string(kMaxEntryBytes + 1, 'a')).ok());
}

TEST(ListEntry, Matching) {
  auto m = [](const char* pattern, SenderFacts f) { return match_pattern(parsed(pattern), f); };
  EXPECT_EQ(m("bob@x.test", {"<BOB@X.test>", {}, ""}), "address bob@x.test");
  EXPECT_EQ(m("bob@x.test", {"", {}, ""}), "");
  EXPECT_EQ(m("x.test", {"a@X.test", {}, ""}), "domain x.test");
  EXPECT_EQ(m("x.test", {"a@sub.x.test", {}, ""}), "");  // exact only
  EXPECT_EQ(m("*.x.test", {"a@sub.x.test", {}, ""}), "domain sub.x.test");
  EXPECT_EQ(m("*.x.test", {"a@x.test", {}, ""}), "domain x.test");
  EXPECT_EQ(m("*.x.test", {"a@notx.test", {}, ""}), "");
  EXPECT_EQ(m("*.x.test", {"", {"From.X.Test"}, ""}), "domain from.x.test");
  EXPECT_EQ(m("192.0.2.0/24", {"", {}, "192.0.2.200"}), "ip 192.0.2.200");
  EXPECT_EQ(m("192.0.2.0/24", {"", {}, "::ffff:192.0.2.200"}), "ip 192.0.2.200");
  EXPECT_EQ(m("192.0.2.0/24", {"", {}, "192.0.3.1"}), "");
  EXPECT_EQ(m("2001:db8::/32", {"", {}, "2001:db8:1::5"}), "ip 2001:db8:1::5");
  EXPECT_EQ(m("2001:db8::/32", {"", {}, "2001:db9::5"}), "");
  EXPECT_EQ(m("::/0", {"", {}, "192.0.2.1"}), "");  // v6 networks never match v4 clients
  EXPECT_EQ(m("0.0.0.0/0", {"", {}, "192.0.2.1"}), "ip 192.0.2.1");
  EXPECT_EQ(m("192.0.2.1", {"", {}, "garbage"}), "");
}

struct ListFixture : ::testing::Test {
  std::unique_ptr<TenantStore> s = make_memory_tenant_store();
  int64_t now = 1'800'000'000;
  Clock clock = [this] { return now; };
  void SetUp() override {
    ASSERT_TRUE(add_reseller(*s, clock, "acme", "").ok());
    ASSERT_TRUE(add_domain(*s, clock, "acme.test", "acme").ok());
    ASSERT_TRUE(add_user(*s, clock, "bob@acme.test").ok());
  }
  void list(Level l, const char* owner, ListKind k, const char* text, const char* note = "") {
    ASSERT_TRUE(add_list_entry(*s, clock, l, owner, k, text, "support", note, std::nullopt).ok());
  }
  ListCheckResult check(ListCheckInput in) {
    auto r = evaluate_lists(*s, ListCheckScores{}, in, now);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : ListCheckResult{};
  }
};

TEST_F(ListFixture, BlockSymbolNamesLevelKindAndSince) {
  list(Level::kUser, "bob@acme.test", ListKind::kBlock, "198.51.100.0/24", "phishing run");
  auto r = check({"bob@acme.test", "x@y.test", {}, "198.51.100.9", false});
  ASSERT_EQ(r.symbols.size(), 1u);
  EXPECT_EQ(r.symbols[0].name, "USER_BLOCK_IP");
  EXPECT_EQ(r.symbols[0].score, ListCheckScores{}.block);
  EXPECT_EQ(r.verdict, ListKind::kBlock);
  EXPECT_NE(r.symbols[0].detail.find("since 2027-01-15T08:00:00Z"), std::string::npos)
      << r.symbols[0].detail;
  EXPECT_NE(r.symbols[0].detail.find("by support"), std::string::npos);
  EXPECT_NE(r.symbols[0].detail.find("phishing run"), std::string::npos);
}

TEST_F(ListFixture, AllowNeverSurvivesDmarcFailure) {
  list(Level::kDomain, "acme.test", ListKind::kAllow, "*.partner.test");
  // DMARC passes: DOMAIN_ALLOW_DOMAIN decides.
  auto pass = check({"bob@acme.test", "news@mail.partner.test", {}, "", false});
  ASSERT_EQ(pass.symbols.size(), 1u);
  EXPECT_EQ(pass.symbols[0].name, "DOMAIN_ALLOW_DOMAIN");
  EXPECT_EQ(pass.symbols[0].score, ListCheckScores{}.allow);
  // DMARC fails (or unknown): the allow is void and says so; nothing scores.
  auto fail = check({"bob@acme.test", "news@mail.partner.test", {}, "", true});
  EXPECT_FALSE(fail.verdict);
  ASSERT_EQ(fail.symbols.size(), 2u);
  EXPECT_EQ(fail.symbols[0].name, "DOMAIN_ALLOW_DOMAIN");
  EXPECT_EQ(fail.symbols[0].score, 0);
  EXPECT_EQ(fail.symbols[1].name, "ALLOW_DMARC_FAIL_IGNORED");
  EXPECT_EQ(fail.symbols[1].score, 0);
}

TEST_F(ListFixture, IpAllowIsNotVoidedAndOverriddenEntriesAreShown) {
  list(Level::kReseller, "acme", ListKind::kBlock, "spam.test");
  list(Level::kUser, "bob@acme.test", ListKind::kAllow, "203.0.113.5");
  auto r = check({"bob@acme.test", "a@spam.test", {}, "203.0.113.5", true});
  EXPECT_EQ(r.verdict, ListKind::kAllow);
  ASSERT_EQ(r.symbols.size(), 2u);
  EXPECT_EQ(r.symbols[0].name, "USER_ALLOW_IP");
  EXPECT_EQ(r.symbols[1].name, "RESELLER_BLOCK_DOMAIN");
  EXPECT_EQ(r.symbols[1].score, 0);
  EXPECT_NE(r.symbols[1].detail.find("overridden by USER_ALLOW_IP"), std::string::npos);
}

TEST_F(ListFixture, EverySymbolEmittedIsDeclared) {
  auto declared = list_symbols();
  EXPECT_EQ(declared.size(), 3u * 2u * 3u + 1u);
  for (const auto& s : declared)
    EXPECT_FALSE(s.description.empty()) << s.name;
}

TEST(EffectivePolicy, MapsOntoEngineThresholds) {
  Config config;
  PolicyDefaults d = PolicyDefaults::from_config(config);
  EXPECT_EQ(d.spam_action, SpamAction::kFolder);
  EXPECT_EQ(d.spam_score, config.get_double("actions.add_header"));
  EXPECT_TRUE(d.learning_enabled);
  auto s = make_memory_tenant_store();
  auto e = effective_policy(*s, d, "x@y.test");
  ASSERT_TRUE(e.ok());
  scan::ActionPolicy a = to_action_policy(*e);
  EXPECT_EQ(a.choose(d.spam_score), scan::Action::kAddHeader);
  EXPECT_EQ(a.choose(100), scan::Action::kAddHeader);  // folder: never reject
  e->spam_action.value = SpamAction::kReject;
  a = to_action_policy(*e);
  EXPECT_EQ(a.choose(d.reject_score), scan::Action::kReject);
  EXPECT_EQ(a.choose(d.reject_score - 0.1), scan::Action::kAddHeader);
  e->spam_action.value = SpamAction::kTagSubject;
  a = to_action_policy(*e);
  EXPECT_EQ(a.choose(d.spam_score), scan::Action::kRewriteSubject);
  EXPECT_EQ(a.choose(d.spam_score - 0.1), scan::Action::kNoAction);
  EXPECT_NE(a.source.find("spam_action=tag_subject"), std::string::npos) << a.source;
}

}  // namespace
}  // namespace mailsift::tenant

namespace mailsift::tenant {
namespace {

// The scan::Check adapter reads the envelope, the header From domain and the DMARC oracle.
TEST_F(ListFixture, CheckAdapterReadsTaskAndFailsClosedWithoutDmarc) {
  list(Level::kDomain, "acme.test", ListKind::kAllow, "*.partner.test");
  list(Level::kUser, "bob@acme.test", ListKind::kBlock, "2001:db8::/48");
  auto msg = mime::parse("From: News <news@mail.partner.test>\r\nSubject: hi\r\n\r\nbody\r\n");
  ASSERT_TRUE(msg.ok());
  scan::Recipient rcpt{"bob@acme.test", "", ""};
  scan::Envelope env;
  env.mail_from = "bounce@esp.test";  // the header From domain is what matches
  scan::ScanTask task{*msg, rcpt, {}, {}, {}, "", std::nullopt, &env};

  ListCheck unknown(*s, ListCheckScores{}, clock);
  EXPECT_EQ(unknown.phase(), scan::Phase::kPreFilter);
  EXPECT_EQ(unknown.scope(), scan::CheckScope::kRecipient);
  std::vector<scan::Symbol> out;
  ASSERT_TRUE(unknown.run(task, out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "DOMAIN_ALLOW_DOMAIN");
  EXPECT_EQ(out[0].score, 0);
  EXPECT_EQ(out[1].name, "ALLOW_DMARC_FAIL_IGNORED");

  ListCheck pass(*s, ListCheckScores{}, clock, [](const scan::ScanTask&) { return false; });
  out.clear();
  ASSERT_TRUE(pass.run(task, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "DOMAIN_ALLOW_DOMAIN");
  EXPECT_EQ(out[0].score, ListCheckScores{}.allow);

  env.client_ip = "2001:db8:0:1::25";  // the user's own block wins over the domain's allow
  out.clear();
  ASSERT_TRUE(pass.run(task, out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "USER_BLOCK_IP");
  EXPECT_EQ(out[0].score, ListCheckScores{}.block);
  for (const auto& sym : out) {
    for (const auto& info : pass.symbols()) {
      if (info.name == sym.name) {
        EXPECT_EQ(info.description, sym.description);
      }
    }
  }
}

}  // namespace
}  // namespace mailsift::tenant
