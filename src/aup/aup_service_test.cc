// The outbound profile through ScanService (what the milter and HTTP front ends call at end of
// data): an authenticated submission with phishing content is refused with the documented
// reply, the same message inbound goes by the inbound policy (spam folder, no reject), a clean
// authenticated message passes, and every outbound verdict reaches the Guard reporter.
#include <gtest/gtest.h>

#include <mutex>

#include "decisions/decisions.h"
#include "policy/policy.h"
#include "server/service.h"
#include "store/store.h"

namespace mailsift::server {
namespace {

const std::string kPhish =
    "From: IT Helpdesk <alice@example.com>\r\nTo: victim@dest.example\r\n"
    "Subject: Action required on your mailbox\r\nMessage-ID: <p1@example.com>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nDear user,\r\n\r\nPlease verify your "
    "account within 24 hours or it will be closed:\r\n"
    "http://198.51.100.23/secure/login.php?user=you\r\n\r\nHelpdesk\r\n";
const std::string kClean =
    "From: Alice <alice@example.com>\r\nTo: bob@dest.example\r\nSubject: lunch\r\n"
    "Message-ID: <c1@example.com>\r\n\r\nNoon at the usual place?\r\n";

class OutboundServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::make_memory_store();
    log_ = decisions::make_memory_log();
    policies_ = policy::make_default_provider(config_);
    auto created = ScanService::create(config_, *store_, *log_, *policies_);
    ASSERT_TRUE(created.ok()) << created.error().message;
    service_ = std::move(created).value();
    service_->set_outbound_reporter(
        [this](const scan::Envelope& e, double score, const std::string& digest, size_t n) {
          std::lock_guard lock(mu_);
          reports_.push_back({e.auth_user, score, digest, n});
        });
  }

  Result<ScanOutcome> scan(const std::string& raw, bool outbound) {
    ScanRequest req;
    req.raw = raw;
    req.envelope.mail_from = "alice@example.com";
    req.envelope.client_ip = "192.0.2.7";
    req.envelope.queue_id = "4ABCDEF";
    if (outbound) {
      req.envelope.auth_user = "alice@example.com";  // milter {auth_authen}
      req.envelope.outbound = true;
    }
    req.recipients = {"<victim@dest.example>"};
    return service_->scan(req);
  }

  struct Report {
    std::string user;
    double score;
    std::string digest;
    size_t recipients;
  };
  Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<decisions::DecisionLog> log_;
  std::unique_ptr<policy::PolicyProvider> policies_;
  std::unique_ptr<ScanService> service_;
  std::mutex mu_;
  std::vector<Report> reports_;
};

TEST_F(OutboundServiceTest, AuthenticatedPhishingIsRejectedAtEndOfData) {
  auto out = scan(kPhish, true);
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_TRUE(out->message_reply);
  EXPECT_EQ(out->message_reply->code, 550);
  EXPECT_EQ(out->message_reply->enhanced, "5.7.1");
  EXPECT_EQ(out->message_reply->text.rfind(
                "Message refused by the provider's acceptable use policy: ", 0),
            0u)
      << out->message_reply->text;
  EXPECT_NE(out->message_reply->text.find("(ref " + out->decision_id + ")"), std::string::npos);
  ASSERT_EQ(out->recipients.size(), 1u);
  EXPECT_EQ(out->recipients[0].verdict.action, scan::Action::kReject);
  EXPECT_TRUE(out->add_headers.empty());  // nothing about our scoring leaves with outbound mail

  // The decision log has the outbound record with the reply the client saw, keyed by sender.
  decisions::Query q;
  q.direction = "outbound";
  auto found = log_->query(q);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  const auto& d = found->front();
  EXPECT_EQ(d.auth_user, "alice@example.com");
  ASSERT_EQ(d.recipients.size(), 1u);
  EXPECT_EQ(d.recipients[0].user, "alice@example.com");
  EXPECT_EQ(d.recipients[0].action, "reject");
  EXPECT_EQ(d.recipients[0].stage, "data");
  EXPECT_EQ(d.recipients[0].smtp_reply, out->message_reply->to_string());

  // Its score reached the Guard reporter (high_score signal).
  std::lock_guard lock(mu_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].user, "alice@example.com");
  EXPECT_GE(reports_[0].score, config_.get_double("outbound.aup.reject_score"));
  EXPECT_EQ(reports_[0].recipients, 1u);
  EXPECT_FALSE(reports_[0].digest.empty());
}

TEST_F(OutboundServiceTest, TheSameMessageInboundIsNotRejected) {
  auto out = scan(kPhish, false);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->message_reply) << out->message_reply->to_string();
  ASSERT_EQ(out->recipients.size(), 1u);
  EXPECT_NE(out->recipients[0].verdict.action, scan::Action::kReject);
  // Inbound scoring has no AUP symbols.
  for (const auto& s : out->recipients[0].verdict.symbols)
    EXPECT_NE(s.name.rfind("AUP_", 0), 0u) << s.name;
  std::lock_guard lock(mu_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(OutboundServiceTest, CleanAuthenticatedMessagePasses) {
  auto out = scan(kClean, true);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->message_reply) << out->message_reply->to_string();
  EXPECT_EQ(out->recipients[0].verdict.action, scan::Action::kNoAction);
  std::lock_guard lock(mu_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_LT(reports_[0].score, config_.get_double("outbound.detect.high_score"));
}

TEST_F(OutboundServiceTest, DisabledProfileScoresOutboundLikeInbound) {
  Config c;
  ASSERT_TRUE(c.set("outbound.aup.enabled", "false").ok());
  auto service = ScanService::create(c, *store_, *log_, *policies_);
  ASSERT_TRUE(service.ok());
  ScanRequest req;
  req.raw = kPhish;
  req.envelope.auth_user = "alice@example.com";
  req.envelope.outbound = true;
  req.recipients = {"victim@dest.example"};
  auto out = (*service)->scan(req);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->message_reply);
}

}  // namespace
}  // namespace mailsift::server
