// Guard: account status, sliding-window limits and compromised-account detection, on the memory
// store with an injected clock replaying scripted traffic.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "outbound/guard.h"

namespace mailsift::outbound {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kStart = 1'764'316'800'000;  // 2025-11-28T08:00:00Z, a Friday morning

class GuardTest : public ::testing::Test {
 protected:
  void make(GuardConfig c) {
    guard_ = std::make_unique<Guard>(*store_, std::move(c), [this] { return now_; });
  }
  GuardTest() { make(GuardConfig{}); }

  // One message with `rcpts` recipients; returns the first refusal (or accept).
  Outcome send(const Identity& who, int rcpts = 1, std::string ip = "192.0.2.10") {
    const std::string instance = fmt::format("inst-{}", ++seq_);
    for (int i = 0; i < rcpts; ++i) {
      auto o = guard_->check_rcpt(
          {who, instance, fmt::format("r{}@dest{}.example", (seq_ * 7 + i) % 40, i % 3), ip,
           "REF" + instance});
      EXPECT_TRUE(o.ok()) << o.error().describe();
      if (o->verdict != Verdict::kAccept)
        return *o;
    }
    return {};
  }
  Level level(const Identity& who) { return guard_->effective_status(who)->level; }

  std::unique_ptr<OutboundStore> store_ = make_memory_store();
  std::unique_ptr<Guard> guard_;
  int64_t now_ = kStart;
  int seq_ = 0;
  const Identity alice_ = Identity::from("Alice@Example.com");
  const Identity bob_ = Identity::from("bob@example.com");
};

TEST_F(GuardTest, IdentityDerivesDomain) {
  EXPECT_EQ(alice_.user, "alice@example.com");
  EXPECT_EQ(alice_.domain, "example.com");
  auto plain = Identity::from("carol", "<carol@shop.example>", "r7");
  EXPECT_EQ(plain.user, "carol");
  EXPECT_EQ(plain.domain, "shop.example");
  EXPECT_EQ(plain.reseller, "r7");
  EXPECT_EQ(network_of("192.0.2.77"), "192.0.2.0/24");
  EXPECT_EQ(network_of("2001:db8:aa:bb::1"), "2001:db8:aa::/48");
  EXPECT_EQ(network_of("::ffff:198.51.100.9"), "198.51.100.0/24");
  EXPECT_EQ(network_of("unknown"), "");
}

TEST_F(GuardTest, MostRestrictiveStatusWins) {
  EXPECT_EQ(send(alice_).verdict, Verdict::kAccept);
  ASSERT_TRUE(guard_->set_status(Subject::user(alice_.user), Level::kSendingDisabled,
                                 "spam complaint #4411", "support").ok());
  auto o = send(alice_);
  EXPECT_EQ(o.verdict, Verdict::kReject);
  EXPECT_EQ(o.rule, "sending_disabled");
  EXPECT_EQ(o.reply.rfind("550 5.7.1 Sending disabled for alice@example.com: spam complaint #4411 "
                          "(ref REFinst-",
                          0),
            0u)
      << o.reply;
  EXPECT_EQ(send(bob_).verdict, Verdict::kAccept);  // other users of the domain unaffected

  ASSERT_TRUE(guard_->set_status(Subject::domain("example.com"), Level::kSuspended, "unpaid",
                                 "billing").ok());
  o = send(bob_);
  EXPECT_EQ(o.rule, "suspended");
  EXPECT_NE(o.reply.find("550 5.7.1 Account suspended for domain example.com: unpaid"),
            std::string::npos);
  o = send(alice_);  // suspended (domain) beats sending_disabled (user)
  EXPECT_EQ(o.rule, "suspended");

  // A reseller applies only when the identity carries it.
  ASSERT_TRUE(guard_->set_status(Subject::domain("example.com"), Level::kActive, "", "billing").ok());
  ASSERT_TRUE(guard_->set_status(Subject::reseller("r9"), Level::kSuspended, "contract ended",
                                 "admin").ok());
  EXPECT_EQ(send(bob_).verdict, Verdict::kAccept);
  auto bob_r9 = Identity::from("bob@example.com", "", "r9");
  EXPECT_NE(send(bob_r9).reply.find("Account suspended for reseller r9: contract ended"),
            std::string::npos);
  // MAIL stage sees the same status.
  auto m = guard_->check_mail(bob_r9, "192.0.2.1", "R1");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verdict, Verdict::kReject);
}

