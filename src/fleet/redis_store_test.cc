// The Redis store against a real redis-server started by the test: the store conformance suite
// unchanged, a primary + replica, and faults (server killed, server hung, restarted).
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "fleet/fleet.h"
#include "fleet/testing/servers.h"
#include "outbound/guard.h"
#include "outbound/testing/conformance.h"
#include "store/testing/conformance.h"

namespace mailsift::fleet {
namespace {

using store::Class;
using store::LearnOutcome;
using store::LearnRequest;
using store::Scope;
using store::TokenCounts;
using testing::RedisServer;

// One server for the whole binary (CTest runs this binary as one test).
RedisServer* g_redis = nullptr;
std::string g_skip_reason;

class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!RedisServer::available(&g_skip_reason))
      return;
    g_redis = new RedisServer();
    if (!g_redis->start()) {
      g_skip_reason = "";
      ADD_FAILURE() << "redis-server did not start: " << g_redis->reason();
      delete g_redis;
      g_redis = nullptr;
    }
  }
  void TearDown() override {
    delete g_redis;
    g_redis = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new RedisEnvironment);

// Each fresh store gets its own key prefix, derived from the test's temp dir.
std::string prefix_for(const std::string& dir) {
  return "t" + std::to_string(std::hash<std::string>{}(dir)) + ":ms:";
}

Result<std::unique_ptr<store::Store>> open_for(const std::string& dir) {
  if (!g_redis)
    return Error::temporary("no redis server: " + g_skip_reason);
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = prefix_for(dir);
  o.timeout_ms = 2000;
  return open_redis_store(o);
}

MAILSIFT_STORE_CONFORMANCE(Redis, (store::testing::BackendFactory{"redis", open_for, open_for}));

#define SKIP_WITHOUT_REDIS()                                     \
  do {                                                           \
    if (!RedisServer::available(&g_skip_reason))                 \
      GTEST_SKIP() << g_skip_reason;                             \
    ASSERT_NE(g_redis, nullptr) << "redis-server did not start"; \
  } while (0)

LearnRequest req(std::string digest, Class cls, std::vector<uint64_t> tokens) {
  return LearnRequest{Scope{store::Level::kDomain, "example.com"}, std::move(digest), cls,
                      std::move(tokens)};
}

TEST(RedisStore, BadAddressIsConfigError) {
  RedisOptions o;
  o.address = "nonsense";
  auto s = open_redis_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
  o.address = "127.0.0.1:99999";
  s = open_redis_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
}

TEST(RedisStore, UnreachableServerAtOpenIsTemporary) {
  RedisOptions o;
  o.address = "127.0.0.1:" + std::to_string(testing::free_port());
  o.timeout_ms = 200;
  auto s = open_redis_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kTemporary) << s.error().describe();
}

TEST(RedisStore, KeysCarryTheScope) {
  SKIP_WITHOUT_REDIS();
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = "keys-test:";
  auto s = open_redis_store(o);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  ASSERT_TRUE((*s)->learn(req("d1", Class::kSpam, {0x2a})).ok());
  EXPECT_EQ(g_redis->command("HGET keys-test:tok:{d:example.com} 000000000000002as"), "1");
  EXPECT_EQ(g_redis->command("HGET keys-test:tot:{d:example.com} s"), "1");
  EXPECT_EQ(g_redis->command("HGET keys-test:msg:{d:example.com} d1"), "s000000000000002a");
}

// The factory mailsiftd and mailsift use: store.backend picks the backend, redis.* configure it.
TEST(FleetFactory, StoreBackendFromConfig) {
  SKIP_WITHOUT_REDIS();
  Config config;
  ASSERT_TRUE(config.set("store.backend", "redis").ok());
  ASSERT_TRUE(config.set("redis.address", g_redis->address()).ok());
  ASSERT_TRUE(config.set("redis.prefix", "factory:").ok());
  ASSERT_TRUE(config.set("redis.timeout_ms", "300").ok());
  auto s = open_configured_store(config, "/nonexistent");
  ASSERT_TRUE(s.ok()) << s.error().describe();
  ASSERT_TRUE((*s)->learn(req("f1", Class::kHam, {9})).ok());
  EXPECT_EQ(g_redis->command("HGET factory:tot:{d:example.com} h"), "1");
  EXPECT_EQ(redis_options(config).timeout_ms, 300);

  ASSERT_TRUE(config.set("store.backend", "memory").ok());
  EXPECT_TRUE(open_configured_store(config, "/nonexistent").ok());
  for (const char* bad : {"cassandra"}) {
    ASSERT_TRUE(config.set("store.backend", bad).ok());
    auto r = open_configured_store(config, "/nonexistent");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig) << bad;
  }
}

