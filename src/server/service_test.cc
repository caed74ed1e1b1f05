#include "server/service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "server/raw_headers.h"

namespace mailsift::server {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string kRepo = MAILSIFT_SOURCE_DIR;

// carol opts in to reject (threshold 10), dave allow-lists the spammer's domain, erin
// block-lists a ham sender and opts in to reject.
const char* kPolicy = R"(
[users."carol@example.test"]
reject_enabled = true
reject = 10
[users."dave@example.test"]
allow_senders = ["@spam.test"]
[users."erin@example.test"]
reject_enabled = true
block_senders = ["friend@ham.test"]
[users."frank@example.test"]
reject_enabled = true
reject = 10
)";

class ScanServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::make_memory_store();
    log_ = decisions::make_memory_log();
    policies_ = policy::parse_policy(config_, kPolicy).value();
    auto created = ScanService::create(config_, *store_, *log_, *policies_);
    ASSERT_TRUE(created.ok()) << created.error().message;
    service_ = std::move(created).value();
    service_->set_clock([] { return int64_t{1764338462000}; });  // 2025-11-28T14:01:02Z
    for (const char* cls : {"spam", "ham"}) {
      for (const auto& e :
           std::filesystem::directory_iterator(kRepo + "/tests/data/train/" + cls)) {
        auto r = service_->learn(
            read_file(e.path()),
            std::string(cls) == "spam" ? store::Class::kSpam : store::Class::kHam, "");
        ASSERT_TRUE(r.ok()) << r.error().message;
      }
    }
    spam_ = read_file(kRepo + "/tests/data/sample-spam.eml");
    ham_ = read_file(kRepo + "/tests/data/sample-ham.eml");
  }

  Result<ScanOutcome> scan(const std::string& raw, std::vector<std::string> rcpts,
                           std::string from = "x@spam.test") {
    ScanRequest req;
    req.raw = raw;
    req.envelope.mail_from = std::move(from);
    req.envelope.client_ip = "192.0.2.7";
    req.envelope.helo = "mx.spam.test";
    req.envelope.queue_id = "4ABCDEF";
    req.recipients = std::move(rcpts);
    return service_->scan(req);
  }

  static const Header* header(const ScanOutcome& o, std::string_view name) {
    for (const auto& h : o.add_headers) {
      if (h.name == name)
        return &h;
    }
    return nullptr;
  }

  Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<decisions::DecisionLog> log_;
  std::unique_ptr<policy::PolicyProvider> policies_;
  std::unique_ptr<ScanService> service_;
  std::string spam_, ham_;
};

TEST_F(ScanServiceTest, SpamGoesToSpamFolderByDefault) {
  auto out = scan(spam_, {"<bob@example.test>"});
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(out->recipients.size(), 1u);
  EXPECT_EQ(out->recipients[0].verdict.action, scan::Action::kAddHeader);
  EXPECT_FALSE(out->message_reply);
  EXPECT_EQ(header(*out, "X-Spam-Flag")->value, "YES");
  EXPECT_EQ(header(*out, "X-Mailsift-Id")->value, out->decision_id);
  EXPECT_EQ(out->decision_id.rfind("20251128T140102", 0), 0u) << out->decision_id;
  const Header* status = header(*out, "X-Spam-Status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->value.rfind("Yes, score=", 0), 0u) << status->value;
  EXPECT_NE(status->value.find(
                fmt::format("required={:.2f} tests=", config_.get_double("actions.add_header"))),
            std::string::npos)
      << status->value;
  const Header* verdict = header(*out, "X-Mailsift-Verdict");
  ASSERT_TRUE(verdict);
  EXPECT_EQ(
      verdict->value.rfind("rcpt=bob@example.test; verdict=spam; action=add header; score=", 0), 0u)
      << verdict->value;
}

TEST_F(ScanServiceTest, HamIsClean) {
  auto out = scan(ham_, {"bob@example.test"}, "friend@ham.test");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->recipients[0].verdict.action, scan::Action::kNoAction);
  EXPECT_EQ(header(*out, "X-Spam-Flag")->value, "NO");
  EXPECT_EQ(header(*out, "X-Spam-Status")->value.rfind("No, score=", 0), 0u);
}

