// The OutboundStore conformance suite: every backend (memory, SQLite, later Redis) must pass it.
#include <unistd.h>

#include <filesystem>

#include "outbound/testing/conformance.h"

namespace mailsift::outbound::testing {

void OutboundStoreConformance::SetUp() {
  char tmpl[] = "/tmp/mailsift-outbound-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  auto s = GetParam().open_fresh(dir_);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  store_ = std::move(s).value();
}

void OutboundStoreConformance::TearDown() {
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::unique_ptr<OutboundStore> OutboundStoreConformance::reopen() {
  if (!GetParam().reopen)
    return nullptr;
  auto s = GetParam().reopen(dir_);
  EXPECT_TRUE(s.ok()) << s.error().describe();
  return s ? std::move(s).value() : nullptr;
}

namespace {

TEST_P(OutboundStoreConformance, StatusRoundTripAndRestrictedList) {
  auto none = store().get_status(Subject::user("alice@example.com"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  AccountStatus st{Subject::user("Alice@Example.COM"), Level::kSendingDisabled, "auto: burst",
                   1700000000123, "mailsift-detect", true};
  ASSERT_TRUE(store().put_status(st).ok());
  ASSERT_TRUE(store()
                  .put_status({Subject::domain("example.org"), Level::kSuspended, "unpaid", 5,
                               "support", false})
                  .ok());
  ASSERT_TRUE(
      store().put_status({Subject::reseller("r1"), Level::kActive, "", 6, "support", true}).ok());

  auto got = store().get_status(Subject::user("alice@example.com"));
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->subject, Subject::user("alice@example.com"));
  EXPECT_EQ((*got)->level, Level::kSendingDisabled);
  EXPECT_EQ((*got)->reason, "auto: burst");
  EXPECT_EQ((*got)->changed_at_ms, 1700000000123);
  EXPECT_EQ((*got)->changed_by, "mailsift-detect");
  EXPECT_TRUE((*got)->reversible);

  auto list = store().restricted();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);  // the active reseller is not listed
  bool saw_domain = false;
  for (const auto& s : *list)
    if (s.subject == Subject::domain("example.org")) {
      saw_domain = true;
      EXPECT_EQ(s.level, Level::kSuspended);
      EXPECT_FALSE(s.reversible);
    }
  EXPECT_TRUE(saw_domain);

  // Reversal overwrites.
  st.level = Level::kActive;
  st.changed_by = "support";
  ASSERT_TRUE(store().put_status(st).ok());
  got = store().get_status(Subject::user("alice@example.com"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->level, Level::kActive);
  EXPECT_EQ(store().restricted()->size(), 1u);
}

TEST_P(OutboundStoreConformance, BucketedCountersSumRangesAndPrune) {
  ASSERT_TRUE(store().add_count("msg1m:user:a@x", 100, 2, 41).ok());
  ASSERT_TRUE(store().add_count("msg1m:user:a@x", 100, 3, 41).ok());
  ASSERT_TRUE(store().add_count("msg1m:user:a@x", 170, 1, 111).ok());
  ASSERT_TRUE(store().add_count("msg1m:user:b@x", 130, 7, 71).ok());
  EXPECT_EQ(*store().sum_counts("msg1m:user:a@x", 111, 170), 1);   // bucket 100 was pruned
  EXPECT_EQ(*store().sum_counts("msg1m:user:a@x", 0, 1000), 1);
  EXPECT_EQ(*store().sum_counts("msg1m:user:b@x", 130, 130), 7);   // keys are independent
  EXPECT_EQ(*store().sum_counts("msg1m:user:none", 0, 1000), 0);
  ASSERT_TRUE(store().add_count("msg1m:user:a@x", 171, 4, 112).ok());
  EXPECT_EQ(*store().sum_counts("msg1m:user:a@x", 171, 171), 4);
  EXPECT_EQ(*store().sum_counts("msg1m:user:a@x", 170, 171), 5);
  EXPECT_EQ(*store().sum_counts("msg1m:user:a@x", 172, 200), 0);
}

TEST_P(OutboundStoreConformance, TimestampedSetsCountDistinctAndExpire) {
  EXPECT_TRUE(*store().touch_member("rcpt1d:user:a@x", "b@y", 1000, 0));
  EXPECT_FALSE(*store().touch_member("rcpt1d:user:a@x", "b@y", 2000, 0));  // known
  EXPECT_TRUE(*store().touch_member("rcpt1d:user:a@x", "c@y", 3000, 0));
  EXPECT_EQ(*store().count_members("rcpt1d:user:a@x", 0), 2);
  EXPECT_EQ(*store().count_members("rcpt1d:user:a@x", 2500), 1);
  EXPECT_EQ(*store().count_members("rcpt1d:user:a@x", 2000), 2);  // b was refreshed at 2000
  EXPECT_TRUE(*store().has_member("rcpt1d:user:a@x", "b@y", 2000));
  EXPECT_FALSE(*store().has_member("rcpt1d:user:a@x", "b@y", 2001));
  EXPECT_FALSE(*store().has_member("rcpt1d:user:a@x", "zz", 0));
  // Members older than keep_since are dropped; an expired member is new again.
  EXPECT_TRUE(*store().touch_member("rcpt1d:user:a@x", "d@y", 9000, 2500));
  EXPECT_EQ(*store().count_members("rcpt1d:user:a@x", 0), 2);  // c, d
  EXPECT_TRUE(*store().touch_member("rcpt1d:user:a@x", "b@y", 9001, 2500));
  EXPECT_EQ(*store().count_members("rcpt1d:other", 0), 0);
}

TEST_P(OutboundStoreConformance, ValuesAndAlerts) {
  EXPECT_FALSE(store().get_value("ewma:user:a@x")->has_value());
  ASSERT_TRUE(store().put_value("ewma:user:a@x", "1.5 42").ok());
  ASSERT_TRUE(store().put_value("ewma:user:a@x", "2.5 43").ok());
  EXPECT_EQ(**store().get_value("ewma:user:a@x"), "2.5 43");

  ASSERT_TRUE(store().add_alert({100, "user:a@x", "auto_hold", 1.2, "burst"}).ok());
  ASSERT_TRUE(store().add_alert({200, "user:b@x", "auto_hold", 1.0, "new network"}).ok());
  ASSERT_TRUE(store().add_alert({300, "user:a@x", "auto_hold", 1.4, "failed"}).ok());
  auto all = store().alerts("", 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].time_ms, 300);  // newest first
  auto a = store().alerts("user:a@x", 1);
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].detail, "failed");
  EXPECT_DOUBLE_EQ((*a)[0].score, 1.4);
}

TEST_P(OutboundStoreConformance, DataIsSharedWithASecondHandle) {
  auto other = reopen();
  if (!other)
    GTEST_SKIP() << "backend keeps no data outside the object";
  ASSERT_TRUE(store()
                  .put_status({Subject::user("a@x"), Level::kSuspended, "abuse", 1, "cli", true})
                  .ok());
  ASSERT_TRUE(store().add_count("k", 1, 5, 0).ok());
  auto st = other->get_status(Subject::user("a@x"));
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->has_value());
  EXPECT_EQ((*st)->level, Level::kSuspended);
  EXPECT_EQ(*other->sum_counts("k", 0, 10), 5);
}

}  // namespace
}  // namespace mailsift::outbound::testing