TEST_F(GuardTest, MessagesPerHourSlidingWindowTempfailsThenRecovers) {
  GuardConfig c;
  c.user.messages_per_hour = 5;
  make(c);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(send(alice_, 2).verdict, Verdict::kAccept) << i;
    now_ += 10 * kMin;
  }
  // now = start + 50 min: 5 messages in the last hour.
  auto o = send(alice_);
  EXPECT_EQ(o.verdict, Verdict::kTempfail);
  EXPECT_EQ(o.reply, "451 4.7.1 Rate limit: 5 messages/hour for alice@example.com");
  EXPECT_EQ(send(bob_).verdict, Verdict::kAccept);  // per user
  now_ += 11 * kMin;  // the first message (t=0) left the 60-minute window
  EXPECT_EQ(send(alice_).verdict, Verdict::kAccept);
  EXPECT_EQ(send(alice_).verdict, Verdict::kTempfail);

  c.tempfail_over_limit = false;
  make(c);
  o = send(alice_);
  EXPECT_EQ(o.verdict, Verdict::kReject);
  EXPECT_EQ(o.reply, "550 5.7.1 Rate limit: 5 messages/hour for alice@example.com");
}

TEST_F(GuardTest, DomainLimitIsSharedByItsUsers) {
  GuardConfig c;
  c.domain.messages_per_hour = 3;
  make(c);
  EXPECT_EQ(send(alice_).verdict, Verdict::kAccept);
  EXPECT_EQ(send(bob_).verdict, Verdict::kAccept);
  EXPECT_EQ(send(alice_).verdict, Verdict::kAccept);
  EXPECT_EQ(send(bob_).reply, "451 4.7.1 Rate limit: 3 messages/hour for domain example.com");
}

TEST_F(GuardTest, RecipientsPerMessage) {
  GuardConfig c;
  c.recipients_per_message = 3;
  make(c);
  EXPECT_EQ(send(alice_, 3).verdict, Verdict::kAccept);
  auto o = send(alice_, 4);
  EXPECT_EQ(o.reply, "452 4.5.3 Too many recipients: 3 per message for alice@example.com");
}

TEST_F(GuardTest, DistinctRecipientsPerDay) {
  GuardConfig c;
  c.user.distinct_per_day = 3;
  make(c);
  auto rcpt = [&](std::string to) {
    return *guard_->check_rcpt({alice_, fmt::format("m{}", ++seq_), to, "192.0.2.1", "R"});
  };
  EXPECT_EQ(rcpt("a@d.example").verdict, Verdict::kAccept);
  EXPECT_EQ(rcpt("b@d.example").verdict, Verdict::kAccept);
  EXPECT_EQ(rcpt("A@D.example").verdict, Verdict::kAccept);  // same as a@, case-insensitive
  EXPECT_EQ(rcpt("c@d.example").verdict, Verdict::kAccept);
  EXPECT_EQ(rcpt("d@d.example").reply,
            "451 4.7.1 Rate limit: 3 distinct recipients/day for alice@example.com");
  EXPECT_EQ(rcpt("b@d.example").verdict, Verdict::kAccept);  // known recipients still fine
  now_ += 25 * kHour;
  EXPECT_EQ(rcpt("d@d.example").verdict, Verdict::kAccept);
}

TEST_F(GuardTest, FailedRecipientRatio) {
  GuardConfig c;
  c.failed_min_recipients = 10;
  c.failed_ratio = 0.5;
  c.detect.enabled = false;
  make(c);
  EXPECT_EQ(send(alice_, 10).verdict, Verdict::kAccept);
  ASSERT_TRUE(guard_->report_failed_recipients(alice_, 5).ok());
  EXPECT_EQ(send(alice_).verdict, Verdict::kAccept);  // 5/10 is not above 0.5
  ASSERT_TRUE(guard_->report_failed_recipients(alice_, 2).ok());
  auto o = send(alice_);
  EXPECT_EQ(o.reply, "451 4.7.1 Too many failed recipients: 63% of 11 in 24h for alice@example.com");
  now_ += 25 * kHour;
  EXPECT_EQ(send(alice_).verdict, Verdict::kAccept);
}