// A second redis-server replicating the first: writes through the primary reach the replica,
// a store opened on the replica reads them, and a write there is refused as kTemporary.
TEST(RedisStore, PrimaryAndReplica) {
  SKIP_WITHOUT_REDIS();
  RedisServer replica;
  ASSERT_TRUE(replica.start(g_redis->port())) << replica.reason();
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = "repl:";
  auto primary_store = open_redis_store(o);
  ASSERT_TRUE(primary_store.ok()) << primary_store.error().describe();
  ASSERT_EQ(*(*primary_store)->learn(req("m1", Class::kSpam, {1, 2})), LearnOutcome::kLearned);
  ASSERT_EQ(*(*primary_store)->learn(req("m2", Class::kHam, {2})), LearnOutcome::kLearned);
  auto from_primary =
      (*primary_store)->token_counts(req("", Class::kHam, {}).scope, std::vector<uint64_t>{1, 2});
  ASSERT_TRUE(from_primary.ok());
  EXPECT_EQ(*from_primary, (std::vector<TokenCounts>{{0, 1}, {1, 1}}));
  // Wait for the replica to catch up (initial sync, then the stream).
  bool synced = false;
  for (int i = 0; i < 500 && !synced; ++i) {
    synced = replica.command("HGET repl:tot:{d:example.com} h") == "1";
    if (!synced)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(synced) << "replica never received the writes";
  o.address = replica.address();
  auto replica_store = open_redis_store(o);
  ASSERT_TRUE(replica_store.ok()) << replica_store.error().describe();
  auto from_replica =
      (*replica_store)->token_counts(req("", Class::kHam, {}).scope, std::vector<uint64_t>{1, 2});
  ASSERT_TRUE(from_replica.ok()) << from_replica.error().describe();
  EXPECT_EQ(*from_replica, *from_primary);
  auto t = (*replica_store)->totals(req("", Class::kHam, {}).scope);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (store::ClassTotals{1, 1}));
  // Writes on a replica are refused (READONLY): kTemporary, nothing changes.
  auto w = (*replica_store)->learn(req("m3", Class::kSpam, {3}));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kTemporary) << w.error().describe();
}

// Every call made while the server is down or hung returns kTemporary within the timeout (plus
// margin); nothing crashes; after a restart the same store object works again.
struct Timed {
  bool ok;
  ErrorKind kind;
  std::chrono::milliseconds took;
};

Timed timed_learn(store::Store& s, const std::string& digest) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = s.learn(req(digest, Class::kSpam, {7, 8}));
  auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return {r.ok(), r.ok() ? ErrorKind::kPermanent : r.error().kind, took};
}

Timed timed_read(store::Store& s) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = s.token_counts(req("", Class::kHam, {}).scope, std::vector<uint64_t>{7, 8});
  auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return {r.ok(), r.ok() ? ErrorKind::kPermanent : r.error().kind, took};
}

