// ipwatch: pool/list options, the socketmap codec, both store backends, the monitor on a
// FakeResolver with a fake clock (listing, delisting, history, refusing/rewriting resolvers,
// temporary errors, pool choice, all pools unhealthy), the socketmap server on loopback, and the
// HTTP API extension.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "dns/testing/fake_resolver.h"
#include "ipwatch/api.h"
#include "ipwatch/map_server.h"
#include "ipwatch/monitor.h"
#include "ipwatch/socketmap.h"

namespace mailsift::ipwatch {
namespace {

using dns::testing::FakeResolver;
namespace sm = socketmap;

// ---------------------------------------------------------------- options
TEST(Options, ParsesPoolsInOrder) {
  auto p = parse_pools("a=smtp_a:192.0.2.1, 192.0.2.2;\n b = smtp_b : 2001:db8::0:1");
  ASSERT_TRUE(p.ok()) << p.error().describe();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].name, "a");
  EXPECT_EQ((*p)[0].transport, "smtp_a");
  EXPECT_EQ((*p)[0].ips, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ((*p)[1].ips, (std::vector<std::string>{"2001:db8::1"}));  // canonical
}

TEST(Options, RejectsBadPools) {
  for (const char* bad : {"a=smtp_a", "a=:192.0.2.1", "a=smtp_a:", "a=smtp_a:300.1.1.1",
                          "a=smtp_a:192.0.2.1;b=smtp_b:192.0.2.1", "a=t:192.0.2.1;a=t:192.0.2.2",
                          "a b=t:192.0.2.1", "a=sm tp:192.0.2.1", "=t:192.0.2.1"}) {
    auto p = parse_pools(bad);
    EXPECT_FALSE(p.ok()) << bad;
    if (!p.ok()) {
      EXPECT_EQ(p.error().kind, ErrorKind::kConfig);
    }
  }
}

TEST(Options, ListsFallBackToIpListsOfDnsbl) {
  Config c;
  ASSERT_TRUE(c.set("ipwatch.pools", "a=smtp_a:192.0.2.1").ok());
  ASSERT_TRUE(
      c.set("dnsbl.lists", "zen.example:ip:4, dbl.example:domain:3, v4.example:ip4:1").ok());
  auto o = options_from_config(c);
  ASSERT_TRUE(o.ok()) << o.error().describe();
  ASSERT_EQ(o->lists.size(), 2u);
  EXPECT_EQ(o->lists[0].zone, "zen.example");
  EXPECT_EQ(o->lists[1].zone, "v4.example");
  ASSERT_TRUE(c.set("ipwatch.lists", "dbl.example:domain:3").ok());
  EXPECT_FALSE(options_from_config(c).ok());  // own lists must be ip/ip4
  ASSERT_TRUE(c.set("ipwatch.lists", "own.example:ip:1").ok());
  o = options_from_config(c);
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->lists.size(), 1u);
  EXPECT_EQ(o->lists[0].zone, "own.example");
}

TEST(Options, PoolsWithoutListsIsAConfigError) {
  Config c;
  ASSERT_TRUE(c.set("ipwatch.pools", "a=smtp_a:192.0.2.1").ok());
  auto o = options_from_config(c);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, ErrorKind::kConfig);
}

TEST(Options, WithoutPoolsListsAreNotRead) {
  // Monitoring off: a dnsbl.lists problem is not ipwatch's (mailsiftd must still start).
  Config c;
  ASSERT_TRUE(c.set("dnsbl.lists", "dbl.example:domain:3").ok());
  auto o = options_from_config(c);
  ASSERT_TRUE(o.ok()) << o.error().describe();
  EXPECT_TRUE(o->pools.empty());
  ASSERT_TRUE(c.set("ipwatch.map_listen", "inet:127.0.0.1:10041").ok());
  EXPECT_FALSE(options_from_config(c).ok());  // a map without pools is a mistake
}

