// Hermetic tests of the fault handling (resilient.h, replay_queue.h): in-memory backends behind
// a switch that makes them "down" (kTemporary), a fake clock, a temp SQLite queue file.
#include "fleet/resilient.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

namespace mailsift::fleet {
namespace {

struct Switch {
  std::atomic<bool> down{false};
  std::atomic<int> calls{0};
  Status gate() {
    ++calls;
    if (down)
      return Error::temporary("connection refused (test)");
    return Ok{};
  }
};

// A store that fails kTemporary while the switch is down.
class FlakyStore : public store::Store {
 public:
  FlakyStore(store::Store& inner, Switch& sw) : in_(inner), sw_(sw) {}
  Result<std::vector<store::TokenCounts>> token_counts(const store::Scope& s,
                                                       std::span<const uint64_t> t) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    return in_.token_counts(s, t);
  }
  Result<store::ClassTotals> totals(const store::Scope& s) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    return in_.totals(s);
  }
  Result<store::LearnOutcome> learn(const store::LearnRequest& r) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    ++applied_learns;
    return in_.learn(r);
  }
  Result<store::LearnOutcome> unlearn(const store::Scope& s, const std::string& d,
                                      store::Class c) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    return in_.unlearn(s, d, c);
  }
  Status fuzzy_add(const store::Scope& s, const store::FuzzyRecord& r) override {
    if (Status g = sw_.gate(); !g)
      return g;
    return in_.fuzzy_add(s, r);
  }
  Status fuzzy_remove(const store::Scope& s, const std::string& d) override {
    if (Status g = sw_.gate(); !g)
      return g;
    return in_.fuzzy_remove(s, d);
  }
  Result<std::vector<store::FuzzyRecord>> fuzzy_candidates(const store::Scope& s,
                                                           std::span<const uint64_t> b,
                                                           size_t limit) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    return in_.fuzzy_candidates(s, b, limit);
  }
  int applied_learns = 0;

 private:
  store::Store& in_;
  Switch& sw_;
};

class FlakyLog : public decisions::DecisionLog {
 public:
  FlakyLog(decisions::DecisionLog& inner, Switch& sw) : in_(inner), sw_(sw) {}
  Status record(const decisions::Decision& d) override {
    if (Status g = sw_.gate(); !g)
      return g;
    return in_.record(d);
  }
  Result<std::vector<decisions::Decision>> query(const decisions::Query& q) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    return in_.query(q);
  }
  Result<size_t> expire(int64_t t) override { return in_.expire(t); }

 private:
  decisions::DecisionLog& in_;
  Switch& sw_;
};

class Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mailsift-resilient-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string qpath() const { return (dir_ / "replay.db").string(); }

  ResilienceOptions options(bool replay = true) {
    ResilienceOptions o;
    o.replay = replay;
    o.breaker_ms = 1000;
    o.queue_path = qpath();
    o.now = [this] { return now_ms_.load(); };
    o.log = [this](const std::string& e, const std::string&) { events_.push_back(e); };
    return o;
  }
  std::filesystem::path dir_;
  std::atomic<int64_t> now_ms_{1'000'000};
  std::vector<std::string> events_;
};

store::LearnRequest req(const std::string& digest, store::Class cls = store::Class::kSpam) {
  store::LearnRequest r;
  r.scope = store::Scope{store::Level::kUser, "bob@acme.test"};
  r.message_digest = digest;
  r.cls = cls;
  r.tokens = {1, 2, 3};
  return r;
}

decisions::Decision decision(const std::string& id) {
  decisions::Decision d;
  d.id = id;
  d.time_unix_ms = 1'700'000'000'000;
  d.node = "n1";
  d.subject = std::string("bad utf8 \xff here");
  d.recipients.push_back({"bob@acme.test",
                          "bob@acme.test",
                          "acme.test",
                          "",
                          3.5,
                          "no action",
                          "",
                          "data",
                          "default",
                          {{"X", 1.5}}});
  return d;
}

using ReplayQueueTest = Fixture;