TEST_F(ScanServiceTest, RejectOnlyWhenEveryRecipientRejects) {
  auto alone = scan(spam_, {"carol@example.test"});
  ASSERT_TRUE(alone.ok());
  ASSERT_TRUE(alone->message_reply);
  EXPECT_EQ(alone->message_reply->code, 550);
  EXPECT_EQ(alone->message_reply->to_string(),
            "550 5.7.1 Message rejected as spam (ref " + alone->decision_id + ")");
  EXPECT_EQ(alone->recipients[0].verdict.action, scan::Action::kReject);

  auto both = scan(spam_, {"carol@example.test", "frank@example.test"});
  ASSERT_TRUE(both.ok());
  ASSERT_TRUE(both->message_reply);

  // Mixed: carol wanted reject, bob wants the spam folder: delivered, carol's copy in Junk.
  auto mixed = scan(spam_, {"carol@example.test", "bob@example.test"});
  ASSERT_TRUE(mixed.ok());
  EXPECT_FALSE(mixed->message_reply);
  EXPECT_EQ(mixed->recipients[0].wanted_action, scan::Action::kReject);
  EXPECT_EQ(mixed->recipients[0].verdict.action, scan::Action::kAddHeader);
  EXPECT_FALSE(mixed->recipients[0].reply);
  int verdicts = 0;
  for (const auto& h : mixed->add_headers)
    verdicts += h.name == "X-Mailsift-Verdict";
  EXPECT_EQ(verdicts, 2);
}

TEST_F(ScanServiceTest, AllowAndBlockListsAreExplainedSymbols) {
  auto out = scan(spam_, {"dave@example.test", "bob@example.test"}, "promo@spam.test");
  ASSERT_TRUE(out.ok());
  const auto& dave = out->recipients[0];
  EXPECT_EQ(dave.sender_listing, policy::SenderListing::kAllowed);
  EXPECT_EQ(dave.verdict.action, scan::Action::kNoAction);
  bool found = false;
  for (const auto& s : dave.verdict.symbols) {
    if (s.name == "USER_ALLOWLIST") {
      found = true;
      EXPECT_DOUBLE_EQ(s.score, config_.get_double("policy.allowlist_score"));
      EXPECT_NE(s.detail.find("user:dave@example.test"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(out->recipients[1].verdict.action, scan::Action::kAddHeader);
  // The message-level headers describe the highest-scoring recipient (bob: spam).
  EXPECT_EQ(header(*out, "X-Spam-Flag")->value, "YES");

  auto blocked = scan(ham_, {"erin@example.test"}, "friend@ham.test");
  ASSERT_TRUE(blocked.ok());
  EXPECT_EQ(blocked->recipients[0].sender_listing, policy::SenderListing::kBlocked);
  EXPECT_TRUE(blocked->recipients[0].verdict.is_spam()) << blocked->recipients[0].verdict.score;
}

TEST_F(ScanServiceTest, RcptTimeRefusalOnlyForBlockedSenderWithRejectOptIn) {
  scan::Envelope env;
  env.mail_from = "friend@ham.test";
  auto erin = service_->check_recipient_detail(env, "<erin@example.test>");
  ASSERT_TRUE(erin.reply);
  EXPECT_EQ(erin.reply->code, 550);
  EXPECT_EQ(erin.reply->enhanced, "5.7.1");
  EXPECT_TRUE(erin.reject_enabled);
  auto bob = service_->check_recipient_detail(env, "<bob@example.test>");
  EXPECT_FALSE(bob.reply);
  EXPECT_FALSE(bob.reject_enabled);
  auto plain = service_->check_recipient(env, "bob@example.test");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_value());

  decisions::Query q;
  q.recipient = "erin@example.test";
  auto logged = log_->query(q);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 1u);
  EXPECT_EQ((*logged)[0].recipients[0].stage, "rcpt");
  EXPECT_EQ((*logged)[0].recipients[0].action, "reject");
}

TEST_F(ScanServiceTest, ForgedOwnHeadersAreListedForRemoval) {
  std::string forged =
      "X-Spam-Flag: NO\r\nx-mailsift-verdict: rcpt=bob@example.test; verdict=ham\r\n" + spam_;
  auto out = scan(forged, {"bob@example.test"});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->remove_headers, (std::vector<std::string>{"X-Spam-Flag", "X-Mailsift-Verdict"}));
  auto clean = scan(spam_, {"bob@example.test"});
  EXPECT_TRUE(clean->remove_headers.empty());
}

TEST_F(ScanServiceTest, DecisionRecordHasEnvelopeAndRecipients) {
  auto out = scan(spam_, {"carol@example.test", "bob@example.test"});
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->log_error);
  decisions::Query q;
  q.id = out->decision_id;
  auto found = log_->query(q);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  const decisions::Decision& d = (*found)[0];
  EXPECT_EQ(d.time_unix_ms, 1764338462000);
  EXPECT_EQ(d.queue_id, "4ABCDEF");
  EXPECT_EQ(d.client_ip, "192.0.2.7");
  EXPECT_EQ(d.helo, "mx.spam.test");
  EXPECT_EQ(d.mail_from, "x@spam.test");
  EXPECT_EQ(d.direction, "inbound");
  EXPECT_FALSE(d.digest.empty());
  ASSERT_EQ(d.recipients.size(), 2u);
  EXPECT_EQ(d.recipients[0].address, "carol@example.test");
  EXPECT_EQ(d.recipients[0].domain, "example.test");
  EXPECT_EQ(d.recipients[0].action, "add header");
  EXPECT_EQ(d.recipients[0].stage, "data");
  EXPECT_NE(d.recipients[0].policy_source.find("wanted reject"), std::string::npos);
  EXPECT_FALSE(d.recipients[0].symbols.empty());
}