// ---------------------------------------------------------------- codec
TEST(Socketmap, DecodesCompleteIncompleteMalformed) {
  auto d = sm::decode("5:hello,rest");
  ASSERT_EQ(d.status, sm::Decode::kComplete);
  EXPECT_EQ(d.payload, "hello");
  EXPECT_EQ(d.consumed, 8u);
  EXPECT_EQ(sm::decode("0:,").status, sm::Decode::kComplete);
  for (const char* partial : {"", "5", "5:", "5:hel", "5:hello"})
    EXPECT_EQ(sm::decode(partial).status, sm::Decode::kIncomplete) << partial;
  for (const char* bad : {":x,", "a:", "05:hello,", "5:helloX", "5x", "1000001:"})
    EXPECT_EQ(sm::decode(bad).status, sm::Decode::kMalformed) << bad;
  EXPECT_EQ(sm::decode("11:hello world,", 10).status, sm::Decode::kMalformed);
  EXPECT_EQ(sm::decode("99999999999999999999999:", 100).status, sm::Decode::kMalformed);
}

TEST(Socketmap, EncodesRequestsAndReplies) {
  EXPECT_EQ(sm::encode("abc"), "3:abc,");
  EXPECT_EQ(sm::encode(""), "0:,");
  EXPECT_EQ(sm::reply(sm::Status::kOk, "smtp_b"), "9:OK smtp_b,");
  EXPECT_EQ(sm::reply(sm::Status::kNotFound, ""), "9:NOTFOUND ,");
  auto r = sm::parse_request("outbound_pool alice@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "outbound_pool");
  EXPECT_EQ(r->key, "alice@example.test");
  EXPECT_EQ(sm::parse_request("name a b")->key, "a b");
  EXPECT_FALSE(sm::parse_request("nospace"));
  EXPECT_FALSE(sm::parse_request(" key"));
  EXPECT_FALSE(sm::parse_request("name "));
  // Round trip through decode.
  std::string two = sm::encode("a b") + sm::encode("c d");
  auto first = sm::decode(two);
  ASSERT_EQ(first.status, sm::Decode::kComplete);
  auto second = sm::decode(std::string_view(two).substr(first.consumed));
  ASSERT_EQ(second.status, sm::Decode::kComplete);
  EXPECT_EQ(second.payload, "c d");
}

// ---------------------------------------------------------------- stores
class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      dir_ = std::filesystem::temp_directory_path() /
             ("ipwatch-store-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
      auto s = open_sqlite_store((dir_ / "ipwatch.db").string());
      ASSERT_TRUE(s.ok()) << s.error().describe();
      store_ = std::move(s).value();
    } else {
      store_ = make_memory_store();
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty())
      std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, EpisodesOpenOnceCloseAndHistory) {
  Episode e{0, "192.0.2.1", "bl", "bl.test", 1000, "127.0.0.2", "SBL", 0};
  EXPECT_TRUE(*store_->open_listing(e));
  EXPECT_FALSE(*store_->open_listing(e));  // idempotent while open
  EXPECT_EQ(store_->open_listings()->size(), 1u);
  EXPECT_TRUE(*store_->close_listing("192.0.2.1", "bl", 2000));
  EXPECT_FALSE(*store_->close_listing("192.0.2.1", "bl", 2500));
  EXPECT_TRUE(store_->open_listings()->empty());
  e.listed_at_ms = 3000;
  EXPECT_TRUE(*store_->open_listing(e));  // a new episode after delisting
  Episode other{0, "192.0.2.2", "bl", "bl.test", 3500, "127.0.0.3", "", 0};
  EXPECT_TRUE(*store_->open_listing(other));
  auto h = store_->history("192.0.2.1", 10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].listed_at_ms, 3000);  // newest first
  EXPECT_EQ((*h)[0].delisted_at_ms, 0);
  EXPECT_EQ((*h)[1].listed_at_ms, 1000);
  EXPECT_EQ((*h)[1].delisted_at_ms, 2000);
  EXPECT_EQ((*h)[1].codes, "127.0.0.2");
  EXPECT_EQ((*h)[1].name, "SBL");
  EXPECT_EQ(store_->history("", 10)->size(), 3u);
  EXPECT_EQ(store_->history("", 1)->size(), 1u);
}