TEST_F(ReplayQueueTest, FifoDedupePersistAndBound) {
  {
    auto q = ReplayQueue::open(qpath(), 3);
    ASSERT_TRUE(q) << q.error().describe();
    ASSERT_TRUE((*q)->append("store", {{"e1", "learn", "{}"}, {"e2", "learn", "{}"}}, 1));
    ASSERT_TRUE((*q)->append("store", {{"e1", "learn", "{}"}}, 2));  // duplicate id: skipped
    ASSERT_TRUE((*q)->append("decisions", {{"d1", "decision", "{}"}}, 3));
    EXPECT_EQ((*q)->pending("store"), 2u);
    EXPECT_EQ((*q)->pending("decisions"), 1u);
    EXPECT_EQ((*q)->stats().duplicates, 1u);
    // Full (3 of 3): refused with kTemporary and counted, not dropped silently.
    Status full = (*q)->append("store", {{"e3", "learn", "{}"}}, 4);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().kind, ErrorKind::kTemporary);
    EXPECT_EQ((*q)->stats().refused_full, 1u);
  }
  auto q = ReplayQueue::open(qpath(), 3);  // reopened: still there, same order
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->pending("store"), 2u);
  auto got = (*q)->peek("store", 10);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].item.event_id, "e1");
  EXPECT_EQ((*got)[1].item.event_id, "e2");
  ASSERT_TRUE((*q)->remove((*got)[0].seq));
  ASSERT_TRUE((*q)->dead_letter((*got)[1], "refused", 5));
  EXPECT_EQ((*q)->pending("store"), 0u);
  EXPECT_EQ((*q)->stats().dead, 1u);
  EXPECT_EQ((*q)->stats().replayed, 1u);
  EXPECT_EQ((*q)->pending("decisions"), 1u);
}

using BreakerTest = Fixture;

TEST_F(BreakerTest, OpensSkipsThenOneProbe) {
  Breaker b(
      "redis", 1000, [this] { return now_ms_.load(); }, nullptr);
  EXPECT_TRUE(b.allow());
  b.failure("down");
  EXPECT_TRUE(b.is_open());
  EXPECT_FALSE(b.allow());
  now_ms_ += 999;
  EXPECT_FALSE(b.allow());
  now_ms_ += 1;
  EXPECT_TRUE(b.allow());   // the probe
  EXPECT_FALSE(b.allow());  // only one caller probes
  b.success();
  EXPECT_FALSE(b.is_open());
  EXPECT_TRUE(b.allow());
  EXPECT_EQ(b.trips(), 1u);
}

using ResilientTest = Fixture;

TEST_F(ResilientTest, DegradedReadsQueuedLearnsReplayExactlyOnce) {
  auto mem = store::make_memory_store();
  Switch sw;
  auto r = Resilience::create(options());
  ASSERT_TRUE(r) << r.error().describe();
  auto flaky = std::make_unique<FlakyStore>(*mem, sw);
  FlakyStore* raw = flaky.get();
  auto s = (*r)->wrap_store(std::move(flaky), "redis");
  const store::Scope bob{store::Level::kUser, "bob@acme.test"};
  const std::vector<uint64_t> toks = {1, 2, 3};

  ASSERT_TRUE(s->learn(req("d0")));  // server up: direct
  EXPECT_TRUE(take_degraded().empty());

  sw.down = true;
  auto counts = s->token_counts(bob, toks);  // first failure: degraded answer, breaker opens
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->size(), 3u);
  EXPECT_EQ((*counts)[0], store::TokenCounts{});
  EXPECT_NE(take_degraded(), "");
  const int calls = sw.calls;
  for (int i = 0; i < 100; ++i) {  // while open: no call reaches the server
    ASSERT_TRUE(s->totals(bob));
    ASSERT_TRUE(s->fuzzy_candidates(bob, toks, 10));
  }
  EXPECT_EQ(sw.calls, calls);
  EXPECT_NE(take_degraded(), "");

  // Writes while down: acknowledged, queued durably, in order.
  for (int i = 1; i <= 5; ++i)
    ASSERT_TRUE(s->learn(req("d" + std::to_string(i))));
  ASSERT_TRUE(s->unlearn(bob, "d5", store::Class::kSpam));
  EXPECT_EQ((*r)->queue().pending("store"), 6u);
  EXPECT_EQ((*r)->replay_once(), 0u);  // breaker still open: nothing tried

  sw.down = false;
  now_ms_ += 1000;  // past the breaker window: the replayer probes
  EXPECT_EQ((*r)->replay_once(), 6u);
  EXPECT_EQ((*r)->queue().pending("store"), 0u);
  auto totals = mem->totals(bob);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->spam_messages, 5u);  // d0..d4 (d5 learned then unlearned)
  EXPECT_EQ(raw->applied_learns, 6);     // d0 direct + d1..d5 replayed, once each
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "fleet_degraded"), 1);
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "fleet_recovered"), 1);
  EXPECT_TRUE(s->token_counts(bob, toks));
  EXPECT_TRUE(take_degraded().empty());
}

