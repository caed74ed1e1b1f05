#include "policy/policy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace mailsift::policy {
namespace {

const char* kPolicy = R"(
[resellers.acme]
reject_enabled = true
reject = 14
block_senders = ["@.bulk.test"]

[domains."Example.TEST"]
reseller = "acme"
add_header = 7
allow_senders = ["@partner.test"]

[domains."other.test"]
add_header = 5

[users."carol@example.test"]
reject = 11
allow_senders = ["boss@corp.test"]

[users."dave@example.test"]
reject_enabled = false
)";

std::unique_ptr<PolicyProvider> provider() {
  auto p = parse_policy(Config(), kPolicy);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return std::move(p).value();
}

TEST(Policy, UnknownRecipientGetsConfigDefaults) {
  Config config;
  ASSERT_TRUE(config.set("actions.add_header", "6.5").ok());
  auto p = parse_policy(config, kPolicy).value()->lookup("<nobody@elsewhere.test>");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tenant.user, "nobody@elsewhere.test");
  EXPECT_EQ(p->tenant.domain, "elsewhere.test");
  EXPECT_EQ(p->tenant.reseller, "");
  EXPECT_DOUBLE_EQ(p->actions.add_header, 6.5);
  EXPECT_FALSE(p->actions.reject_enabled);
  EXPECT_EQ(p->actions.source, "default");
}

TEST(Policy, UserInheritsDomainAndReseller) {
  auto p = provider()->lookup("<Carol@Example.Test>");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tenant.user, "carol@example.test");
  EXPECT_EQ(p->tenant.domain, "example.test");
  EXPECT_EQ(p->tenant.reseller, "acme");
  EXPECT_TRUE(p->actions.reject_enabled);      // reseller
  EXPECT_DOUBLE_EQ(p->actions.add_header, 7);  // domain
  EXPECT_DOUBLE_EQ(p->actions.reject, 11);     // user beats reseller's 14
  EXPECT_EQ(p->actions.source, "reseller:acme,domain:example.test,user:carol@example.test");
  // Lists are the union of every level.
  EXPECT_EQ(p->allow_senders.size(), 2u);
  EXPECT_EQ(p->block_senders.size(), 1u);
}

TEST(Policy, UserCanOptOutOfResellerReject) {
  auto p = provider()->lookup("dave@example.test");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->actions.reject_enabled);
  EXPECT_DOUBLE_EQ(p->actions.reject, 14);
}

TEST(Policy, DomainWithoutResellerAndUserWithoutEntry) {
  auto p = provider()->lookup("erin@other.test");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tenant.reseller, "");
  EXPECT_DOUBLE_EQ(p->actions.add_header, 5);
  EXPECT_EQ(p->actions.source, "domain:other.test");
}

TEST(Policy, ClassifySender) {
  auto p = provider()->lookup("carol@example.test").value();
  EXPECT_EQ(classify_sender(p, "<boss@corp.test>"), SenderListing::kAllowed);
  EXPECT_EQ(classify_sender(p, "BOSS@CORP.TEST"), SenderListing::kAllowed);
  EXPECT_EQ(classify_sender(p, "other@corp.test"), SenderListing::kNone);
  EXPECT_EQ(classify_sender(p, "x@partner.test"), SenderListing::kAllowed);
  EXPECT_EQ(classify_sender(p, "x@sub.partner.test"), SenderListing::kNone);  // "@" is exact
  EXPECT_EQ(classify_sender(p, "x@bulk.test"), SenderListing::kBlocked);      // "@." includes
  EXPECT_EQ(classify_sender(p, "x@a.bulk.test"), SenderListing::kBlocked);    // subdomains
  EXPECT_EQ(classify_sender(p, "x@notbulk.test"), SenderListing::kNone);
  EXPECT_EQ(classify_sender(p, ""), SenderListing::kNone);
  EXPECT_EQ(classify_sender(p, "<>"), SenderListing::kNone);
  EXPECT_EQ(classify_sender(p, "postmaster"), SenderListing::kNone);
}

TEST(Policy, BlockWinsOverAllow) {
  RecipientPolicy p;
  p.allow_senders = {"@x.test"};
  p.block_senders = {"bad@x.test"};
  EXPECT_EQ(classify_sender(p, "bad@x.test"), SenderListing::kBlocked);
  EXPECT_EQ(classify_sender(p, "good@x.test"), SenderListing::kAllowed);
}

TEST(Policy, ErrorsNameTheKey) {
  auto bad_key = parse_policy(Config(), "[users.\"a@b.test\"]\nrejct = true\n");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.error().message.find("rejct"), std::string::npos);
  EXPECT_EQ(bad_key.error().kind, ErrorKind::kConfig);
  EXPECT_FALSE(parse_policy(Config(), "[people.x]\n").ok());
  EXPECT_FALSE(parse_policy(Config(), "[users.\"a@b.test\"]\nreject = \"high\"\n").ok());
  EXPECT_FALSE(parse_policy(Config(), "[users.\"a@b.test\"]\nreject = 5000\n").ok());
  EXPECT_FALSE(
      parse_policy(Config(), "[users.\"a@b.test\"]\nallow_senders = [\"nodomain\"]\n").ok());
  EXPECT_FALSE(parse_policy(Config(), "[users.\"a@b.test\"]\nreseller = \"acme\"\n").ok());
  EXPECT_FALSE(parse_policy(Config(), "[users.\"A@b.test\"]\n[users.\"a@b.test\"]\n").ok());
  EXPECT_FALSE(parse_policy(Config(), "not toml [").ok());
}

TEST(Policy, LoadsFile) {
  const std::string path = ::testing::TempDir() + "/policy_test.toml";
  { std::ofstream(path) << kPolicy; }
  auto p = load_policy_file(Config(), path);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p.value()->lookup("carol@example.test")->actions.reject_enabled);
  std::remove(path.c_str());
  EXPECT_FALSE(load_policy_file(Config(), path).ok());
}

TEST(Policy, DefaultProvider) {
  auto p = make_default_provider(Config())->lookup("a@b.test");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->actions.source, "default");
  EXPECT_EQ(p->tenant.domain, "b.test");
}

}  // namespace
}  // namespace mailsift::policy
