#include "auth/auth_check.h"

#include <gtest/gtest.h>

#include "dkim/dkim.h"
#include "dns/testing/fake_resolver.h"
#include "dnsbl/lists.h"
#include "learn/tokenizer.h"
#include "mime/message.h"

namespace mailsift::auth {
namespace {

using dns::RType;
using dns::testing::FakeResolver;

constexpr int64_t kNow = 1'780'000'000;

struct Outcome {
  std::vector<scan::Symbol> symbols;
  std::string authentication_results;
  scan::ActionFloor floor;
  Status status;
  bool has(const std::string& name) const {
    for (const auto& s : symbols)
      if (s.name == name)
        return true;
    return false;
  }
  std::string names() const {
    std::string out;
    for (const auto& s : symbols)
      out += s.name + " ";
    return out;
  }
};

class AuthCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = dkim::SigningKey::from_ed25519_seed(std::string(32, '\x07'));
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<dkim::SigningKey>(std::move(*key));
    zone_ = std::make_unique<FakeResolver>();
    zone_->add("sel._domainkey.shop.example", RType::kTXT, key_->dns_record());
    zone_->add("shop.example", RType::kTXT, "v=spf1 ip4:192.0.2.0/24 -all");
    zone_->add("_dmarc.shop.example", RType::kTXT, "v=DMARC1; p=reject");
    zone_->add("bank.example", RType::kTXT, "v=spf1 ip4:198.51.100.0/24 -all");
    zone_->add("_dmarc.bank.example", RType::kTXT, "v=DMARC1; p=reject; pct=100");
    zone_->add("2.2.0.192.in-addr.arpa", RType::kPTR, "mx.shop.example");
    zone_->add("mx.shop.example", RType::kA, "192.0.2.2");
    zone_->add("2.2.0.192.zen.test", RType::kA, "127.0.0.2");
  }

  std::string signed_message(const std::string& from) {
    std::string raw =
        "From: Shop <" + from +
        ">\r\nTo: bob@example.net\r\nSubject: Your order\r\nDate: Sat, 28 Nov 2026 "
        "10:00:00 +0000\r\nMessage-ID: <o1@shop.example>\r\n\r\nThanks for your order.\r\n";
    dkim::SignOptions o;
    o.domain = "shop.example";
    o.selector = "sel";
    auto sig = dkim::sign(raw, *key_, o);
    EXPECT_TRUE(sig.ok()) << (sig.ok() ? "" : sig.error().describe());
    return *sig + raw;
  }

  Outcome run(const std::string& raw, const scan::Envelope& env, AuthOptions options = {}) {
    options.authserv_id = "mx.test";
    // The check owns its resolver: hand it a copy of the zone.
    auto resolver = std::make_unique<FakeResolver>(*zone_);
    AuthCheck check(options, std::move(resolver), [] { return kNow; });
    auto msg = mime::parse(raw);
    EXPECT_TRUE(msg.ok());
    scan::Recipient rcpt;
    scan::ScanTask task{*msg, rcpt, {}, {}, {}, learn::message_digest(*msg)};
    task.envelope = &env;
    Outcome r;
    r.status = check.run(task, r.symbols);
    r.authentication_results = task.annotations["authentication-results"];
    r.floor = task.floor;
    return r;
  }

  std::unique_ptr<dkim::SigningKey> key_;
  std::unique_ptr<FakeResolver> zone_;
};

TEST_F(AuthCheckTest, LegitimateMailPassesEverythingAndSaysSo) {
  scan::Envelope env{"192.0.2.2", "mx.shop.example", "orders@shop.example"};
  Outcome r = run(signed_message("orders@shop.example"), env);
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.has("R_SPF_ALLOW")) << r.names();
  EXPECT_TRUE(r.has("R_DKIM_ALLOW")) << r.names();
  EXPECT_TRUE(r.has("DMARC_POLICY_ALLOW")) << r.names();
  EXPECT_TRUE(r.has("IPREV_PASS")) << r.names();
  EXPECT_TRUE(r.has("ARC_NA")) << r.names();
  EXPECT_EQ(r.floor.kind, scan::ActionFloor::kNone);
  const std::string& ar = r.authentication_results;
  EXPECT_EQ(ar.rfind("mx.test;", 0), 0u) << ar;
  EXPECT_NE(ar.find("spf=pass smtp.mailfrom=orders@shop.example"), std::string::npos) << ar;
  EXPECT_NE(ar.find("dkim=pass header.d=shop.example header.s=sel"), std::string::npos) << ar;
  EXPECT_NE(ar.find("dmarc=pass"), std::string::npos) << ar;
  EXPECT_NE(ar.find("header.from=shop.example"), std::string::npos) << ar;
  EXPECT_NE(ar.find("iprev=pass"), std::string::npos) << ar;
}

