// The Redis store against a real redis-server started by the test: the store conformance suite
// unchanged, a primary + replica, and faults (server killed, server hung, restarted).
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "fleet/fleet.h"
#include "fleet/redis_mirror.h"
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
  o.mirror_scopes.clear();  // the un-mirrored path (the mirror has its own tests below)
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

namespace {

// ---- local mirror of large scopes (redis_mirror.h, docs/fleet.md) ---------------------------

// Stream entries carry absolute values: a field the hash scan already saw at its new value, or
// an entry applied twice, leaves the mirror unchanged. (With deltas, both would count twice.)
TEST(ScopeMirror, EntriesAreAbsoluteSoApplyingTwiceChangesNothing) {
  redis::ScopeMirror m;
  ASSERT_TRUE(m.load_token_field("00000000000000aas", "2"));  // the scan saw the learn already
  m.set_total('s', 2);
  redis::StreamEntry learn{{5, 0},
                           {{"o", "t"},
                            {"c", "s"},
                            {"k", "00000000000000aa00000000000000bb"},
                            {"v", "2,1"},
                            {"n", "2"}}};
  ASSERT_TRUE(m.apply(learn));
  ASSERT_TRUE(m.apply(learn));
  const std::vector<uint64_t> toks{0xaa, 0xbb, 0xcc};
  std::vector<TokenCounts> out(3);
  m.lookup(toks, out.data());
  EXPECT_EQ(out, (std::vector<TokenCounts>{{0, 2}, {0, 1}, {0, 0}}));
  EXPECT_EQ(m.totals(), (store::ClassTotals{0, 2}));
  EXPECT_EQ(m.token_fields(), 2u);
  // A count that reached zero.
  ASSERT_TRUE(m.apply(
      {{6, 0}, {{"o", "t"}, {"c", "s"}, {"k", "00000000000000bb"}, {"v", "0"}, {"n", "1"}}}));
  m.lookup(toks, out.data());
  EXPECT_EQ(out[1], (TokenCounts{}));
  EXPECT_EQ(m.token_fields(), 1u);
  // Records: a put twice is one record; a remove twice is a no-op.
  const store::FuzzyRecord rec{"dig", Class::kSpam, {7, 8}, {1, 2}, "alice", 5};
  redis::StreamEntry put{{7, 0},
                         {{"o", "a"}, {"i", "3:digalice"}, {"r", redis::encode_fuzzy_record(rec)}}};
  ASSERT_TRUE(m.apply(put));
  ASSERT_TRUE(m.apply(put));
  std::map<std::string, int> shared;
  std::map<std::string, store::FuzzyRecord> recs;
  m.candidates(std::vector<uint64_t>{7, 8, 9}, shared, recs);
  EXPECT_EQ(shared, (std::map<std::string, int>{{"3:digalice", 2}}));
  ASSERT_EQ(recs.size(), 1u);
  redis::StreamEntry del{{8, 0}, {{"o", "r"}, {"i", "3:digalice"}}};
  ASSERT_TRUE(m.apply(del));
  ASSERT_TRUE(m.apply(del));
  shared.clear();
  recs.clear();
  m.candidates(std::vector<uint64_t>{7, 8, 9}, shared, recs);
  EXPECT_TRUE(shared.empty());
  EXPECT_EQ(m.record_count(), 0u);
  // Malformed / unknown entries are refused (the store then reloads).
  EXPECT_FALSE(m.apply({{9, 0}, {{"o", "t"}, {"c", "s"}, {"k", "00aa"}, {"v", "1"}, {"n", "1"}}}));
  EXPECT_FALSE(m.apply({{9, 1}, {{"o", "zz"}}}));
  redis::StreamId a, b;
  ASSERT_TRUE(redis::StreamId::parse("9-5", a));
  ASSERT_TRUE(redis::StreamId::parse("10-0", b));
  EXPECT_LT(a, b);  // numeric, not string order
}

namespace mirror {

const Scope kGlobal = Scope::global();

std::vector<uint64_t> toks(uint64_t base, size_t n) {
  std::vector<uint64_t> v;
  for (size_t i = 0; i < n; ++i)
    v.push_back(base * 1000003 + i * 7919);
  return v;
}

RedisOptions options(const std::string& prefix, std::vector<std::string> mirrored) {
  RedisOptions o;
  o.address = g_redis->address();
  o.prefix = prefix;
  o.timeout_ms = 5000;
  o.mirror_scopes = std::move(mirrored);
  return o;
}

// Prefetches until the mirror of `s` is loaded (the load runs in the background).
void wait_ready(store::Store& s, const std::vector<Scope>& chain,
                const std::vector<uint64_t>& tokens, const std::vector<uint64_t>& bands,
                uint64_t loads) {
  for (int i = 0; i < 500 && redis_mirror_stats(s).loads < loads; ++i) {
    s.prefetch(chain, tokens, bands);
    s.end_prefetch();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(redis_mirror_stats(s).loads, loads) << "mirror did not load";
}

// B (mirrored) after a prefetch answers exactly like C (no mirror, no prefetch: plain reads).
void expect_same(store::Store& b, store::Store& c, const std::vector<Scope>& chain,
                 const std::vector<uint64_t>& tokens, const std::vector<uint64_t>& bands,
                 const char* where) {
  SCOPED_TRACE(where);
  const uint64_t served = redis_mirror_stats(b).served;
  b.prefetch(chain, tokens, bands);
  for (const Scope& sc : chain) {
    EXPECT_EQ(b.totals(sc).value(), c.totals(sc).value());
    EXPECT_EQ(b.token_counts(sc, tokens).value(), c.token_counts(sc, tokens).value());
    auto fb = b.fuzzy_candidates(sc, bands, 64).value();
    auto fc = c.fuzzy_candidates(sc, bands, 64).value();
    ASSERT_EQ(fb.size(), fc.size());
    for (size_t i = 0; i < fb.size(); ++i) {
      EXPECT_EQ(fb[i].message_digest, fc[i].message_digest);
      EXPECT_EQ(fb[i].reporter, fc[i].reporter);
      EXPECT_EQ(fb[i].bands, fc[i].bands);
      EXPECT_EQ(fb[i].signature, fc[i].signature);
    }
  }
  b.end_prefetch();
  EXPECT_GT(redis_mirror_stats(b).served, served) << "not answered from the mirror";
}

long long commands() {
  std::string info = g_redis->command("INFO stats");
  auto at = info.find("total_commands_processed:");
  return std::stoll(info.substr(at + 25));
}

}  // namespace mirror

// Two nodes on one Redis: B mirrors the global scope; A learns, unlearns, relearns, adds and
// removes fingerprints; B's next prefetch (one XRANGE for the scope) answers like a plain read.
TEST(RedisMirror, SeesAnotherNodesWritesOnTheNextPrefetch) {
  SKIP_WITHOUT_REDIS();
  using namespace mirror;
  auto a = open_redis_store(options("mirror-two:", {}));
  auto b = open_redis_store(options("mirror-two:", {"g:"}));
  auto c = open_redis_store(options("mirror-two:", {}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const Scope dom{store::Level::kDomain, "example.com"};
  const std::vector<Scope> chain{kGlobal, dom};
  std::vector<uint64_t> tokens = toks(1, 600);
  const std::vector<uint64_t> bands{11, 12, 13, 99};
  for (int i = 0; i < 20; ++i) {
    auto t = toks(static_cast<uint64_t>(i % 3 + 1), 100 + static_cast<size_t>(i) * 20);
    ASSERT_TRUE(
        (*a)->learn({kGlobal, "pre" + std::to_string(i), i % 2 ? Class::kHam : Class::kSpam, t})
            .ok());
  }
  ASSERT_TRUE((*a)->fuzzy_add(kGlobal, {"f1", Class::kSpam, {11, 12}, {1, 2}, "alice", 5}).ok());
  ASSERT_TRUE((*a)->learn({dom, "d1", Class::kSpam, {tokens[0], tokens[1]}}).ok());
  wait_ready(**b, chain, tokens, bands, 1);
  expect_same(**b, **c, chain, tokens, bands, "after the load");

  // One command per prefetch for the mirrored global scope alone (the XRANGE).
  (*b)->prefetch(std::vector<Scope>{kGlobal}, tokens, bands);
  (*b)->end_prefetch();
  const long long before = commands();
  (*b)->prefetch(std::vector<Scope>{kGlobal}, tokens, bands);
  EXPECT_EQ(commands() - before, 2);  // the XRANGE and the INFO
  EXPECT_EQ((*b)->fuzzy_candidates(kGlobal, bands, 64).value().size(), 1u);
  EXPECT_EQ(commands() - before, 3);  // the record came from the mirror: no HMGET
  (*b)->end_prefetch();

  const uint64_t applied = redis_mirror_stats(**b).entries_applied;
  ASSERT_EQ((*a)->learn({kGlobal, "n1", Class::kSpam, toks(1, 50)}).value(),
            LearnOutcome::kLearned);
  expect_same(**b, **c, chain, tokens, bands, "learn");
  ASSERT_EQ((*a)->learn({kGlobal, "n1", Class::kHam, toks(1, 50)}).value(),
            LearnOutcome::kRelearned);
  expect_same(**b, **c, chain, tokens, bands, "relearn");
  ASSERT_EQ((*a)->unlearn(kGlobal, "pre0", Class::kSpam).value(), LearnOutcome::kUnlearned);
  ASSERT_EQ((*a)->unlearn(kGlobal, "pre2", Class::kSpam).value(), LearnOutcome::kUnlearned);
  expect_same(**b, **c, chain, tokens, bands, "unlearn");
  ASSERT_TRUE((*a)->fuzzy_add(kGlobal, {"f2", Class::kHam, {12, 13}, {3, 4}, "bob", 6}).ok());
  ASSERT_TRUE((*a)->fuzzy_add(kGlobal, {"f2", Class::kHam, {13, 99}, {3, 5}, "bob", 7}).ok());
  expect_same(**b, **c, chain, tokens, bands, "fuzzy add and replace");
  ASSERT_TRUE((*a)->fuzzy_remove(kGlobal, "f1").ok());
  expect_same(**b, **c, chain, tokens, bands, "fuzzy remove");
  EXPECT_GE(redis_mirror_stats(**b).entries_applied - applied, 7u);
  // B's own write reaches its mirror through the stream too.
  ASSERT_TRUE((*b)->learn({kGlobal, "b1", Class::kSpam, toks(2, 30)}).ok());
  expect_same(**b, **c, chain, tokens, bands, "own write");
  // Repeated prefetches with nothing new change nothing.
  expect_same(**b, **c, chain, tokens, bands, "again");
  const auto st = redis_mirror_stats(**b);
  EXPECT_EQ(st.loads, 1u);
  EXPECT_EQ(st.reloads, 0u);
  EXPECT_EQ(st.scopes_ready, 1u);
  EXPECT_GT(st.token_fields, 0u);
  EXPECT_EQ(st.records, 1u);
}

// The stream trimmed past B's position, or deleted: B drops its mirror, reloads (counted), and
// answers the same as a plain read; a stale mirror is never used meanwhile.
TEST(RedisMirror, TrimmedOrMissingStreamReloads) {
  SKIP_WITHOUT_REDIS();
  using namespace mirror;
  auto a = open_redis_store(options("mirror-trim:", {}));
  auto b = open_redis_store(options("mirror-trim:", {"g:"}));
  auto c = open_redis_store(options("mirror-trim:", {}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::vector<Scope> chain{kGlobal};
  const std::vector<uint64_t> tokens = toks(4, 300);
  const std::vector<uint64_t> bands{21, 22};
  ASSERT_TRUE((*a)->learn({kGlobal, "t0", Class::kSpam, toks(4, 100)}).ok());
  wait_ready(**b, chain, tokens, bands, 1);
  for (int i = 1; i <= 5; ++i)
    ASSERT_TRUE((*a)->learn({kGlobal, "t" + std::to_string(i), Class::kHam, toks(4, 300)}).ok());
  ASSERT_TRUE((*a)->fuzzy_add(kGlobal, {"f", Class::kSpam, {21}, {1}, "", 5}).ok());
  // Exact trim to the newest entry: B's position is gone.
  g_redis->command("XTRIM mirror-trim:chg:{g:} MAXLEN 1");
  // The next prefetch detects it: not served from the stale mirror, read from Redis instead.
  (*b)->prefetch(chain, tokens, bands);
  EXPECT_EQ((*b)->totals(kGlobal).value(), (*c)->totals(kGlobal).value());
  EXPECT_EQ((*b)->token_counts(kGlobal, tokens).value(),
            (*c)->token_counts(kGlobal, tokens).value());
  (*b)->end_prefetch();
  EXPECT_EQ(redis_mirror_stats(**b).reloads, 1u);
  wait_ready(**b, chain, tokens, bands, 2);
  expect_same(**b, **c, chain, tokens, bands, "after the trim reload");
  ASSERT_TRUE((*a)->unlearn(kGlobal, "t1", Class::kHam).ok());
  expect_same(**b, **c, chain, tokens, bands, "after the trim reload, then a write");

  // The stream deleted (e.g. a restart without persistence): same.
  g_redis->command("DEL mirror-trim:chg:{g:}");
  ASSERT_TRUE((*a)->unlearn(kGlobal, "t2", Class::kHam).ok());  // not logged: no stream
  (*b)->prefetch(chain, tokens, bands);
  EXPECT_EQ((*b)->totals(kGlobal).value(), (*c)->totals(kGlobal).value());
  (*b)->end_prefetch();
  EXPECT_EQ(redis_mirror_stats(**b).reloads, 2u);
  wait_ready(**b, chain, tokens, bands, 3);
  expect_same(**b, **c, chain, tokens, bands, "after the stream was deleted");
}

// Writes racing the load: the hash scan sees some of them AND the replay applies them (that is
// the point of the ordering); with deltas in the stream those would count twice. Also several
// threads applying the same entries concurrently.
TEST(RedisMirror, LoadRacingWritesCountsEachWriteOnce) {
  SKIP_WITHOUT_REDIS();
  using namespace mirror;
  auto a = open_redis_store(options("mirror-race:", {}));
  auto b = open_redis_store(options("mirror-race:", {"g:"}));
  auto c = open_redis_store(options("mirror-race:", {}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::vector<Scope> chain{kGlobal};
  // A big scope (~60k token fields) so the scan takes many HSCAN round trips.
  std::vector<LearnRequest> batch;
  for (int i = 0; i < 300; ++i)
    batch.push_back({kGlobal, "big" + std::to_string(i), Class::kSpam,
                     toks(static_cast<uint64_t>(100 + i), 200)});
  ASSERT_TRUE((*a)->learn_batch(batch).ok());
  // The tokens every racing write touches (all already in the hash): a double count shows.
  const std::vector<uint64_t> hot = toks(100, 200);
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 400; ++i) {
      ASSERT_TRUE((*a)->learn({kGlobal, "race" + std::to_string(i),
                               i % 2 ? Class::kHam : Class::kSpam, hot})
                      .ok());
      if (i % 3 == 0)
        ASSERT_TRUE((*a)->unlearn(kGlobal, "race" + std::to_string(i - 1), Class::kHam).ok());
      ++writes;
    }
  });
  // Start the load while the writer runs.
  while (writes < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  wait_ready(**b, chain, hot, {}, 1);
  // Several threads prefetching (and applying the same new entries) while writes go on.
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        (*b)->prefetch(chain, hot, {});
        (*b)->end_prefetch();
      }
    });
  for (auto& t : readers)
    t.join();
  stop = true;
  writer.join();
  EXPECT_GT(writes.load(), 5);
  expect_same(**b, **c, chain, hot, {}, "after racing writes");
  expect_same(**b, **c, chain, toks(250, 200), {}, "an untouched part of the scope");
  EXPECT_EQ(redis_mirror_stats(**b).reloads, 0u);
}

// A mirror is used only right after the XRANGE that proved it current: with the server down
// the prefetch fails and the reads fail (kTemporary, which mailsiftd's fault wrapper turns into
// the degraded "nothing learned" answer), never a silent answer from a stale mirror.
TEST(RedisMirror, ServerDownIsNotAnsweredFromTheMirror) {
  SKIP_WITHOUT_REDIS();
  using namespace mirror;
  RedisServer own;
  ASSERT_TRUE(own.start()) << own.reason();
  RedisOptions o = options("mirror-down:", {"g:"});
  o.address = own.address();
  o.timeout_ms = 300;
  auto b = open_redis_store(o);
  ASSERT_TRUE(b.ok());
  const std::vector<Scope> chain{kGlobal};
  const std::vector<uint64_t> tokens = toks(7, 50);
  ASSERT_TRUE((*b)->learn({kGlobal, "x", Class::kSpam, tokens}).ok());
  wait_ready(**b, chain, tokens, {}, 1);
  (*b)->prefetch(chain, tokens, {});
  EXPECT_EQ((*b)->totals(kGlobal).value(), (store::ClassTotals{0, 1}));
  (*b)->end_prefetch();
  own.stop();
  (*b)->prefetch(chain, tokens, {});
  auto t = (*b)->totals(kGlobal);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::kTemporary);
  EXPECT_FALSE((*b)->token_counts(kGlobal, tokens).ok());
  (*b)->end_prefetch();
}

}  // namespace

}  // namespace mailsift::fleet

MAILSIFT_OUTBOUND_CONFORMANCE(Redis, (mailsift::outbound::testing::BackendFactory{
                                         "redis", mailsift::fleet::open_outbound_for,
                                         mailsift::fleet::open_outbound_for}));