TEST_P(StoreTest, ChecksDelistingsAlerts) {
  ASSERT_TRUE(store_->put_check({"192.0.2.1", "bl", 1, "listed", "127.0.0.2", ""}).ok());
  ASSERT_TRUE(store_->put_check({"192.0.2.1", "bl", 2, "not checked", "", "DNS timeout"}).ok());
  auto c = store_->checks();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].outcome, "not checked");
  EXPECT_FALSE(store_->delisting("192.0.2.1")->has_value());
  DelistingRecord d{"192.0.2.1", 5, "bl", RequestState::kRequested, "n1\nn2", "jo", 6};
  ASSERT_TRUE(store_->put_delisting(d).ok());
  auto got = store_->delisting("192.0.2.1");
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->state, RequestState::kRequested);
  EXPECT_EQ((*got)->notes, "n1\nn2");
  EXPECT_EQ((*got)->updated_by, "jo");
  EXPECT_EQ(store_->delistings()->size(), 1u);
  ASSERT_TRUE(store_->add_alert({1, "192.0.2.1", "bl", "listed", "a"}).ok());
  ASSERT_TRUE(store_->add_alert({2, "192.0.2.1", "bl", "delisted", "b"}).ok());
  auto a = store_->alerts(10);
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].event, "delisted");
}

TEST_P(StoreTest, SteeringHistoryAnswersTheRecordInForce) {
  EXPECT_FALSE(store_->steering_at(1000)->has_value());
  ASSERT_TRUE(store_->add_steering({1000, "a", "smtp_a", false}).ok());
  ASSERT_TRUE(store_->add_steering({5000, "", "smtp_default", true}).ok());
  ASSERT_TRUE(store_->add_steering({5000, "b", "smtp_b", false}).ok());  // same ms: the later
  EXPECT_FALSE(store_->steering_at(999)->has_value());
  EXPECT_EQ(**store_->steering_at(1000), (SteeringRecord{1000, "a", "smtp_a", false}));
  EXPECT_EQ(**store_->steering_at(4999), (SteeringRecord{1000, "a", "smtp_a", false}));
  EXPECT_EQ(**store_->steering_at(5000), (SteeringRecord{5000, "b", "smtp_b", false}));
  EXPECT_EQ(**store_->steering_at(1LL << 60), (SteeringRecord{5000, "b", "smtp_b", false}));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Sqlite" : "Memory"; });

// ---------------------------------------------------------------- monitor
// The monitor keeps a Resolver&; tests swap the zone behind it between rounds.
struct SwitchResolver : dns::Resolver {
  dns::Resolver* current = nullptr;
  std::vector<dns::Answer> resolve_many(std::span<const dns::Query> q) override {
    return current->resolve_many(q);
  }
};

// A healthy list "bl" (RFC 5782 test points answer correctly) plus optional listings.
std::unique_ptr<FakeResolver> zone(std::vector<std::pair<std::string, std::string>> listed = {}) {
  auto r = std::make_unique<FakeResolver>();
  r->add("2.0.0.127.bl.test", dns::RType::kA, "127.0.0.2");
  for (auto& [ip, code] : listed)
    r->add(dns::reverse_ip(ip) + ".bl.test", dns::RType::kA, code);
  return r;
}

struct Logged {
  std::vector<std::pair<std::string, std::string>> lines;
  bool has(const std::string& level, const std::string& text) const {
    for (const auto& [l, f] : lines)
      if (l == level && f.find(text) != std::string::npos)
        return true;
    return false;
  }
};

class MonitorTest : public ::testing::Test {
 protected:
  MonitorTest() {
    auto p = parse_pools("a=smtp_a:192.0.2.1;b=smtp_b:192.0.2.2,192.0.2.3");
    options_.pools = *p;
    options_.lists = *dnsbl::parse_lists("bl=bl.test:ip:1");
    options_.default_transport = "smtp_default";
    resolver_.current = clean_.get();
  }
  Monitor make() {
    return Monitor(
        options_, *store_, resolver_, [this] { return now_; },
        [this](std::string_view l, std::string_view f) {
          log_.lines.emplace_back(std::string(l), std::string(f));
        });
  }
  Options options_;
  std::unique_ptr<Store> store_ = make_memory_store();
  std::unique_ptr<FakeResolver> clean_ = zone();
  SwitchResolver resolver_;
  int64_t now_ = 1'800'000'000'000;
  Logged log_;
};

TEST_F(MonitorTest, CleanIpsUseTheFirstPool) {
  auto m = make();
  ASSERT_TRUE(m.load().ok());
  auto r = m.run_round();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->listed.empty());
  EXPECT_TRUE(r->problems.empty());
  auto s = m.state_of("192.0.2.1");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->healthy);
  EXPECT_EQ(s->last_checked_ms, now_);
  EXPECT_FALSE(m.state_of("198.51.100.1"));  // not an outbound IP
  EXPECT_EQ(m.choose().transport, "smtp_a");
  EXPECT_EQ(m.map_reply("outbound_pool alice@example.test"), sm::reply(sm::Status::kOk, "smtp_a"));
}