TEST_F(AuthCheckTest, SpoofedBankGoesToTheSpamFolderByDefaultNotRejected) {
  scan::Envelope env{"203.0.113.9", "evil.example", "alerts@bank.example"};
  std::string raw =
      "From: Bank <alerts@bank.example>\r\nTo: bob@example.net\r\nSubject: Verify\r\n\r\nclick\r\n";
  Outcome r = run(raw, env);
  EXPECT_TRUE(r.has("R_SPF_FAIL")) << r.names();
  EXPECT_TRUE(r.has("R_DKIM_NA")) << r.names();
  EXPECT_TRUE(r.has("DMARC_POLICY_REJECT")) << r.names();
  EXPECT_TRUE(r.has("IPREV_FAIL")) << r.names();
  EXPECT_EQ(r.floor.kind, scan::ActionFloor::kSpamFolder);
  EXPECT_NE(r.authentication_results.find("dmarc=fail (p=reject dis=reject)"), std::string::npos)
      << r.authentication_results;
  for (const auto& s : r.symbols) {
    if (s.name == "DMARC_POLICY_REJECT") {
      EXPECT_NE(s.detail.find("our policy: spam folder"), std::string::npos) << s.detail;
    }
  }
}

TEST_F(AuthCheckTest, OperatorMayMapDmarcRejectToReject) {
  scan::Envelope env{"203.0.113.9", "evil.example", "alerts@bank.example"};
  AuthOptions o;
  o.dmarc_reject = scan::ActionFloor::kReject;
  Outcome r = run("From: alerts@bank.example\r\nSubject: x\r\n\r\nbody\r\n", env, o);
  EXPECT_EQ(r.floor.kind, scan::ActionFloor::kReject);
  EXPECT_NE(r.floor.reason.find("bank.example"), std::string::npos);
}

TEST_F(AuthCheckTest, DnsFailureIsStatedNeverAPass) {
  zone_->set_failure("shop.example", dns::Rcode::kTimeout);
  scan::Envelope env{"192.0.2.2", "mx.shop.example", "orders@shop.example"};
  std::string raw = "From: orders@shop.example\r\nSubject: x\r\n\r\nbody\r\n";
  Outcome r = run(raw, env);
  EXPECT_TRUE(r.has("R_SPF_DNSFAIL")) << r.names();
  EXPECT_FALSE(r.has("R_SPF_ALLOW"));
  EXPECT_TRUE(r.status.ok()) << "only stated by default";
  EXPECT_NE(r.authentication_results.find("spf=temperror"), std::string::npos);
  AuthOptions strict;
  strict.tempfail_on_dns_error = true;
  Outcome t = run(raw, env, strict);
  ASSERT_FALSE(t.status.ok());
  EXPECT_EQ(t.status.error().kind, ErrorKind::kTemporary);
}

TEST_F(AuthCheckTest, BlocklistedClientIpIsASymbolWithTheListName) {
  AuthOptions o;
  auto lists = dnsbl::parse_lists("zen=zen.test:ip:5");
  ASSERT_TRUE(lists.ok()) << lists.error().describe();
  o.lists = *lists;
  scan::Envelope env{"192.0.2.2", "mx.shop.example", "orders@shop.example"};
  Outcome r = run(signed_message("orders@shop.example"), env, o);
  bool found = false;
  for (const auto& s : r.symbols) {
    if (s.name == "RBL_ZEN") {
      found = true;
      EXPECT_DOUBLE_EQ(s.score, 5);
      EXPECT_NE(s.detail.find("127.0.0.2"), std::string::npos);
    }
  }
  EXPECT_TRUE(found) << r.names();
}

TEST_F(AuthCheckTest, NoClientIpMeansNoSpfButDkimStillRuns) {
  scan::Envelope env;
  Outcome r = run(signed_message("orders@shop.example"), env);
  EXPECT_TRUE(r.has("R_SPF_NA"));
  EXPECT_TRUE(r.has("R_DKIM_ALLOW")) << r.names();
  EXPECT_TRUE(r.has("DMARC_POLICY_ALLOW")) << "DKIM alignment alone passes DMARC";
}

TEST_F(AuthCheckTest, TwoFromFieldsAreADmarcPermerror) {
  scan::Envelope env{"192.0.2.2", "mx.shop.example", "orders@shop.example"};
  Outcome r =
      run("From: a@shop.example\r\nFrom: b@bank.example\r\nSubject: x\r\n\r\nbody\r\n", env);
  EXPECT_TRUE(r.has("DMARC_BAD_POLICY")) << r.names();
  EXPECT_NE(r.authentication_results.find("dmarc=permerror"), std::string::npos);
}

}  // namespace
}  // namespace mailsift::auth
