// Forged From against the tenant's domains: tenant::sending_domains (the OwnedDomains hook
// mailsiftd connects to its tenant store) and the same hook through ScanService, what the
// milter and HTTP front ends call. A user owns its own domain; another domain of the same
// reseller does not count (docs/outbound-aup.md "Owned domains").
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "decisions/decisions.h"
#include "policy/policy.h"
#include "server/service.h"
#include "store/store.h"
#include "tenant/sending_domains.h"
#include "tenant/tenant.h"

namespace mailsift {
namespace {

class TenantOwnedDomainsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tenants_ = tenant::make_memory_tenant_store();
    const tenant::Clock clock = [] { return int64_t{1'700'000'000}; };
    // One reseller hosting two unrelated customers.
    ASSERT_TRUE(tenant::add_reseller(*tenants_, clock, "acme", "").ok());
    ASSERT_TRUE(tenant::add_domain(*tenants_, clock, "shop.test", "acme").ok());
    ASSERT_TRUE(tenant::add_domain(*tenants_, clock, "bank.test", "acme").ok());
    ASSERT_TRUE(tenant::add_user(*tenants_, clock, "alice@shop.test").ok());
  }
  std::unique_ptr<tenant::TenantStore> tenants_;
};

TEST_F(TenantOwnedDomainsTest, RegisteredUserOwnsItsDomainOnly) {
  auto d = tenant::sending_domains(*tenants_, "alice@shop.test");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, std::vector<std::string>{"shop.test"});  // not bank.test, same reseller
  auto upper = tenant::sending_domains(*tenants_, "Alice@SHOP.test");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(*upper, std::vector<std::string>{"shop.test"});
}

TEST_F(TenantOwnedDomainsTest, UnknownOrDomainlessLoginAddsNothing) {
  for (const char* login : {"nobody@shop.test", "alice", "@shop.test", "alice@"}) {
    auto d = tenant::sending_domains(*tenants_, login);
    ASSERT_TRUE(d.ok()) << login;
    EXPECT_TRUE(d->empty()) << login;
  }
}

const std::string kFromOwn =
    "From: Alice <alice@shop.test>\r\nTo: bob@dest.example\r\nSubject: order 17\r\n"
    "Message-ID: <o1@shop.test>\r\n\r\nYour order ships tomorrow.\r\n";
const std::string kFromSibling =
    "From: Security Team <security@bank.test>\r\nTo: bob@dest.example\r\nSubject: notice\r\n"
    "Message-ID: <o2@shop.test>\r\n\r\nPlease read the attached notice.\r\n";

class TenantForgedFromServiceTest : public TenantOwnedDomainsTest {
 protected:
  void SetUp() override {
    TenantOwnedDomainsTest::SetUp();
    store_ = store::make_memory_store();
    log_ = decisions::make_memory_log();
    policies_ = policy::make_default_provider(config_);
    auto created = server::ScanService::create(config_, *store_, *log_, *policies_);
    ASSERT_TRUE(created.ok()) << created.error().message;
    service_ = std::move(created).value();
    // As mailsiftd wires it, counting calls so the test sees the hook is really consulted.
    service_->set_owned_domains([this](std::string_view login) {
      calls_.fetch_add(1);
      return tenant::sending_domains(*tenants_, login);
    });
  }
  Result<server::ScanOutcome> scan(const std::string& raw, const std::string& login) {
    server::ScanRequest req;
    req.raw = raw;
    req.envelope.mail_from = login;
    req.envelope.client_ip = "192.0.2.7";
    req.envelope.auth_user = login;  // milter {auth_authen}
    req.envelope.outbound = true;
    req.recipients = {"<bob@dest.example>"};
    return service_->scan(req);
  }
  Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<decisions::DecisionLog> log_;
  std::unique_ptr<policy::PolicyProvider> policies_;
  std::unique_ptr<server::ScanService> service_;
  std::atomic<int> calls_{0};
};

TEST_F(TenantForgedFromServiceTest, OwnDomainIsSent) {
  auto out = scan(kFromOwn, "alice@shop.test");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_FALSE(out->message_reply) << out->message_reply->to_string();
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(TenantForgedFromServiceTest, SiblingDomainOfTheSameResellerIsRefused) {
  auto out = scan(kFromSibling, "alice@shop.test");
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_TRUE(out->message_reply);
  EXPECT_EQ(out->message_reply->code, 550);
  EXPECT_EQ(out->message_reply->enhanced, "5.7.1");
  const std::string& text = out->message_reply->text;
  EXPECT_EQ(text.rfind("Message refused by the provider's acceptable use policy: ", 0), 0u) << text;
  EXPECT_NE(text.find("does not own"), std::string::npos) << text;
  EXPECT_EQ(calls_.load(), 1);
  // The verdict names the forged address and what the user owns.
  ASSERT_EQ(out->recipients.size(), 1u);
  bool seen = false;
  for (const auto& s : out->recipients[0].verdict.symbols)
    if (s.name == "AUP_FORGED_FROM") {
      seen = true;
      EXPECT_NE(s.detail.find("security@bank.test by alice@shop.test (owns shop.test)"),
                std::string::npos)
          << s.detail;
    }
  EXPECT_TRUE(seen);
}

TEST_F(TenantForgedFromServiceTest, HookAddsTheTenantDomainForAnOtherwiseUnjudgedLogin) {
  // Without the hook a domain-less login is not judged; a hook that knows the login's domain
  // makes the same message a forgery (shows the hook reaches the outbound engine).
  service_->set_owned_domains([this](std::string_view login) -> Result<std::vector<std::string>> {
    calls_.fetch_add(1);
    if (login == "alice")
      return tenant::sending_domains(*tenants_, "alice@shop.test");
    return std::vector<std::string>{};
  });
  auto out = scan(kFromSibling, "alice");
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_TRUE(out->message_reply);
  EXPECT_EQ(out->message_reply->code, 550);
  EXPECT_EQ(calls_.load(), 1);
}

}  // namespace
}  // namespace mailsift