TEST_F(MonitorTest, ListingSteersToHealthyPoolAndIsRecorded) {
  auto listed = zone({{"192.0.2.1", "127.0.0.2"}});
  resolver_.current = listed.get();
  auto m = make();
  now_ += 1000;
  const int64_t t_listed = now_;
  auto r = m.run_round();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->listed.size(), 1u);
  EXPECT_EQ(r->listed[0], "192.0.2.1 on bl (127.0.0.2)");
  auto s = m.state_of("192.0.2.1");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->healthy);
  ASSERT_EQ(s->listed.size(), 1u);
  EXPECT_EQ(s->listed[0].list, "bl");
  EXPECT_EQ(s->listed[0].since_ms, t_listed);
  EXPECT_EQ(s->listed[0].codes, "127.0.0.2");
  auto pools = m.pools();
  EXPECT_FALSE(pools[0].healthy);
  EXPECT_TRUE(pools[1].healthy);
  EXPECT_EQ(m.choose().transport, "smtp_b");
  EXPECT_EQ(m.map_reply("outbound_pool alice@example.test"), sm::reply(sm::Status::kOk, "smtp_b"));
  EXPECT_TRUE(log_.has("warn", "event=ipwatch_listed ip=192.0.2.1 pool=a list=bl"));
  auto alerts = store_->alerts(10);
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].event, "listed");
  auto d = store_->delisting("192.0.2.1");
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ((*d)->state, RequestState::kNone);
  EXPECT_EQ((*d)->listed_since_ms, t_listed);
  EXPECT_EQ((*d)->lists, "bl");
  // Still listed next round: no second episode, no second alert, listed since unchanged.
  now_ += 60000;
  ASSERT_TRUE(m.run_round().ok());
  EXPECT_EQ(store_->history("192.0.2.1", 10)->size(), 1u);
  EXPECT_EQ(store_->alerts(10)->size(), 1u);
  EXPECT_EQ(m.state_of("192.0.2.1")->listed[0].since_ms, t_listed);
  // Another process reads the same through the store.
  auto other = read_state(*store_, options_, "192.0.2.1");
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_FALSE((*other)->healthy);
}