TEST(RedisFaults, KilledHungAndRestartedServer) {
  SKIP_WITHOUT_REDIS();
  RedisServer server;  // our own: this test kills it
  ASSERT_TRUE(server.start()) << server.reason();
  constexpr int kTimeoutMs = 250;
  // Timeout + connect timeout (a call may reconnect first) + scheduling slack on a loaded box.
  constexpr auto kBound = std::chrono::milliseconds(2 * kTimeoutMs + 400);
  RedisOptions o;
  o.address = server.address();
  o.timeout_ms = kTimeoutMs;
  o.pool_size = 2;
  auto opened = open_redis_store(o);
  ASSERT_TRUE(opened.ok()) << opened.error().describe();
  store::Store& s = **opened;
  ASSERT_TRUE(timed_learn(s, "before").ok);

  // Traffic from several threads while the server dies.
  std::atomic<bool> stop{false};
  std::atomic<int> ok_calls{0}, temp_calls{0}, other_errors{0};
  std::atomic<int64_t> worst_ms{0};
  std::vector<std::thread> traffic;
  for (int t = 0; t < 3; ++t) {
    traffic.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        Timed r = (i % 2) ? timed_read(s) : timed_learn(s, "t" + std::to_string(t * 100000 + i));
        (r.ok ? ok_calls : r.kind == ErrorKind::kTemporary ? temp_calls : other_errors)++;
        int64_t ms = r.took.count();
        int64_t prev = worst_ms.load();
        while (ms > prev && !worst_ms.compare_exchange_weak(prev, ms)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server.kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  stop = true;
  for (auto& th : traffic)
    th.join();
  EXPECT_GT(ok_calls.load(), 0);
  EXPECT_GT(temp_calls.load(), 0);
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_LE(worst_ms.load(), kBound.count());
  std::printf("[redis killed] ok=%d temporary=%d worst call=%lld ms (bound %lld ms)\n",
              ok_calls.load(), temp_calls.load(), static_cast<long long>(worst_ms.load()),
              static_cast<long long>(kBound.count()));

  // Down: every call kTemporary, fast (connection refused).
  Timed down = timed_read(s);
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.kind, ErrorKind::kTemporary);
  EXPECT_LE(down.took, kBound);

  // Restart: the same store reconnects.
  ASSERT_TRUE(server.restart()) << server.reason();
  Timed up = timed_learn(s, "after-restart");
  EXPECT_TRUE(up.ok);
  auto c = s.token_counts(req("", Class::kHam, {}).scope, std::vector<uint64_t>{7});
  ASSERT_TRUE(c.ok()) << c.error().describe();
  EXPECT_EQ((*c)[0], (TokenCounts{0, 1}));  // no persistence (--save ''): only the new learn

  // Hung (SIGSTOP): the connection is open but nothing answers; the command timeout bounds it.
  server.pause();
  for (int i = 0; i < 3; ++i) {
    Timed hung = i % 2 ? timed_read(s) : timed_learn(s, "hung" + std::to_string(i));
    EXPECT_FALSE(hung.ok);
    EXPECT_EQ(hung.kind, ErrorKind::kTemporary);
    EXPECT_GE(hung.took.count(), kTimeoutMs - 20);
    EXPECT_LE(hung.took, kBound);
    std::printf("[redis hung] call %d: temporary after %lld ms (timeout %d ms)\n", i,
                static_cast<long long>(hung.took.count()), kTimeoutMs);
  }
  server.resume();
  Timed again = timed_read(s);
  EXPECT_TRUE(again.ok);
}

}  // namespace
}  // namespace mailsift::fleet

// ---- the outbound counters on Redis (open_redis_outbound_store) -----------------------------