// A week of an honest user's traffic: office hours, 5-25 messages an hour, 1-3 recipients, two
// networks (office and home) plus a hotel network once. Never held.
TEST_F(GuardTest, NormalUserStaysActive) {
  int sent = 0;
  for (int day = 0; day < 7; ++day) {
    for (int hour = 0; hour < 24; ++hour) {
      now_ = kStart + (day * 24 + hour) * kHour;
      const bool office = hour < 10;  // 08:00-18:00 UTC from the start
      const int n = office ? 5 + (day * 7 + hour * 3) % 21 : (hour % 5 == 0 ? 2 : 0);
      const std::string ip = office ? "198.51.100.20" : (day == 3 ? "203.0.113.50" : "192.0.2.33");
      for (int i = 0; i < n; ++i) {
        now_ += kHour / (n + 1);
        ASSERT_EQ(send(alice_, 1 + i % 3, ip).verdict, Verdict::kAccept)
            << "day " << day << " hour " << hour << " msg " << i;
        ++sent;
      }
    }
  }
  EXPECT_GT(sent, 700);
  EXPECT_EQ(level(alice_), Level::kActive);
  EXPECT_TRUE(store_->alerts("", 0)->empty());
}

// Baseline day, then a login from a new network and a spam run: held within 50 messages, the
// reason says why, an alert is written, and support can reverse the hold.
TEST_F(GuardTest, CompromisedAccountIsHeldAndHoldIsReversible) {
  for (int hour = 0; hour < 24; ++hour) {
    now_ = kStart + hour * kHour;
    for (int i = 0; i < 8; ++i) {
      now_ += 7 * kMin;
      ASSERT_EQ(send(alice_, 1, "198.51.100.20").verdict, Verdict::kAccept);
    }
  }
  now_ = kStart + 25 * kHour;
  int accepted = 0;
  Outcome o;
  for (int i = 0; i < 200; ++i) {
    now_ += 10'000;  // one message every 10 seconds
    o = send(alice_, 5, "203.0.113.99");
    if (o.verdict != Verdict::kAccept)
      break;
    ++accepted;
  }
  EXPECT_LE(accepted, 50);
  EXPECT_EQ(o.verdict, Verdict::kReject);
  EXPECT_TRUE(o.held_now);
  EXPECT_NE(o.reply.find("550 5.7.1 Sending disabled for alice@example.com: auto: burst"),
            std::string::npos)
      << o.reply;
  EXPECT_NE(o.reply.find("login from new network 203.0.113.0/24"), std::string::npos) << o.reply;
  auto st = store_->get_status(Subject::user(alice_.user));
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ((*st)->level, Level::kSendingDisabled);
  EXPECT_EQ((*st)->changed_by, "mailsift-detect");
  EXPECT_TRUE((*st)->reversible);
  auto alerts = store_->alerts("user:alice@example.com", 0);
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].kind, "auto_hold");
  EXPECT_GE((*alerts)[0].score, 1.0);
  EXPECT_EQ(send(bob_).verdict, Verdict::kAccept);  // the rest of the domain still sends

  // Still held a minute later; support reverses it; the same traffic does not re-hold at once.
  now_ += kMin;
  EXPECT_EQ(send(alice_).rule, "sending_disabled");
  ASSERT_TRUE(guard_->set_status(Subject::user(alice_.user), Level::kActive,
                                 "password reset, ticket 991", "support").ok());
  for (int i = 0; i < 10; ++i) {
    now_ += 10'000;
    EXPECT_EQ(send(alice_, 1, "203.0.113.99").verdict, Verdict::kAccept);
  }
  EXPECT_EQ(level(alice_), Level::kActive);
}

TEST_F(GuardTest, NewNetworkAloneDoesNotHold) {
  for (int i = 0; i < 20; ++i) {
    now_ += 5 * kMin;
    ASSERT_EQ(send(alice_, 1, "198.51.100.20").verdict, Verdict::kAccept);
  }
  for (int i = 0; i < 20; ++i) {
    now_ += 5 * kMin;
    ASSERT_EQ(send(alice_, 1, "2001:db8:5::7").verdict, Verdict::kAccept);
  }
  EXPECT_EQ(level(alice_), Level::kActive);
  auto u = guard_->usage(alice_);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->networks, 2);
  EXPECT_NE(u->detect_signals.find("new network 2001:db8:5::/48"), std::string::npos);
}