TEST_F(MonitorTest, DelistingClosesEpisodeAndRecord) {
  auto listed = zone({{"192.0.2.1", "127.0.0.2"}});
  resolver_.current = listed.get();
  auto m = make();
  const int64_t t0 = now_;
  ASSERT_TRUE(m.run_round().ok());
  // Support asks the list to delist.
  auto upd = update_delisting(*store_, options_, "192.0.2.1", RequestState::kRequested,
                              "form sent, ticket 77", "jo", now_ + 10);
  ASSERT_TRUE(upd.ok()) << upd.error().describe();
  EXPECT_EQ(upd->state, RequestState::kRequested);
  EXPECT_NE(upd->notes.find("jo: state none -> requested form sent, ticket 77"), std::string::npos);
  resolver_.current = clean_.get();
  now_ += 3600000;
  auto r = m.run_round();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->delisted.size(), 1u);
  EXPECT_TRUE(m.state_of("192.0.2.1")->healthy);
  EXPECT_EQ(m.choose().transport, "smtp_a");
  auto h = store_->history("192.0.2.1", 10);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].listed_at_ms, t0);
  EXPECT_EQ((*h)[0].delisted_at_ms, now_);
  auto d = store_->delisting("192.0.2.1");
  EXPECT_EQ((*d)->state, RequestState::kDelisted);
  EXPECT_EQ((*d)->updated_by, "ipwatch");
  EXPECT_NE((*d)->notes.find("ticket 77"), std::string::npos);  // support's note kept
  EXPECT_NE((*d)->notes.find("state requested -> delisted"), std::string::npos);
  EXPECT_TRUE(log_.has("info", "event=ipwatch_delisted ip=192.0.2.1"));
  // Listed again later: a second episode, a new case (state none again).
  resolver_.current = listed.get();
  now_ += 1000;
  ASSERT_TRUE(m.run_round().ok());
  EXPECT_EQ(store_->history("192.0.2.1", 10)->size(), 2u);
  EXPECT_EQ((*store_->delisting("192.0.2.1"))->state, RequestState::kNone);
}

TEST_F(MonitorTest, TemporaryErrorKeepsPreviousState) {
  auto listed = zone({{"192.0.2.1", "127.0.0.2"}});
  resolver_.current = listed.get();
  auto m = make();
  ASSERT_TRUE(m.run_round().ok());
  // The listing query now times out (the test points still answer): still listed, and said so.
  auto flaky = zone();
  flaky->set_failure("1.2.0.192.bl.test", dns::Rcode::kTimeout);
  resolver_.current = flaky.get();
  now_ += 60000;
  auto r = m.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->delisted.empty());
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_NE(r->problems[0].find("kept previous state (listed)"), std::string::npos)
      << r->problems[0];
  auto s = m.state_of("192.0.2.1");
  EXPECT_FALSE(s->healthy);
  ASSERT_EQ(s->problems.size(), 1u);
  EXPECT_NE(s->problems[0].find("not checked"), std::string::npos);
  EXPECT_EQ(m.choose().transport, "smtp_b");
  EXPECT_TRUE(log_.has("warn", "event=ipwatch_not_checked ip=192.0.2.1"));
  // A clean IP with a SERVFAIL is not read as listed either.
  flaky->set_failure("2.2.0.192.bl.test", dns::Rcode::kServFail);
  ASSERT_TRUE(m.run_round().ok());
  EXPECT_TRUE(m.state_of("192.0.2.2")->healthy);
}

TEST_F(MonitorTest, RefusingResolverIsReportedNotReadAsListing) {
  auto m = make();
  // Every query REFUSED (e.g. a public resolver blocked by the list): the test points fail, the
  // list is not read, nothing becomes listed, and a list_problem alert says why.
  auto refusing = std::make_unique<FakeResolver>();
  for (const char* n : {"2.0.0.127.bl.test", "1.0.0.127.bl.test", "1.2.0.192.bl.test",
                        "2.2.0.192.bl.test", "3.2.0.192.bl.test"})
    refusing->set_failure(n, dns::Rcode::kRefused);
  resolver_.current = refusing.get();
  auto r = m.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->listed.empty());
  ASSERT_FALSE(r->problems.empty());
  EXPECT_NE(r->problems[0].find("list bl: query refused"), std::string::npos) << r->problems[0];
  for (const auto& s : m.states())
    EXPECT_TRUE(s.healthy) << s.ip;
  auto alerts = store_->alerts(10);
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].event, "list_problem");
  // Spamhaus-style refusal code on one IP's query while the test points are fine.
  auto coded = zone({{"192.0.2.1", "127.255.255.254"}});
  resolver_.current = coded.get();
  r = m.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->listed.empty());
  EXPECT_TRUE(m.state_of("192.0.2.1")->healthy);
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_NE(r->problems[0].find("public/open resolver"), std::string::npos) << r->problems[0];
}