TEST_F(ScanServiceTest, RewriteSubjectWhenEveryRecipientWantsIt) {
  Config c;
  ASSERT_TRUE(c.set("actions.rewrite_subject_enabled", "true").ok());
  ASSERT_TRUE(c.set("actions.rewrite_subject", "9").ok());
  auto policies = policy::make_default_provider(c);
  auto svc = ScanService::create(c, *store_, *log_, *policies).value();
  ScanRequest req;
  req.raw = spam_;
  req.recipients = {"bob@example.test"};
  auto out = svc->scan(req);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->recipients[0].verdict.action, scan::Action::kRewriteSubject);
  ASSERT_TRUE(out->new_subject);
  EXPECT_EQ(out->new_subject->rfind("***SPAM*** ", 0), 0u);
}

class FailingPolicies : public policy::PolicyProvider {
 public:
  Result<policy::RecipientPolicy> lookup(std::string_view) override {
    return Error::temporary("tenant store down");
  }
};

TEST_F(ScanServiceTest, PolicyOutageTempfailsNeverAccepts) {
  FailingPolicies failing;
  auto svc = ScanService::create(config_, *store_, *log_, failing).value();
  ScanRequest req;
  req.raw = ham_;
  req.recipients = {"bob@example.test"};
  auto out = svc->scan(req);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->message_reply);
  EXPECT_EQ(out->message_reply->code, 451);
  EXPECT_EQ(out->message_reply->enhanced, "4.7.1");
  EXPECT_NE(out->message_reply->text.find("try again later (ref "), std::string::npos);
  auto rcpt = svc->check_recipient_detail(scan::Envelope{}, "bob@example.test");
  ASSERT_TRUE(rcpt.reply);
  EXPECT_EQ(rcpt.reply->code, 451);
}

TEST_F(ScanServiceTest, NotMailIsAnError) {
  ScanRequest req;
  std::string huge(size_t{70} << 20, 'a');
  req.raw = huge;
  auto out = service_->scan(req);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::kMalformed);
}

TEST_F(ScanServiceTest, ThreadsGetTheirOwnEngine) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto out = scan(i % 2 ? spam_ : ham_, {"bob@example.test"});
        if (out.ok())
          ok++;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 20);
}

TEST(RawHeaders, FoldsAndCase) {
  auto h = raw_headers("Subject: hello\r\n  world\r\nX-A:b\r\nbad line\r\n\r\nX-Body: no\r\n");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].value, "hello\n  world");
  EXPECT_EQ(find_raw_header(h, "x-a")->value, "b");
  EXPECT_EQ(find_raw_header(h, "X-Body"), nullptr);
}

}  // namespace
}  // namespace mailsift::server