// A crash after applying a queued write but before removing it replays it again: the target's
// key idempotency makes that a no-op (learn by digest, decision by id).
TEST_F(ResilientTest, ReplayAfterCrashBetweenApplyAndDequeueIsANoOp) {
  auto mem = store::make_memory_store();
  auto mlog = decisions::make_memory_log();
  Switch sw;
  sw.down = true;
  {
    auto r = Resilience::create(options());
    ASSERT_TRUE(r);
    auto s = (*r)->wrap_store(std::make_unique<FlakyStore>(*mem, sw), "redis");
    auto l = (*r)->wrap_log(std::make_unique<FlakyLog>(*mlog, sw), "postgres");
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(s->learn(req("m" + std::to_string(i))));
      ASSERT_TRUE(l->record(decision("id" + std::to_string(i))));
    }
    EXPECT_EQ((*r)->queue().pending("store"), 3u);
    EXPECT_EQ((*r)->queue().pending("decisions"), 3u);
  }  // "crash": the process is gone, the file stays
  // Simulate the partial replay: the writes reached the servers, the queue rows did not go.
  ASSERT_TRUE(mem->learn(req("m0")));
  ASSERT_TRUE(mem->learn(req("m1")));
  ASSERT_TRUE(mlog->record(decision("id0")));

  sw.down = false;
  auto r = Resilience::create(options());  // next start: same file
  ASSERT_TRUE(r);
  auto s = (*r)->wrap_store(std::make_unique<FlakyStore>(*mem, sw), "redis");
  auto l = (*r)->wrap_log(std::make_unique<FlakyLog>(*mlog, sw), "postgres");
  EXPECT_EQ((*r)->replay_once(), 6u);
  auto totals = mem->totals(req("x").scope);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->spam_messages, 3u);  // m0, m1, m2 once each
  decisions::Query q;
  q.limit = 0;
  auto all = mlog->query(q);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);  // id0 not duplicated
  decisions::Query by_id;
  by_id.id = "id2";
  auto one = mlog->query(by_id);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().recipients.at(0).symbols.at(0).name, "X");
  EXPECT_EQ(one->front().subject, "bad utf8 \xEF\xBF\xBD here");  // U+FFFD, as PostgreSQL keeps it
}

// Writes queued before the server came back keep their place: a new write goes behind them.
TEST_F(ResilientTest, NewWritesQueueBehindPendingOnes) {
  auto mem = store::make_memory_store();
  Switch sw;
  auto r = Resilience::create(options());
  ASSERT_TRUE(r);
  auto s = (*r)->wrap_store(std::make_unique<FlakyStore>(*mem, sw), "redis");
  const store::Scope bob{store::Level::kUser, "bob@acme.test"};
  sw.down = true;
  ASSERT_TRUE(s->learn(req("a", store::Class::kSpam)));
  sw.down = false;
  now_ms_ += 2000;
  // Server is back but "a" is still queued: the relearn as ham must not overtake it.
  ASSERT_TRUE(s->learn(req("a", store::Class::kHam)));
  EXPECT_EQ((*r)->queue().pending("store"), 2u);
  EXPECT_EQ((*r)->replay_once(), 2u);
  auto t = mem->totals(bob);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ham_messages, 1u);
  EXPECT_EQ(t->spam_messages, 0u);
}