namespace mailsift::fleet {
namespace {

Result<std::unique_ptr<outbound::OutboundStore>> open_outbound_for(const std::string& dir) {
  if (!g_redis)
    return Error::temporary("no redis server: " + g_skip_reason);
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = prefix_for(dir);
  o.timeout_ms = 2000;
  return open_redis_outbound_store(o);
}

TEST(RedisOutbound, KeysCarryTheScopeAndWindowsExpire) {
  SKIP_WITHOUT_REDIS();
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = "ttl:";
  auto s = open_redis_outbound_store(o);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  const int64_t now = 1'700'000'000'000;
  ASSERT_TRUE((*s)->add_count("msg1m:user:a@x", 100, 2, 41).ok());
  ASSERT_TRUE(*(*s)->touch_member("rcpt1d:user:a@x", "b@y", now, now - 86'400'000));
  ASSERT_TRUE((*s)->put_value("ewma:user:a@x", "1 2").ok());
  EXPECT_EQ(g_redis->command("HGET ttl:ob:c:{msg1m:user:a@x} 100"), "2");
  EXPECT_EQ(g_redis->command("ZSCORE ttl:ob:s:{rcpt1d:user:a@x} b@y"), std::to_string(now));
  EXPECT_EQ(g_redis->command("GET ttl:ob:v:{ewma:user:a@x}"), "1 2");
  // Counters expire a week after their last write; a set one window (+1 h) after its last touch;
  // values never.
  const long counter_ttl = std::stol(g_redis->command("PTTL ttl:ob:c:{msg1m:user:a@x}"));
  EXPECT_GT(counter_ttl, 7LL * 86'400'000 - 60'000);
  EXPECT_LE(counter_ttl, 7LL * 86'400'000);
  const long set_ttl = std::stol(g_redis->command("PTTL ttl:ob:s:{rcpt1d:user:a@x}"));
  EXPECT_GT(set_ttl, 86'400'000 + 3'600'000 - 60'000);
  EXPECT_LE(set_ttl, 86'400'000 + 3'600'000);
  EXPECT_EQ(g_redis->command("PTTL ttl:ob:v:{ewma:user:a@x}"), "-1");
}

// Two Guards (two nodes) on one Redis: the user's hourly limit counts messages from both.
TEST(RedisOutbound, LimitCountsAcrossTwoGuards) {
  SKIP_WITHOUT_REDIS();
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = "twoguards:";
  auto sa = open_redis_outbound_store(o);
  auto sb = open_redis_outbound_store(o);
  ASSERT_TRUE(sa.ok() && sb.ok());
  outbound::GuardConfig gc;
  gc.user.messages_per_hour = 3;
  gc.detect.enabled = false;
  const int64_t now = 1'700'000'000'000;
  outbound::Guard a(**sa, gc, [&] { return now; });
  outbound::Guard b(**sb, gc, [&] { return now; });
  std::vector<outbound::Verdict> got;
  for (int i = 0; i < 5; ++i) {
    outbound::Guard& g = i % 2 ? b : a;
    auto out = g.check_rcpt({outbound::Identity::from("u@example.com"), "inst" + std::to_string(i),
                             "r@dest.example", "192.0.2.1", "ref"});
    ASSERT_TRUE(out.ok()) << out.error().describe();
    got.push_back(out->verdict);
  }
  using V = outbound::Verdict;
  EXPECT_EQ(got, (std::vector<V>{V::kAccept, V::kAccept, V::kAccept, V::kTempfail, V::kTempfail}));
}

// A server that is gone: every call is kTemporary (the Guard's caller tempfails), within the
// timeout; the same store works again after a restart.
TEST(RedisOutbound, ServerDownIsTemporaryThenRecovers) {
  if (!RedisServer::available(&g_skip_reason))
    GTEST_SKIP() << g_skip_reason;
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.reason();
  RedisOptions o;
  o.address = server.address();
  o.timeout_ms = 250;
  auto s = open_redis_outbound_store(o);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  ASSERT_TRUE((*s)->add_count("msg1m:user:a@x", 1, 1, 0).ok());
  outbound::GuardConfig gc;
  gc.detect.enabled = false;
  outbound::Guard guard(**s, gc);
  server.kill();
  auto c = (*s)->add_count("msg1m:user:a@x", 1, 1, 0);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::kTemporary);
  auto sum = (*s)->sum_counts("msg1m:user:a@x", 0, 10);
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.error().kind, ErrorKind::kTemporary);
  auto g = guard.check_rcpt({outbound::Identity::from("a@x"), "i1", "r@y", "", "ref"});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().kind, ErrorKind::kTemporary);
  ASSERT_TRUE(server.restart()) << server.reason();
  auto again = (*s)->add_count("msg1m:user:a@x", 2, 1, 0);
  EXPECT_TRUE(again.ok()) << again.error().describe();
}

}  // namespace
// Store::prefetch (bench/fleet): one round trip fetches what a recipient's checks read; the calls
// then answer from it with the same values and no command, and a write drops the snapshot.
TEST(RedisStore, PrefetchAnswersTheScanReadsFromOneRoundTrip) {
  SKIP_WITHOUT_REDIS();
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = "prefetch-test:";
  auto opened = open_redis_store(o);
  ASSERT_TRUE(opened.ok()) << opened.error().describe();
  store::Store& s = **opened;
  const Scope dom{store::Level::kDomain, "example.com"};
  const Scope user{store::Level::kUser, "bob@example.com"};
  std::vector<uint64_t> tokens;
  for (uint64_t t = 1; t <= 700; ++t)
    tokens.push_back(t * 7919);  // two HMGET chunks
  ASSERT_TRUE(s.learn({dom, "d1", Class::kSpam, {tokens.begin(), tokens.begin() + 600}}).ok());
  ASSERT_TRUE(s.learn({user, "d2", Class::kHam, {tokens[5], tokens[650]}}).ok());
  ASSERT_TRUE(s.fuzzy_add(user, {"d2", Class::kHam, {11, 12, 13}, {1, 2, 3}, "alice", 5}).ok());
  const std::vector<Scope> chain{Scope::global(), dom, user};
  const std::vector<uint64_t> bands{13, 99, 11};

  // Without prefetch: the reference answers.
  std::vector<store::ClassTotals> totals;
  std::vector<std::vector<TokenCounts>> counts;
  std::vector<std::vector<store::FuzzyRecord>> cands;
  for (const Scope& sc : chain) {
    totals.push_back(s.totals(sc).value());
    counts.push_back(s.token_counts(sc, tokens).value());
    cands.push_back(s.fuzzy_candidates(sc, bands, 64).value());
  }
  ASSERT_EQ(counts[1][599], (TokenCounts{0, 1}));
  ASSERT_EQ(cands[2].size(), 1u);

  auto commands = [] {
    std::string info = g_redis->command("INFO stats");
    auto at = info.find("total_commands_processed:");
    return std::stoll(info.substr(at + 25));
  };
  s.prefetch(chain, tokens, bands);
  const long long before = commands();
  for (size_t i = 0; i < chain.size(); ++i) {
    EXPECT_EQ(s.totals(chain[i]).value(), totals[i]);
    EXPECT_EQ(s.token_counts(chain[i], tokens).value(), counts[i]);
    if (i < 2) {
      EXPECT_TRUE(s.fuzzy_candidates(chain[i], bands, 64).value().empty());
    }
  }
  // Only the INFO itself ran: every read above came from the prefetched snapshot.
  EXPECT_EQ(commands() - before, 1);
  // A band hit still reads the records (the second round trip), with the same result.
  auto hit = s.fuzzy_candidates(user, bands, 64).value();
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(hit[0].message_digest, "d2");
  // Other tokens than announced are fetched, not served from the snapshot.
  EXPECT_EQ(s.token_counts(dom, std::vector<uint64_t>{tokens[0]}).value()[0], (TokenCounts{0, 1}));
  // A write drops the snapshot: the next read sees it.
  ASSERT_TRUE(s.learn({dom, "d3", Class::kHam, {tokens[0]}}).ok());
  EXPECT_EQ(s.totals(dom).value(), (store::ClassTotals{1, 1}));
  s.end_prefetch();
  EXPECT_EQ(s.token_counts(dom, std::vector<uint64_t>{tokens[0]}).value()[0], (TokenCounts{1, 1}));

  // A scope seen empty is not asked for next time; once it has data (learned through another
  // store, e.g. another node) the snapshot does not answer for it and the call fetches.
  const Scope carol{store::Level::kUser, "carol@example.com"};
  const std::vector<Scope> chain2{Scope::global(), carol};
  s.prefetch(chain2, tokens, bands);
  EXPECT_EQ(s.token_counts(carol, tokens).value()[0], (TokenCounts{}));
  s.end_prefetch();
  auto other = open_redis_store(o);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->learn({carol, "c1", Class::kSpam, {tokens[0]}}).ok());
  ASSERT_TRUE((*other)->fuzzy_add(carol, {"c1", Class::kSpam, {13}, {1, 2, 3}, "", 5}).ok());
  s.prefetch(chain2, tokens, bands);
  EXPECT_EQ(s.totals(carol).value(), (store::ClassTotals{0, 1}));
  EXPECT_EQ(s.token_counts(carol, tokens).value()[0], (TokenCounts{0, 1}));
  EXPECT_EQ(s.fuzzy_candidates(carol, bands, 64).value().size(), 1u);
  s.end_prefetch();
}

}  // namespace mailsift::fleet

MAILSIFT_OUTBOUND_CONFORMANCE(Redis, (mailsift::outbound::testing::BackendFactory{
                                         "redis", mailsift::fleet::open_outbound_for,
                                         mailsift::fleet::open_outbound_for}));