TEST_F(MonitorTest, RewritingResolverIsReportedNotReadAsListing) {
  auto m = make();
  auto rewriting = zone();
  rewriting->add("1.2.0.192.bl.test", dns::RType::kA, "198.51.100.7");  // NXDOMAIN redirection
  resolver_.current = rewriting.get();
  auto r = m.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->listed.empty());
  EXPECT_TRUE(m.state_of("192.0.2.1")->healthy);
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_NE(r->problems[0].find("outside 127.0.0.0/8"), std::string::npos) << r->problems[0];
  // A rewritten test point (1.0.0.127 answered outside 127/8) distrusts the whole list.
  auto everything = zone({{"192.0.2.1", "127.0.0.2"}});
  everything->add("1.0.0.127.bl.test", dns::RType::kA, "198.51.100.7");
  resolver_.current = everything.get();
  r = m.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->listed.empty());
  EXPECT_TRUE(m.state_of("192.0.2.1")->healthy);
}

TEST_F(MonitorTest, UnmappedReturnCodeIsNotAListing) {
  options_.lists = *dnsbl::parse_lists("bl=bl.test:ip:1:127.0.0.2=SBL");
  auto m = make();
  auto pbl = zone({{"192.0.2.1", "127.0.0.10"}});
  resolver_.current = pbl.get();
  auto r = m.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->listed.empty());
  EXPECT_TRUE(m.state_of("192.0.2.1")->healthy);
  auto sbl = zone({{"192.0.2.1", "127.0.0.2"}});
  resolver_.current = sbl.get();
  ASSERT_TRUE(m.run_round().ok());
  ASSERT_EQ(m.state_of("192.0.2.1")->listed.size(), 1u);
  EXPECT_EQ(m.state_of("192.0.2.1")->listed[0].name, "SBL");
}

TEST_F(MonitorTest, PoolIsUnhealthyWhenAnyOfItsIpsIsListed) {
  auto listed = zone({{"192.0.2.3", "127.0.0.2"}});  // second IP of pool b
  resolver_.current = listed.get();
  auto m = make();
  ASSERT_TRUE(m.run_round().ok());
  EXPECT_TRUE(m.pools()[0].healthy);
  EXPECT_FALSE(m.pools()[1].healthy);
  EXPECT_EQ(m.pools()[1].listed_ips, std::vector<std::string>{"192.0.2.3"});
  EXPECT_EQ(m.choose().transport, "smtp_a");
}

// One steering record per change of answer: clean (pool a), listed (pool b), still listed (no
// record), every pool listed (fallback).
TEST_F(MonitorTest, SteeringHistoryRecordsEachChangeOnce) {
  auto m = make();
  const int64_t t0 = now_;
  ASSERT_TRUE(m.run_round().ok());
  auto listed = zone({{"192.0.2.1", "127.0.0.2"}});
  resolver_.current = listed.get();
  now_ += 60000;
  const int64_t t1 = now_;
  ASSERT_TRUE(m.run_round().ok());
  now_ += 60000;
  ASSERT_TRUE(m.run_round().ok());
  auto all = zone({{"192.0.2.1", "127.0.0.2"}, {"192.0.2.2", "127.0.0.3"}});
  resolver_.current = all.get();
  now_ += 60000;
  const int64_t t3 = now_;
  ASSERT_TRUE(m.run_round().ok());
  EXPECT_FALSE(store_->steering_at(t0 - 1)->has_value());
  EXPECT_EQ(**store_->steering_at(t0), (SteeringRecord{t0, "a", "smtp_a", false}));
  EXPECT_EQ(**store_->steering_at(t3 - 1), (SteeringRecord{t1, "b", "smtp_b", false}));
  EXPECT_EQ(**store_->steering_at(t3), (SteeringRecord{t3, "", "smtp_default", true}));
  // A restarted monitor continues the history instead of repeating the last record.
  auto again = make();
  now_ += 60000;
  ASSERT_TRUE(again.run_round().ok());
  EXPECT_EQ((*store_->steering_at(now_))->at_ms, t3);
}