TEST_F(ResilientTest, ReplayDisabledFailsThrough) {
  auto mem = store::make_memory_store();
  Switch sw;
  sw.down = true;
  auto r = Resilience::create(options(/*replay=*/false));
  ASSERT_TRUE(r);
  auto s = (*r)->wrap_store(std::make_unique<FlakyStore>(*mem, sw), "redis");
  auto o = s->learn(req("z"));
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().kind, ErrorKind::kTemporary);
  EXPECT_EQ((*r)->queue().pending("store"), 0u);
  // Reads still degrade (scanning goes on).
  EXPECT_TRUE(s->totals(req("z").scope));
}

TEST_F(ResilientTest, FullQueueRefusesWithTheOriginalError) {
  auto mem = store::make_memory_store();
  Switch sw;
  sw.down = true;
  auto o = options();
  o.replay_max = 2;
  auto r = Resilience::create(o);
  ASSERT_TRUE(r);
  auto s = (*r)->wrap_store(std::make_unique<FlakyStore>(*mem, sw), "redis");
  ASSERT_TRUE(s->learn(req("1")));
  ASSERT_TRUE(s->learn(req("2")));
  auto third = s->learn(req("3"));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().kind, ErrorKind::kTemporary);
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "fleet_replay_refused"), 1);
  EXPECT_NE((*r)->metrics().find("mailsift_fleet_replay_refused_total 1"), std::string::npos);
}

