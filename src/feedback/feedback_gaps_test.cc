// Report storms (rate limits, 429 + Retry-After, duplicates never double counted), the tenant
// policy "learning enabled" on the report path, and ARF relay queueing while the relay is down.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "feedback/arf_relay.h"
#include "feedback/feedback.h"
#include "feedback/feedback_api.h"
#include "feedback/rate_limit.h"

namespace mailsift::feedback {
namespace {

using nlohmann::json;

class CountingLearner : public Learner {
 public:
  Result<scan::LearnResult> learn(std::string_view, store::Class cls,
                                  const scan::Recipient& scope) override {
    learned.push_back((scope.user.empty() ? (scope.domain.empty() ? "g" : "d:" + scope.domain)
                                          : "u:" + scope.user) +
                      "/" + store::to_string(cls));
    return scan::LearnResult{store::LearnOutcome::kLearned, {}, "digest"};
  }
  Result<scan::Verdict> scan(std::string_view raw, const scan::Recipient&) override {
    scan::Verdict v;
    v.spam_probability = 0.9;  // the global classifier agrees: reporters stay reliable
    v.action = scan::Action::kNoAction;
    return v;
  }
  std::vector<std::string> learned;
};

class Lists : public SenderLists {
 public:
  Status block_sender(const scan::Recipient& u, const std::string& a, const std::string&) override {
    blocked.push_back(u.user + ">" + a);
    return Ok{};
  }
  Status allow_sender(const scan::Recipient&, const std::string&, const std::string&) override {
    return Ok{};
  }
  std::vector<std::string> blocked;
};

const char* kBody =
    "Dear friend we are pleased to announce an exclusive investment opportunity in our offshore "
    "fund with guaranteed monthly returns and no risk at all please reply today with your bank "
    "details so our agents can transfer the first payment to your account";

std::string msg(int n) {
  return "Return-Path: <pest@junk.test>\r\nFrom: <pest@junk.test>\r\nTo: x@acme.test\r\n"
         "Subject: offer " +
         std::to_string(n) + "\r\nMessage-ID: <" + std::to_string(n) + "@junk.test>\r\n\r\n" +
         kBody + " " + std::to_string(n) + "\r\n";
}

TEST(RateLimiter, BurstThenRefillPerKey) {
  int64_t now = 1'000'000;
  RateLimiter l(6, 3, [&] { return now; });  // 6 a minute = one every 10 s, bursts of 3
  EXPECT_TRUE(l.take("a").allowed);
  EXPECT_TRUE(l.take("a").allowed);
  EXPECT_TRUE(l.take("a").allowed);
  auto d = l.take("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 10);
  EXPECT_TRUE(l.take("b").allowed);  // other keys have their own bucket
  now += 4000;
  d = l.take("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 6);
  now += 6000;
  EXPECT_TRUE(l.take("a").allowed);
  EXPECT_FALSE(l.take("a").allowed);
  RateLimiter off(0, 1, [&] { return now; });
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(off.take("a").allowed);
}

struct Storm : ::testing::Test {
  void SetUp() override {
    service = std::make_unique<FeedbackService>(Options{}, *store, learner, &lists, nullptr,
                                                [this] { return now; });
    api = std::make_unique<FeedbackApi>(*service, nullptr, nullptr);
  }
  http::ApiReply report(const std::string& user, const std::string& body,
                        const std::string& auth = "") {
    std::vector<std::pair<std::string, std::string>> q{{"user", user}};
    http::ApiCall call{"POST", "/api/v1/report/spam", q, auth, body, "", ""};
    return api->handle(call);
  }
  int64_t now = 1'800'000'000'000;
  std::unique_ptr<FeedbackStore> store = make_memory_store();
  CountingLearner learner;
  Lists lists;
  std::unique_ptr<FeedbackService> service;
  std::unique_ptr<FeedbackApi> api;
};

TEST_F(Storm, OverTheLimitIs429WithRetryAfterAndNothingCounted) {
  RateLimiter limiter(2, 3, [this] { return now; });
  api->set_rate_limiter(&limiter);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(report("bob@acme.test", msg(i)).status, 200);
  auto r = report("bob@acme.test", msg(3));
  EXPECT_EQ(r.status, 429);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(r.headers[0].second, "30");
  json j = json::parse(r.body);
  EXPECT_EQ(j["error"]["kind"], "temporary");
  EXPECT_EQ(j["retry_after"], 30);
  EXPECT_NE(j["error"]["message"].get<std::string>().find("bob@acme.test"), std::string::npos);
  EXPECT_EQ(store->report_counts("bob@acme.test")->first, 3);  // the refused one: not counted
  EXPECT_EQ(report("carol@acme.test", msg(3)).status, 200);    // another user is not limited
  now += 30'000;
  EXPECT_EQ(report("bob@acme.test", msg(3)).status, 200);  // the retry goes through, once
  EXPECT_EQ(store->report_counts("bob@acme.test")->first, 4);
}

TEST_F(Storm, OneKeyReportingForManyUsersIsLimitedPerKey) {
  RateLimiter limiter(1, 2, [this] { return now; });
  api->set_rate_limiter(&limiter);
  EXPECT_EQ(report("u1@acme.test", msg(1), "Bearer k1").status, 200);
  EXPECT_EQ(report("u2@acme.test", msg(2), "Bearer k1").status, 200);
  auto r = report("u3@acme.test", msg(3), "Bearer k1");
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("this API key"), std::string::npos);
  EXPECT_EQ(report("u3@acme.test", msg(3), "Bearer k2").status, 200);
}

TEST_F(Storm, DuplicateStormCountsOnce) {
  // Within the limit: 20 identical reports (a client retrying in a loop) change things once.
  for (int i = 0; i < 20; ++i) {
    auto r = report("bob@acme.test", msg(7));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(json::parse(r.body)["duplicate"], i > 0);
  }
  EXPECT_EQ(store->report_counts("bob@acme.test")->first, 1);
  EXPECT_EQ(store->reporter("bob@acme.test")->reports, 1);
  EXPECT_EQ(store->sender("bob@acme.test", "pest@junk.test")->spam_reports, 1);
  EXPECT_TRUE(lists.blocked.empty());  // 1 report, not 20: below feedback.block_sender_after
  EXPECT_EQ(std::count(learner.learned.begin(), learner.learned.end(), "u:bob@acme.test/spam"), 1);
}

// ---- tenant policy "learning enabled" ---------------------------------------------------------

struct Learning : Storm {
  // Off for the user `off_user`, or for the whole domain `off_domain`.
  void use_policy(std::string off_user, std::string off_domain) {
    service->set_learning_lookup([=](const scan::Recipient& r) -> Result<LearningPolicy> {
      LearningPolicy p;
      std::string dom = r.user.substr(r.user.find('@') + 1);
      if (dom == off_domain) {
        p.domain = {false, "domain:" + dom};
        p.user = {false, "domain:" + dom};
      }
      if (r.user == off_user)
        p.user = {false, "user:" + r.user};
      return p;
    });
  }
};

TEST_F(Learning, OffForTheUserRecordsButLearnsNothing) {
  use_policy("bob@acme.test", "");
  for (int i = 0; i < 4; ++i) {
    auto r = report("bob@acme.test", msg(i));
    ASSERT_EQ(r.status, 200);
    json j = json::parse(r.body);
    EXPECT_EQ(j["user_outcome"], "off");
    EXPECT_EQ(j["learning"]["enabled"], false);
    EXPECT_EQ(j["learning"]["off_at"], "user:bob@acme.test");
    EXPECT_NE(j["learning"]["note"].get<std::string>().find("learning is off at user:"),
              std::string::npos);
  }
  EXPECT_TRUE(learner.learned.empty());
  EXPECT_TRUE(lists.blocked.empty());  // 4 reports of one sender, no automatic block
  EXPECT_EQ(store->report_counts("bob@acme.test")->first, 4);  // recorded
  EXPECT_EQ(store->corrections("bob@acme.test")->missed_spam, 0);
  // Someone else in the same domain still learns.
  auto r = report("carol@acme.test", msg(9));
  EXPECT_EQ(json::parse(r.body)["user_outcome"], "learned");
  EXPECT_EQ(json::parse(r.body)["learning"]["enabled"], true);
}

TEST_F(Learning, OffForTheDomainNeverPromotes) {
  use_policy("", "acme.test");
  // Three users of acme.test report one campaign: enough to promote to the domain and, with a
  // reporter from elsewhere, to everyone — but acme.test has learning off.
  for (const char* u : {"a@acme.test", "b@acme.test", "c@acme.test"}) {
    json j = json::parse(report(u, msg(1)).body);
    EXPECT_EQ(j["user_outcome"], "off");
    EXPECT_EQ(j["promoted_domain"], false);
    EXPECT_EQ(j["learning"]["off_at"], "domain:acme.test");
  }
  json j = json::parse(report("z@other.test", msg(1)).body);
  EXPECT_EQ(j["user_outcome"], "learned");
  EXPECT_GE(j["campaign_reporters"].get<int>(), 3);
  EXPECT_TRUE(std::none_of(learner.learned.begin(), learner.learned.end(),
                           [](const std::string& s) { return s.rfind("d:acme.test", 0) == 0; }));
  // Without the policy the same reports do teach the domain (the test above can fail).
  service->set_learning_lookup(nullptr);
  json k = json::parse(report("d@acme.test", msg(1)).body);
  EXPECT_EQ(k["promoted_domain"], true);
}

TEST_F(Learning, LookupFailureFailsTheReportAndCountsNothing) {
  service->set_learning_lookup(
      [](const scan::Recipient&) -> Result<LearningPolicy> { return Error::temporary("down"); });
  EXPECT_EQ(report("bob@acme.test", msg(1)).status, 503);
  EXPECT_EQ(store->report_counts("bob@acme.test")->first, 0);
}

// ---- ARF relay: queue while the relay is down -------------------------------------------------

// A store whose every call fails temporarily (PostgreSQL down).
class DownStore final : public FeedbackStore {
 public:
  static Error down() { return Error::temporary("postgres: connection refused"); }
  Result<bool> has_report(const std::string&, const std::string&, Kind) override { return down(); }
  Result<bool> commit_report(const ReportRecord&, const ReportEffects&) override { return down(); }
  Result<std::vector<ReportRecord>> campaign_candidates(const std::vector<uint64_t>&,
                                                        int64_t) override {
    return down();
  }
  Result<ReporterStats> reporter(const std::string&) override { return down(); }
  Result<SenderStats> sender(const std::string&, const std::string&) override { return down(); }
  Result<Corrections> corrections(const std::string&) override { return down(); }
  Result<std::pair<int64_t, int64_t>> report_counts(const std::string&) override { return down(); }
  Result<Consent> consent(const std::string&) override { return down(); }
  Status set_consent(const std::string&, Consent, int64_t) override { return down(); }
  Result<std::vector<ReportRecord>> forget_user(const std::string&) override { return down(); }
};

// The feedback store down: without a deferral the client gets 503 (retry); with one the report
// is handed over (202 "queued"), and what was queued replays into the same report.
TEST(DeferredReport, QueuedWith202WhenTheStoreIsDownAndRoundTripsExactly) {
  DownStore down;
  CountingLearner learner;
  FeedbackService service(Options{}, down, learner, nullptr, nullptr, [] { return int64_t{1}; });
  FeedbackApi api(service, nullptr, nullptr);
  const std::vector<std::pair<std::string, std::string>> query{{"user", "bob@acme.test"},
                                                               {"domain", "acme.test"}};
  const std::string body = msg(1);
  http::ApiCall call{"POST", "/api/v1/report/spam", query, "", body, "", ""};
  EXPECT_EQ(api.handle(call).status, 503);
  std::vector<Request> queued;
  api.set_deferral([&](const Request& r) -> Status {
    queued.push_back(r);
    return Ok{};
  });
  auto reply = api.handle(call);
  EXPECT_EQ(reply.status, 202);
  EXPECT_EQ(json::parse(reply.body)["queued"], true);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_TRUE(learner.learned.empty());  // nothing was half-done before the failure
  // A queue that refuses (full): the original 503.
  api.set_deferral([](const Request&) -> Status { return Error::temporary("queue full"); });
  EXPECT_EQ(api.handle(call).status, 503);

  // Every byte value and every padding length survive the queue's JSON.
  for (size_t len = 0; len < 260; len += 1 + len / 3) {
    Request r = queued[0];
    r.raw.clear();
    for (size_t i = 0; i < len; ++i)
      r.raw.push_back(static_cast<char>(i * 37 + 11));
    r.kind = len % 2 ? Kind::kHam : Kind::kSpam;
    auto back = deferred_report_from_json(deferred_report_json(r));
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back->raw, r.raw) << len;
    EXPECT_EQ(back->kind, r.kind);
    EXPECT_EQ(back->user.user, "bob@acme.test");
    EXPECT_EQ(back->user.domain, "acme.test");
  }
  EXPECT_EQ(deferred_report_id(queued[0]), deferred_report_id(queued[0]));
  Request other = queued[0];
  other.kind = Kind::kHam;
  EXPECT_NE(deferred_report_id(other), deferred_report_id(queued[0]));
  for (const char* bad :
       {"", "[]", "{}", R"({"user":"u","domain":"","reseller":"","kind":"spam","raw_b64":"abc"})",
        R"({"user":"u","domain":"","reseller":"","kind":"maybe","raw_b64":""})",
        R"({"user":"","domain":"","reseller":"","kind":"spam","raw_b64":""})"}) {
    auto r = deferred_report_from_json(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kMalformed) << bad;
  }
}

TEST(ArfRelay, ReplyLines) {
  bool more = false;
  auto r = parse_smtp_reply_line("250-sink.invalid\r\n", &more);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, 250);
  EXPECT_TRUE(more);
  r = parse_smtp_reply_line("354 go", &more);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(more);
  EXPECT_FALSE(parse_smtp_reply_line("HTTP/1.1 200", &more).ok());
  EXPECT_FALSE(parse_smtp_reply_line("25", &more).ok());
  EXPECT_FALSE(parse_smtp_reply_line("250x", &more).ok());
}

TEST(ArfRelay, RelayDownKeepsEveryReportInTheSpool) {
  // A port nobody listens on: bind, learn the port, close.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  auto spool =
      std::filesystem::temp_directory_path() / ("arf_relay_down_" + std::to_string(::getpid()));
  std::filesystem::create_directories(spool);
  std::ofstream(spool / "a.eml") << "Subject: a\r\n\r\nx\r\n";
  std::ofstream(spool / "b.eml") << "Subject: b\r\n\r\nx\r\n";
  RelayOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(a.sin_port);
  o.rcpt_to = "fbl@partner.test";
  o.mail_from = "abuse-report@mailsift.test";
  ArfRelay relay(o, spool.string());
  FlushResult r = relay.flush();
  EXPECT_EQ(r.sent, 0);
  EXPECT_EQ(r.pending, 2);
  EXPECT_NE(r.last_error.find("relay 127.0.0.1"), std::string::npos) << r.last_error;
  EXPECT_TRUE(std::filesystem::exists(spool / "a.eml"));
  EXPECT_TRUE(std::filesystem::exists(spool / "b.eml"));
  std::filesystem::remove_all(spool);
}

}  // namespace
}  // namespace mailsift::feedback