TEST_F(MonitorTest, AllPoolsUnhealthyAnswersDefaultAndSaysSoLoudly) {
  auto listed = zone({{"192.0.2.1", "127.0.0.2"}, {"192.0.2.2", "127.0.0.3"}});
  resolver_.current = listed.get();
  auto m = make();
  auto r = m.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->all_unhealthy);
  auto c = m.choose();
  EXPECT_TRUE(c.fallback);
  EXPECT_EQ(c.transport, "smtp_default");
  EXPECT_EQ(m.map_reply("outbound_pool bob@example.test"),
            sm::reply(sm::Status::kOk, "smtp_default"));
  EXPECT_TRUE(log_.has("error", "event=ipwatch_all_pools_unhealthy"));
  EXPECT_TRUE(log_.has("error", "event=ipwatch_no_healthy_pool"));
  ASSERT_TRUE(m.run_round().ok());  // still all unhealthy: alerted once
  size_t n = 0;
  auto alerts = store_->alerts(50);
  ASSERT_TRUE(alerts.ok());
  for (const auto& a : *alerts)
    n += a.event == "all_pools_unhealthy";
  EXPECT_EQ(n, 1u);
  // Without a default transport the table answers NOTFOUND (Postfix's default_transport).
  options_.default_transport.clear();
  auto m2 = make();
  ASSERT_TRUE(m2.load().ok());
  EXPECT_EQ(m2.map_reply("outbound_pool bob@example.test"), sm::reply(sm::Status::kNotFound, ""));
  // One pool delisted: healthy again, alerted.
  auto half = zone({{"192.0.2.1", "127.0.0.2"}});
  resolver_.current = half.get();
  ASSERT_TRUE(m.run_round().ok());
  EXPECT_EQ(m.choose().transport, "smtp_b");
  EXPECT_TRUE(log_.has("info", "event=ipwatch_pool_healthy"));
}

TEST_F(MonitorTest, MapRepliesPermForOtherNamesAndMalformed) {
  auto m = make();
  EXPECT_EQ(m.map_reply("other alice@x").substr(0, 8),
            sm::encode("PERM unknown map name (this server answers outbound_pool)").substr(0, 8));
  EXPECT_NE(m.map_reply("other alice@x").find("PERM unknown map name"), std::string::npos);
  EXPECT_NE(m.map_reply("nospace").find("PERM malformed"), std::string::npos);
}

TEST_F(MonitorTest, UpdateDelistingRefusesUnknownIps) {
  auto r =
      update_delisting(*store_, options_, "198.51.100.1", RequestState::kRequested, "", "x", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kPermanent);
  EXPECT_FALSE(
      update_delisting(*store_, options_, "192.0.2.1", std::nullopt, "two\nlines", "x", 1).ok());
}

// ---------------------------------------------------------------- socketmap server
TEST(MapServer, AnswersNetstringsOverTcp) {
  boost::asio::io_context io;
  MapServerOptions o;
  o.listen = "inet:127.0.0.1:0";
  o.reply = [](std::string_view p) {
    return sm::reply(sm::Status::kOk, std::string("got ") + std::string(p));
  };
  auto server = MapServer::start(io, o);
  ASSERT_TRUE(server.ok()) << server.error().describe();
  const uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);
  std::thread t([&io] { io.run(); });
  auto talk = [&](const std::string& send, size_t want) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    // Sent in two pieces: the server must reassemble.
    const size_t half = send.size() / 2;
    EXPECT_EQ(write(fd, send.data(), half), static_cast<ssize_t>(half));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(write(fd, send.data() + half, send.size() - half),
              static_cast<ssize_t>(send.size() - half));
    std::string got;
    char buf[512];
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got.size() < want) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0)
        break;
      got.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return got;
  };
  const std::string expect =
      sm::reply(sm::Status::kOk, "got m a@b") + sm::reply(sm::Status::kOk, "got m @b");
  EXPECT_EQ(talk(sm::encode("m a@b") + sm::encode("m @b"), expect.size()), expect);
  EXPECT_EQ(talk("05:m a@b,", 1), "");  // malformed: closed without an answer
  (*server)->stop();
  io.stop();
  t.join();
}

TEST(MapServer, RejectsBadListen) {
  boost::asio::io_context io;
  MapServerOptions o;
  o.reply = [](std::string_view) { return std::string(); };
  for (const char* bad :
       {"", "127.0.0.1", "inet:host.example:10", "127.0.0.1:x", "127.0.0.1:70000"}) {
    o.listen = bad;
    auto s = MapServer::start(io, o);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().kind, ErrorKind::kConfig) << bad;
  }
}

