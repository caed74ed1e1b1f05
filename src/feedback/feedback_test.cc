// The one FeedbackStore conformance suite (testing/conformance.h): the report pipeline over each
// backend. Instantiated for memory and SQLite in feedback_backends_test.cc and for PostgreSQL in
// src/fleet/pg_tenant_feedback_test.cc.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "feedback/testing/conformance.h"

namespace mailsift::feedback::testing {
namespace {

const char* kCampaignText =
    "Dear friend we are pleased to announce an exclusive investment opportunity in our "
    "offshore fund with guaranteed monthly returns and no risk at all please reply today "
    "with your bank details so our agents can transfer the first payment to your account ";

std::string message(const std::string& from, const std::string& body,
                    const std::string& extra = "") {
  return "From: Sender <" + from + ">\r\nTo: someone@example.com\r\nSubject: Offer\r\n" + extra +
         "Message-ID: <" + std::to_string(std::hash<std::string>{}(body)) + "@x>\r\n\r\n" + body +
         "\r\n";
}

TEST_P(FeedbackConformance, SpamReportLearnsForTheUserOnlyAndDuplicatesChangeNothing) {
  std::string raw = message("bad@spam.example", std::string(kCampaignText) + "P=0.3000");
  Response r = report("alice@a.example", Kind::kSpam, raw);
  EXPECT_EQ(r.user_outcome, "learned");
  EXPECT_TRUE(r.fingerprint_stored);
  EXPECT_EQ(r.correction, "missed_spam");
  EXPECT_EQ(learner.count("u:alice@a.example/spam"), 1);
  EXPECT_EQ(learner.count("g:/spam"), 0);
  EXPECT_FALSE(r.promoted_domain);
  EXPECT_FALSE(r.promoted_global);
  EXPECT_LT(r.threshold_shift, 0);

  Response again = report("alice@a.example", Kind::kSpam, raw);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(learner.count("u:alice@a.example/spam"), 1);
  EXPECT_EQ(store->corrections("alice@a.example")->missed_spam, 1);
  EXPECT_EQ(store->sender("alice@a.example", "bad@spam.example")->spam_reports, 1);
  EXPECT_EQ(store->reporter("alice@a.example")->reports, 1);
  auto st = service->user_state("Alice@A.example");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->spam_reports, 1);
  EXPECT_EQ(st->ham_reports, 0);
  EXPECT_EQ(st->corrections.missed_spam, 1);
  EXPECT_LT(st->threshold_shift, 0);
}

TEST_P(FeedbackConformance, CampaignReportedByIndependentUsersTeachesDomainThenEveryone) {
  // Variants of one campaign (different greeting and tracking number).
  auto variant = [](int i) {
    return message("promo" + std::to_string(i) + "@spam.example",
                   "Hello user" + std::to_string(i) + " " + kCampaignText + " ref " +
                       std::to_string(1000 + i) + " P=0.2000");
  };
  Response r1 = report("u1@a.example", Kind::kSpam, variant(1));
  EXPECT_EQ(r1.campaign_reporters, 1);
  EXPECT_FALSE(r1.promoted_domain);
  Response r2 = report("u2@a.example", Kind::kSpam, variant(2));
  EXPECT_EQ(r2.campaign_reporters, 2);
  EXPECT_TRUE(r2.promoted_domain) << r2.promotion_note;
  EXPECT_FALSE(r2.promoted_global);
  EXPECT_EQ(learner.count("d:a.example/spam"), 1);
  Response r3 = report("u3@b.example", Kind::kSpam, variant(3));
  EXPECT_EQ(r3.campaign_reporters, 3);
  EXPECT_TRUE(r3.promoted_global) << r3.promotion_note;
  EXPECT_EQ(learner.count("g:/spam"), 1);
}

TEST_P(FeedbackConformance, AbusiveReporterNeverTeachesOthers) {
  // One user marks all their ham as spam: the global classifier is confident it is ham.
  for (int i = 0; i < 30; ++i) {
    std::string body = "Minutes of meeting " + std::to_string(i) +
                       " the team discussed the quarterly roadmap and agreed on the next "
                       "steps for the release planning and review cycle with the partners P=0.0010";
    Response r = report("abuser@a.example", Kind::kSpam, message("colleague@a.example", body));
    EXPECT_FALSE(r.promoted_domain);
    EXPECT_FALSE(r.promoted_global);
  }
  EXPECT_LT(store->reporter("abuser@a.example")->reliability(), options.min_reliability);
  EXPECT_EQ(learner.count("g:/spam"), 0);
  EXPECT_EQ(learner.count("d:a.example/spam"), 0);
  // Even when honest users then report a campaign the abuser also reported, the abuser does
  // not count towards it.
  std::string c1 = message("x@spam.example", "Hi one " + std::string(kCampaignText) + " P=0.2000");
  std::string c2 = message("y@spam.example", "Hi two " + std::string(kCampaignText) + " P=0.2000");
  report("abuser@a.example", Kind::kSpam, c1);
  Response honest = report("honest@b.example", Kind::kSpam, c2);
  EXPECT_EQ(honest.campaign_reporters, 1) << honest.promotion_note;
  EXPECT_FALSE(honest.promoted_global);
}

TEST_P(FeedbackConformance, SenderKeptReportedIsBlockedAndNotSpamAllows) {
  for (int i = 0; i < 3; ++i) {
    Response r = report("bob@a.example", Kind::kSpam,
                        message("pest@junk.example", "unique text number " + std::to_string(i) +
                                                         " with several words to read P=0.4000"));
    EXPECT_EQ(r.sender_blocked, i == 2);
  }
  EXPECT_EQ(lists.blocked, std::vector<std::string>{"bob@a.example>pest@junk.example"});
  Response ham =
      report("bob@a.example", Kind::kHam,
             message("friend@ok.example", "see you tomorrow at lunch USERSPAM P=0.6000"));
  EXPECT_TRUE(ham.sender_allowed);
  EXPECT_EQ(ham.correction, "false_positive");
  EXPECT_EQ(learner.count("u:bob@a.example/ham"), 1);
  // Once the user said "not spam" for a sender, reports never block it.
  for (int i = 0; i < 5; ++i)
    report("bob@a.example", Kind::kSpam,
           message("friend@ok.example", "other text " + std::to_string(i) + " P=0.4000"));
  EXPECT_EQ(lists.blocked.size(), 1u);
}

TEST_P(FeedbackConformance, TrustedBulkSenderOffersUnsubscribeInsteadOfPoisoning) {
  dkim_domains = {"news.example"};
  std::string raw =
      message("letters@mail.news.example", std::string(kCampaignText) + " P=0.1000",
              "List-Unsubscribe: <mailto:u@news.example>, <https://news.example/u?x=1>\r\n"
              "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  ASSERT_TRUE(service->set_consent("carol@a.example", Consent::kAccepted).ok());
  Response r = report("carol@a.example", Kind::kSpam, raw);
  EXPECT_TRUE(r.trusted_sender);
  ASSERT_TRUE(r.unsubscribe.has_value());
  EXPECT_EQ(r.unsubscribe->http, "https://news.example/u?x=1");
  EXPECT_EQ(r.unsubscribe->mailto, "mailto:u@news.example");
  EXPECT_TRUE(r.unsubscribe->one_click);
  EXPECT_FALSE(r.shared);
  EXPECT_EQ(spool_files(), 0u);
  EXPECT_TRUE(r.correction.empty());
  // Others reporting the same newsletter never promote it.
  report("dave@b.example", Kind::kSpam, raw);
  Response r3 = report("erin@c.example", Kind::kSpam, raw);
  EXPECT_FALSE(r3.promoted_global);
  EXPECT_EQ(learner.count("g:/spam"), 0);
  EXPECT_EQ(store->sender("carol@a.example", "letters@mail.news.example")->spam_reports, 0);
}

TEST_P(FeedbackConformance, UntrustedOrUnalignedDkimIsNotATrustedSender) {
  dkim_domains = {"other.example"};  // passes, but does not align with the From domain
  std::string raw = message("letters@news.example", std::string(kCampaignText) + " P=0.1000",
                            "List-Unsubscribe: <https://news.example/u>\r\n");
  EXPECT_FALSE(report("carol@a.example", Kind::kSpam, raw).trusted_sender);
}

TEST_P(FeedbackConformance, NothingLeavesWithoutConsentAndConsentIsAskedOnce) {
  std::string raw = message("bad@spam.example", std::string(kCampaignText) + " P=0.9000");
  Response r = report("frank@a.example", Kind::kSpam, raw);
  EXPECT_EQ(r.consent, Consent::kUnknown);
  EXPECT_TRUE(r.prompt_consent);
  EXPECT_FALSE(r.shared);
  ASSERT_TRUE(service->set_consent("frank@a.example", Consent::kDeclined).ok());
  r = report("frank@a.example", Kind::kSpam,
             message("b2@spam.example", "second one here P=0.9000"));
  EXPECT_TRUE(r.prompt_consent);
  EXPECT_FALSE(r.shared);
  EXPECT_EQ(spool_files(), 0u);

  ASSERT_TRUE(service->set_consent("frank@a.example", Consent::kAccepted).ok());
  r = report("frank@a.example", Kind::kSpam,
             message("b3@spam.example", "third one to frank@a.example P=0.9000"));
  EXPECT_FALSE(r.prompt_consent);
  EXPECT_TRUE(r.shared);
  ASSERT_EQ(spool_files(), 1u);
  std::ifstream in(r.arf_path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string arf = ss.str();
  EXPECT_NE(arf.find("report-type=feedback-report"), std::string::npos);
  EXPECT_NE(arf.find("Feedback-Type: abuse"), std::string::npos);
  EXPECT_NE(arf.find("Version: 1"), std::string::npos);
  EXPECT_NE(arf.find("Reported-Domain: spam.example"), std::string::npos);
  EXPECT_EQ(arf.find("frank@a.example"), std::string::npos) << "recipient must be redacted";
  EXPECT_NE(arf.find(redact_address("frank@a.example")), std::string::npos);
}

TEST_P(FeedbackConformance, ThresholdShiftIsBounded) {
  for (int i = 0; i < 20; ++i)
    report("gina@a.example", Kind::kSpam,
           message("s" + std::to_string(i) + "@x.example",
                   "missed spam " + std::to_string(i) + " P=0.3000"));
  EXPECT_DOUBLE_EQ(*service->threshold_shift("gina@a.example"), -options.threshold_max_shift);
}

TEST_P(FeedbackConformance, TemporaryFailureLeavesNothingCountedAndRetryCountsOnce) {
  std::string raw = message("bad@spam.example", std::string(kCampaignText) + " P=0.3000");
  learner.fail_next = true;
  Request req{{"henry@a.example", "", ""}, Kind::kSpam, raw};
  auto first = service->report(req);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().kind, ErrorKind::kTemporary);
  EXPECT_EQ(store->reporter("henry@a.example")->reports, 0);
  auto retry = service->report(req);
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(retry->duplicate);
  EXPECT_EQ(store->corrections("henry@a.example")->missed_spam, 1);
  EXPECT_EQ(store->reporter("henry@a.example")->reports, 1);
}

TEST_P(FeedbackConformance, BadRequestsAreClearErrors) {
  Request no_user{{}, Kind::kSpam, message("a@b.example", "x")};
  auto r = service->report(no_user);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kMalformed);
  EXPECT_EQ(service->set_consent("", Consent::kAccepted).error().kind, ErrorKind::kMalformed);
}

}  // namespace
}  // namespace mailsift::feedback::testing