TEST_F(GuardTest, HighScoringSameContentHoldsFromTheContentPath) {
  for (int i = 0; i < 10; ++i) {
    now_ += kMin;
    ASSERT_TRUE(guard_->report_scanned(alice_, 9.5, "digest-abc", 6).ok());
  }
  EXPECT_EQ(level(alice_), Level::kSendingDisabled);
  auto st = store_->get_status(Subject::user(alice_.user));
  EXPECT_NE((*st)->reason.find("10 high-scoring msgs/h"), std::string::npos) << (*st)->reason;
  EXPECT_NE((*st)->reason.find("same content to 60 recipients/h"), std::string::npos);
}

TEST_F(GuardTest, FailedRecipientsPlusBurstHolds) {
  GuardConfig c;
  c.failed_ratio = 0;  // only the detection signal
  make(c);
  for (int i = 0; i < 35; ++i) {
    now_ += 30'000;
    send(alice_);
  }
  EXPECT_EQ(level(alice_), Level::kActive);  // first network: burst alone (0.6) is not enough
  ASSERT_TRUE(guard_->report_failed_recipients(alice_, 25).ok());
  EXPECT_EQ(level(alice_), Level::kSendingDisabled);
}

TEST_F(GuardTest, ConfigFromTableAndBadAction) {
  Config config;
  auto g = GuardConfig::from_config(config);
  ASSERT_TRUE(g.ok()) << g.error().describe();
  EXPECT_EQ(g->user.messages_per_hour, 200);
  EXPECT_TRUE(g->tempfail_over_limit);
  ASSERT_TRUE(config.set("outbound.over_limit_action", "bounce").ok());
  auto bad = GuardConfig::from_config(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kConfig);
}


// The per-message table (recipients so far per Postfix instance) forgets messages first counted
// more than a day ago once it holds over 100,000 messages, and keeps younger ones. Pruning pops
// an expiry queue instead of sweeping the table (bench/outbound); this checks it forgets the
// same messages the sweep did.
TEST(GuardMessageTable, ForgetsDayOldMessagesKeepsYoungerOnes) {
  auto store = make_memory_store();
  int64_t now = kStart;
  GuardConfig c;
  c.user = {0, 0};
  c.domain = {0, 0};
  c.recipients_per_message = 1;
  c.failed_ratio = 0;
  c.detect.enabled = false;
  Guard guard(*store, c, [&] { return now; });
  auto rcpt = [&](const std::string& user, const std::string& instance, const std::string& to) {
    auto o = guard.check_rcpt({Identity::from(user), instance, to, "", "REF"});
    EXPECT_TRUE(o.ok());
    return o->verdict;
  };
  EXPECT_EQ(rcpt("old@example.com", "old", "a@x.example"), Verdict::kAccept);
  now += kHour;
  EXPECT_EQ(rcpt("mid@example.com", "mid", "a@x.example"), Verdict::kAccept);
  now += 2 * kHour;
  for (int i = 0; i < 100001; ++i)
    ASSERT_EQ(rcpt(fmt::format("u{}@example.com", i % 500), fmt::format("bulk-{}", i),
                   "b@x.example"),
              Verdict::kAccept);
  // A second recipient of a known message is over recipients_per_message.
  EXPECT_EQ(rcpt("old@example.com", "old", "c@x.example"), Verdict::kTempfail);
  // "old" is now more than a day old, "mid" not yet: old's next recipient starts a new message.
  now = kStart + 24 * kHour + 30 * kMin;
  EXPECT_EQ(rcpt("old@example.com", "old", "c@x.example"), Verdict::kAccept);
  EXPECT_EQ(rcpt("mid@example.com", "mid", "c@x.example"), Verdict::kTempfail);
  // One minute later (pruning runs at most once a minute) "mid" is past a day too.
  now = kStart + 25 * kHour + 2 * kMin;
  EXPECT_EQ(rcpt("mid@example.com", "mid", "d@x.example"), Verdict::kAccept);
  // ... while a message first counted in the bulk (2 hours after "mid") is still known.
  EXPECT_EQ(rcpt("u1@example.com", "bulk-1", "e@x.example"), Verdict::kTempfail);
}

}  // namespace
}  // namespace mailsift::outbound