// ---------------------------------------------------------------- HTTP API
TEST_F(MonitorTest, ApiNeedsAdminAndServesStateAndDelisting) {
  auto listed = zone({{"192.0.2.1", "127.0.0.2"}});
  resolver_.current = listed.get();
  auto m = make();
  ASSERT_TRUE(m.run_round().ok());
  IpwatchApi api(
      *store_, options_, [&m] { return m.choose(); },
      [](std::string_view key) -> Result<IpwatchApi::Access> {
        if (key == "admin-key")
          return IpwatchApi::Access::kAdmin;
        if (key == "reseller-key")
          return IpwatchApi::Access::kNotAdmin;
        if (key == "down")
          return Error::temporary("tenant store down");
        return IpwatchApi::Access::kUnknown;
      },
      [this] { return now_; }, nullptr);
  std::vector<std::pair<std::string, std::string>> q;
  auto call = [&](const char* method, const char* path, const char* auth, const char* body = "") {
    return api.handle({method, path, q, auth, body});
  };
  EXPECT_TRUE(api.handles("/api/v1/outbound-ips"));
  EXPECT_TRUE(api.handles("/api/v1/outbound-ips/192.0.2.1/history"));
  EXPECT_FALSE(api.handles("/api/v1/outbound-ipsx"));
  EXPECT_FALSE(api.handles("/api/v1/users"));
  EXPECT_EQ(call("GET", "/api/v1/outbound-ips", "").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/outbound-ips", "Bearer nope").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/outbound-ips", "Bearer reseller-key").status, 403);
  EXPECT_EQ(call("GET", "/api/v1/outbound-ips", "Bearer down").status, 503);
  auto all = call("GET", "/api/v1/outbound-ips", "Bearer admin-key");
  ASSERT_EQ(all.status, 200) << all.body;
  auto j = nlohmann::json::parse(all.body);
  EXPECT_EQ(j["answer"]["transport"], "smtp_b");
  EXPECT_EQ(j["pools"][0]["healthy"], false);
  EXPECT_EQ(j["ips"][0]["ip"], "192.0.2.1");
  EXPECT_EQ(j["ips"][0]["listed"][0]["list"], "bl");
  EXPECT_EQ(j["ips"][0]["delisting"]["state"], "none");
  EXPECT_EQ(call("GET", "/api/v1/outbound-ips/198.51.100.1", "Bearer admin-key").status, 404);
  auto one = call("GET", "/api/v1/outbound-ips/192.0.2.1", "Bearer admin-key");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(nlohmann::json::parse(one.body)["history"].size(), 1u);
  EXPECT_EQ(call("POST", "/api/v1/outbound-ips/192.0.2.1/delisting", "Bearer admin-key",
                 "{\"state\":\"maybe\"}")
                .status,
            400);
  EXPECT_EQ(
      call("POST", "/api/v1/outbound-ips/192.0.2.1/delisting", "Bearer admin-key", "[").status,
      400);
  EXPECT_EQ(
      call("POST", "/api/v1/outbound-ips/192.0.2.1/delisting", "Bearer admin-key", "{}").status,
      400);
  auto upd = call("POST", "/api/v1/outbound-ips/192.0.2.1/delisting", "Bearer admin-key",
                  "{\"state\":\"requested\",\"note\":\"via portal\",\"by\":\"kim\"}");
  ASSERT_EQ(upd.status, 200) << upd.body;
  auto d = nlohmann::json::parse(upd.body);
  EXPECT_EQ(d["state"], "requested");
  EXPECT_EQ(d["updated_by"], "kim");
  EXPECT_EQ((*store_->delisting("192.0.2.1"))->state, RequestState::kRequested);
  EXPECT_EQ(call("DELETE", "/api/v1/outbound-ips/192.0.2.1/delisting", "Bearer admin-key").status,
            405);
}

}  // namespace
}  // namespace mailsift::ipwatch