// A deferred target (mailsiftd's feedback reports): items wait until an apply function is
// set, the same item queued twice is kept once, a temporary failure keeps it queued, a
// permanent one moves it to replay_dead, and set_apply(nullptr) stops the applying.
TEST_F(ResilientTest, DeferredTargetAppliesOnceWhenSetAndKeepsOnTemporaryFailure) {
  auto r = Resilience::create(options());
  ASSERT_TRUE(r);
  Resilience& res = **r;
  EXPECT_EQ(res.defer("feedback", {"a", "report", "{}"}).error().kind, ErrorKind::kConfig);
  res.add_deferred_target("feedback", "postgres");
  ASSERT_TRUE(res.defer("feedback", {"a", "report", "1"}));
  ASSERT_TRUE(res.defer("feedback", {"a", "report", "1"}));  // the same report again
  ASSERT_TRUE(res.defer("feedback", {"b", "report", "2"}));
  ASSERT_TRUE(res.defer("feedback", {"c", "report", "bad"}));
  EXPECT_EQ(res.queue().pending("feedback"), 3u);
  EXPECT_EQ(res.replay_once(), 0u);  // nothing applies them yet
  EXPECT_EQ(res.queue().pending("feedback"), 3u);

  std::vector<std::string> applied;
  bool down = true;
  res.set_apply("feedback", [&](const ReplayItem& item) -> Status {
    if (item.payload == "bad")
      return Error::malformed("not a report");
    if (down)
      return Error::temporary("postgres: connection refused");
    applied.push_back(item.payload);
    return Ok{};
  });
  EXPECT_EQ(res.replay_once(), 0u);  // still down: kept, in order
  EXPECT_EQ(res.queue().pending("feedback"), 3u);
  down = false;
  now_ms_ += 2000;  // past the breaker's window
  EXPECT_EQ(res.replay_once(), 2u);
  EXPECT_EQ(applied, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(res.queue().pending("feedback"), 0u);
  EXPECT_EQ(res.queue().stats().dead, 1u);

  ASSERT_TRUE(res.defer("feedback", {"d", "report", "3"}));
  res.set_apply("feedback", nullptr);
  EXPECT_EQ(res.replay_once(), 0u);
  EXPECT_EQ(res.queue().pending("feedback"), 1u);

  auto off = Resilience::create([&] {
    auto o = options(/*replay=*/false);
    o.queue_path = (dir_ / "off.db").string();
    return o;
  }());
  ASSERT_TRUE(off);
  (*off)->add_deferred_target("feedback", "postgres");
  EXPECT_EQ((*off)->defer("feedback", {"e", "report", "4"}).error().kind, ErrorKind::kTemporary);
}

TEST_F(ResilientTest, FuzzyRecordsRoundTripThroughTheQueue) {
  auto mem = store::make_memory_store();
  Switch sw;
  sw.down = true;
  auto r = Resilience::create(options());
  ASSERT_TRUE(r);
  auto s = (*r)->wrap_store(std::make_unique<FlakyStore>(*mem, sw), "redis");
  const store::Scope bob{store::Level::kUser, std::string("b\x00\xff", 3)};  // any bytes
  store::FuzzyRecord rec;
  rec.message_digest = "abc";
  rec.bands = {7, 0xffffffffffffffffull};
  rec.signature = {1, 2, 0xffffffffu};
  rec.reporter = "carol@acme.test";
  rec.added_unix = 42;
  ASSERT_TRUE(s->fuzzy_add(bob, rec));
  sw.down = false;
  now_ms_ += 1000;
  EXPECT_EQ((*r)->replay_once(), 1u);
  auto c = mem->fuzzy_candidates(bob, rec.bands, 10);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ(c->front().signature, rec.signature);
  EXPECT_EQ(c->front().reporter, rec.reporter);
  EXPECT_EQ(c->front().added_unix, 42);
}

// The outbound counters behind a breaker: the first failure costs one call, the rest none.
class FlakyOutbound : public outbound::OutboundStore {
 public:
  FlakyOutbound(outbound::OutboundStore& in, Switch& sw) : in_(in), sw_(sw) {}
  Result<std::optional<outbound::AccountStatus>> get_status(const outbound::Subject& s) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    return in_.get_status(s);
  }
  Status put_status(const outbound::AccountStatus& s) override { return in_.put_status(s); }
  Result<std::vector<outbound::AccountStatus>> restricted() override { return in_.restricted(); }
  Status add_count(std::string_view k, int64_t b, int64_t d, int64_t keep) override {
    if (Status g = sw_.gate(); !g)
      return g;
    return in_.add_count(k, b, d, keep);
  }
  Result<int64_t> sum_counts(std::string_view k, int64_t f, int64_t l) override {
    if (Status g = sw_.gate(); !g)
      return g.error();
    return in_.sum_counts(k, f, l);
  }
  Result<bool> touch_member(std::string_view k, std::string_view m, int64_t n,
                            int64_t keep) override {
    return in_.touch_member(k, m, n, keep);
  }
  Result<bool> has_member(std::string_view k, std::string_view m, int64_t s) override {
    return in_.has_member(k, m, s);
  }
  Result<int64_t> count_members(std::string_view k, int64_t s) override {
    return in_.count_members(k, s);
  }
  Result<std::optional<std::string>> get_value(std::string_view k) override {
    return in_.get_value(k);
  }
  Status put_value(std::string_view k, std::string_view v) override { return in_.put_value(k, v); }
  Status add_alert(const outbound::Alert& a) override { return in_.add_alert(a); }
  Result<std::vector<outbound::Alert>> alerts(std::string_view k, size_t l) override {
    return in_.alerts(k, l);
  }

 private:
  outbound::OutboundStore& in_;
  Switch& sw_;
};

TEST(OutboundBreaker, DeadServerIsTemporaryAndCostsOneCall) {
  auto mem = outbound::make_memory_store();
  Switch sw;
  auto s = wrap_outbound_with_breaker(std::make_unique<FlakyOutbound>(*mem, sw), 60000,
                                      [](const std::string&, const std::string&) {});
  ASSERT_TRUE(s->add_count("k", 1, 2, 0));
  sw.down = true;
  auto first = s->sum_counts("k", 0, 10);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::kTemporary);
  const int calls = sw.calls;
  for (int i = 0; i < 50; ++i) {
    auto r = s->sum_counts("k", 0, 10);
    ASSERT_FALSE(r);  // never a silent "0 sent": the listener tempfails
    EXPECT_EQ(r.error().kind, ErrorKind::kTemporary);
  }
  EXPECT_EQ(sw.calls, calls);  // the open breaker kept them off the server
}

}  // namespace
}  // namespace mailsift::fleet
