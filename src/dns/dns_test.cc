// Tests of the DNS layer: the wire parser on hand-made packets (hermetic), the server-list parser,
// and CaresResolver against a real unbound on loopback (testing/unbound_server.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.h"
#include "dns/cares_resolver.h"
#include "dns/testing/unbound_server.h"
#include "dns/wire.h"

namespace mailsift::dns {
namespace {

using testing::UnboundServer;

// ---- wire parser ---------------------------------------------------------------------------

struct Packet {
  std::vector<uint8_t> b;
  void u16(uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void name(const std::string& n) {
    size_t i = 0;
    while (i < n.size()) {
      size_t dot = n.find('.', i);
      if (dot == std::string::npos)
        dot = n.size();
      b.push_back(static_cast<uint8_t>(dot - i));
      b.insert(b.end(), n.begin() + i, n.begin() + dot);
      i = dot + 1;
    }
    b.push_back(0);
  }
  // Header with QR set; counts filled by the caller.
  static Packet response(int rcode, uint16_t qd, uint16_t an, uint16_t ns) {
    Packet p;
    p.u16(0x1234);
    p.u16(static_cast<uint16_t>(0x8180 | rcode));
    p.u16(qd);
    p.u16(an);
    p.u16(ns);
    p.u16(0);
    return p;
  }
  void question(const std::string& n, uint16_t type) {
    name(n);
    u16(type);
    u16(1);
  }
  void rr(const std::string& owner, uint16_t type, uint32_t ttl, const std::vector<uint8_t>& rd) {
    name(owner);
    u16(type);
    u16(1);
    u32(ttl);
    u16(static_cast<uint16_t>(rd.size()));
    b.insert(b.end(), rd.begin(), rd.end());
  }
  ParsedResponse parse(const std::string& qname, RType type) const {
    return parse_response(b.data(), b.size(), Query{qname, type});
  }
};

std::vector<uint8_t> wire_name(const std::string& n) {
  Packet p;
  p.name(n);
  return p.b;
}

TEST(Wire, FollowsCnameChainAndTakesSmallestTtl) {
  auto p = Packet::response(0, 1, 3, 0);
  p.question("www.Example.test", 1);
  p.rr("www.example.test", 5, 600, wire_name("edge.example.test"));
  p.rr("edge.example.test", 1, 60, {192, 0, 2, 7});
  p.rr("other.example.test", 1, 5, {192, 0, 2, 99});  // unrelated owner: ignored
  auto r = p.parse("WWW.example.test.", RType::kA);
  EXPECT_EQ(r.answer.rcode, Rcode::kNoError);
  EXPECT_EQ(r.answer.records, std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(r.answer.ttl, 60u);

  auto c = p.parse("www.example.test", RType::kCNAME);
  EXPECT_EQ(c.answer.records, std::vector<std::string>{"edge.example.test"});
}

TEST(Wire, TxtCharacterStringsJoinedPerRecord) {
  auto p = Packet::response(0, 1, 2, 0);
  p.question("t.test", 16);
  p.rr("t.test", 16, 300, {3, 'a', 'b', 'c', 0, 2, 'd', 'e'});
  p.rr("t.test", 16, 300, {1, 'x'});
  auto r = p.parse("t.test", RType::kTXT);
  EXPECT_EQ(r.answer.records, (std::vector<std::string>{"abcde", "x"}));
}

TEST(Wire, MalformedPacketsAreFormErr) {
  auto p = Packet::response(0, 1, 1, 0);
  p.question("t.test", 16);
  p.rr("t.test", 16, 300, {9, 'a'});  // string longer than its RDATA
  EXPECT_EQ(p.parse("t.test", RType::kTXT).answer.rcode, Rcode::kFormErr);

  auto a = Packet::response(0, 1, 1, 0);
  a.question("a.test", 1);
  a.rr("a.test", 1, 300, {1, 2, 3});  // A with 3 octets
  EXPECT_EQ(a.parse("a.test", RType::kA).answer.rcode, Rcode::kFormErr);

  // A compression pointer pointing at itself.
  auto loop = Packet::response(0, 1, 0, 0);
  loop.b.push_back(0xc0);
  loop.b.push_back(12);
  loop.u16(1);
  loop.u16(1);
  EXPECT_EQ(loop.parse("a.test", RType::kA).answer.rcode, Rcode::kFormErr);

  auto cut = Packet::response(0, 1, 1, 0);
  cut.question("a.test", 1);
  cut.rr("a.test", 1, 300, {1, 2, 3, 4});
  cut.b.resize(cut.b.size() - 2);
  EXPECT_EQ(cut.parse("a.test", RType::kA).answer.rcode, Rcode::kFormErr);

  EXPECT_EQ(parse_response(nullptr, 0, Query{"a.test", RType::kA}).answer.rcode, Rcode::kFormErr);
}

TEST(Wire, NegativeTtlFromSoa) {
  auto p = Packet::response(3, 1, 0, 1);
  p.question("nx.test", 1);
  std::vector<uint8_t> soa = wire_name("ns.test");
  auto rname = wire_name("hostmaster.test");
  soa.insert(soa.end(), rname.begin(), rname.end());
  for (uint32_t v : {1u, 3600u, 600u, 86400u, 120u})  // serial refresh retry expire minimum
    for (int s = 24; s >= 0; s -= 8)
      soa.push_back(static_cast<uint8_t>(v >> s));
  p.rr("test", 6, 900, soa);
  auto r = p.parse("nx.test", RType::kA);
  EXPECT_EQ(r.answer.rcode, Rcode::kNxDomain);
  EXPECT_TRUE(r.answer.empty());
  EXPECT_TRUE(r.has_soa);
  EXPECT_EQ(r.negative_ttl, 120u);
}

TEST(Wire, RcodesAreTyped) {
  EXPECT_EQ(Packet::response(2, 0, 0, 0).parse("a.test", RType::kA).answer.rcode, Rcode::kServFail);
  EXPECT_EQ(Packet::response(5, 0, 0, 0).parse("a.test", RType::kA).answer.rcode, Rcode::kRefused);
  EXPECT_EQ(Packet::response(4, 0, 0, 0).parse("a.test", RType::kA).answer.rcode,
            Rcode::kServFail);  // NOTIMP
  auto nodata = Packet::response(0, 1, 0, 0);
  nodata.question("a.test", 28);
  auto r = nodata.parse("a.test", RType::kAAAA);
  EXPECT_EQ(r.answer.rcode, Rcode::kNoError);
  EXPECT_TRUE(r.answer.empty());
}

// ---- configuration -------------------------------------------------------------------------

TEST(ServerList, ParsesAddressesAndPorts) {
  auto s = parse_server_list("127.0.0.1:5353, 192.0.2.1 [::1]:53,2001:db8::1");
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(*s, (std::vector<std::string>{"127.0.0.1:5353", "192.0.2.1:53", "[::1]:53",
                                          "[2001:db8::1]:53"}));
  EXPECT_TRUE(parse_server_list("").ok());
  for (const char* bad : {"ns.example.com", "127.0.0.1:0", "127.0.0.1:99999", "[::1", "1.2.3"}) {
    auto r = parse_server_list(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
  }
}

TEST(ServerList, OptionsFromConfig) {
  Config config;
  ASSERT_TRUE(config.set("dns.servers", "127.0.0.1:5353").ok());
  ASSERT_TRUE(config.set("dns.timeout_ms", "250").ok());
  auto o = cares_options_from_config(config);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->servers, std::vector<std::string>{"127.0.0.1:5353"});
  EXPECT_EQ(o->timeout_ms, 250);
  EXPECT_EQ(o->tries, 2);
  ASSERT_TRUE(config.set("dns.servers", "resolver.example").ok());
  EXPECT_EQ(cares_options_from_config(config).error().kind, ErrorKind::kConfig);
}

// ---- CaresResolver against unbound ---------------------------------------------------------

const std::string kLongKey = "p=" + std::string(250, 'A') + std::string(80, 'B');

class CaresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new UnboundServer({
        "a.example.test. 300 IN A 192.0.2.10",
        "a.example.test. 300 IN A 192.0.2.11",
        "a.example.test. 300 IN AAAA 2001:db8::10",
        "example.test. 300 IN MX 20 mx2.example.test.",
        "example.test. 300 IN MX 10 MX1.Example.Test.",
        "example.test. 300 IN NS ns1.example.test.",
        "example.test. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
        "sel._domainkey.example.test. 300 IN TXT \"v=DKIM1; k=rsa; \" \"" +
            kLongKey.substr(0, 200) + "\" \"" + kLongKey.substr(200) + "\"",
        "alias.example.test. 300 IN CNAME a.example.test.",
        // > 512 octets: truncated over UDP, so c-ares retries over TCP.
        "big.example.test. 300 IN TXT \"" + std::string(250, 'x') + "\" \"" +
            std::string(250, 'y') + "\" \"" + std::string(250, 'z') + "\"",
        "short.example.test. 2 IN A 192.0.2.12",
        UnboundServer::ptr("192.0.2.25", "mx.example.test"),
        UnboundServer::ptr("2001:db8::25", "mx6.example.test"),
    });
    // Many names for the concurrency test: nN.many.test A 192.0.2.(N % 250).
    std::vector<std::string> many;
    for (int i = 0; i < 200; ++i)
      many.push_back("n" + std::to_string(i) + ".many.test. 300 IN A 198.51.100." +
                     std::to_string(i % 250));
    many_ = new UnboundServer(many);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete many_;
    server_ = many_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->error();
    ASSERT_TRUE(many_->ok()) << many_->error();
  }

  static std::unique_ptr<CaresResolver> make(const std::string& server, CaresOptions o = {}) {
    o.servers = {server};
    if (o.timeout_ms == CaresOptions{}.timeout_ms)
      o.timeout_ms = 500;
    auto r = CaresResolver::create(std::move(o));
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return std::move(*r);
  }

  static UnboundServer* server_;
  static UnboundServer* many_;
};
UnboundServer* CaresTest::server_ = nullptr;
UnboundServer* CaresTest::many_ = nullptr;

TEST_F(CaresTest, AAndAaaa) {
  auto r = make(server_->server());
  auto a = r->resolve("a.example.test", RType::kA);
  EXPECT_EQ(a.rcode, Rcode::kNoError);
  std::sort(a.records.begin(), a.records.end());
  EXPECT_EQ(a.records, (std::vector<std::string>{"192.0.2.10", "192.0.2.11"}));
  EXPECT_EQ(a.ttl, 300u);
  auto aaaa = r->resolve("A.Example.Test.", RType::kAAAA);
  EXPECT_EQ(aaaa.records, std::vector<std::string>{"2001:db8::10"});
}

TEST_F(CaresTest, TxtMultiStringJoined) {
  auto r = make(server_->server());
  auto t = r->resolve("sel._domainkey.example.test", RType::kTXT);
  ASSERT_EQ(t.rcode, Rcode::kNoError);
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_EQ(t.records[0], "v=DKIM1; k=rsa; " + kLongKey);
  auto big = r->resolve("big.example.test", RType::kTXT);
  ASSERT_EQ(big.rcode, Rcode::kNoError);
  ASSERT_EQ(big.records.size(), 1u);
  EXPECT_EQ(big.records[0], std::string(250, 'x') + std::string(250, 'y') + std::string(250, 'z'));
  auto spf = r->resolve("example.test", RType::kTXT);
  EXPECT_EQ(spf.records, std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all"});
}

TEST_F(CaresTest, MxNsCnamePtr) {
  auto r = make(server_->server());
  auto mx = r->resolve("example.test", RType::kMX);
  ASSERT_EQ(mx.mx.size(), 2u);
  std::sort(mx.mx.begin(), mx.mx.end(),
            [](const MxRecord& x, const MxRecord& y) { return x.preference < y.preference; });
  EXPECT_EQ(mx.mx[0].preference, 10);
  EXPECT_EQ(mx.mx[0].host, "mx1.example.test");  // lower case, no trailing dot
  EXPECT_EQ(mx.mx[1].host, "mx2.example.test");
  EXPECT_EQ(r->resolve("example.test", RType::kNS).records,
            std::vector<std::string>{"ns1.example.test"});
  EXPECT_EQ(r->resolve("alias.example.test", RType::kCNAME).records,
            std::vector<std::string>{"a.example.test"});
  // unbound does not chase CNAMEs inside local data (it answers the CNAME alone): the answer is
  // NOERROR without A records. Chain following is tested on packets above (Wire.*).
  auto via = r->resolve("alias.example.test", RType::kA);
  EXPECT_EQ(via.rcode, Rcode::kNoError);
  EXPECT_EQ(r->resolve(reverse_ip("192.0.2.25") + ".in-addr.arpa", RType::kPTR).records,
            std::vector<std::string>{"mx.example.test"});
  EXPECT_EQ(r->resolve(reverse_ip("2001:db8::25") + ".ip6.arpa", RType::kPTR).records,
            std::vector<std::string>{"mx6.example.test"});
}

TEST_F(CaresTest, NxDomainNoDataRefused) {
  auto r = make(server_->server());
  auto nx = r->resolve("nothere.example.test", RType::kA);
  EXPECT_EQ(nx.rcode, Rcode::kNxDomain);
  EXPECT_TRUE(nx.empty());
  EXPECT_FALSE(nx.temporary_failure());
  auto nodata = r->resolve("example.test", RType::kAAAA);
  EXPECT_EQ(nodata.rcode, Rcode::kNoError);
  EXPECT_TRUE(nodata.empty());
  auto refused = r->resolve("x.refused.test", RType::kA);
  EXPECT_EQ(refused.rcode, Rcode::kRefused);
  EXPECT_TRUE(refused.temporary_failure());
  EXPECT_EQ(r->stats().failures, 1u);
}

// A UDP socket that is bound and never answers: every try times out.
struct SilentServer {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  uint16_t port = 0;
  SilentServer() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~SilentServer() { close(fd); }
  std::string server() const { return "127.0.0.1:" + std::to_string(port); }
};

TEST_F(CaresTest, TimeoutOnDeadServer) {
  SilentServer silent;
  CaresOptions o;
  o.timeout_ms = 100;
  o.tries = 2;
  auto r = make(silent.server(), o);
  auto start = std::chrono::steady_clock::now();
  auto a = r->resolve("a.example.test", RType::kA);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(a.rcode, Rcode::kTimeout);
  EXPECT_TRUE(a.temporary_failure());
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(r->stats().timeouts, 1u);
  // Not cached: the next lookup asks again.
  (void)r->resolve("a.example.test", RType::kA);
  EXPECT_EQ(r->stats().queries_sent, 2u);

  // A loopback port nobody listens on (ICMP port unreachable) is also "no answer".
  uint16_t closed = 0;
  {
    SilentServer gone;
    closed = gone.port;
  }  // closed again: the port has no socket now
  auto r2 = make("127.0.0.1:" + std::to_string(closed), o);
  EXPECT_EQ(r2->resolve("a.example.test", RType::kA).rcode, Rcode::kTimeout);
}

TEST_F(CaresTest, FailsOverToNextServer) {
  SilentServer silent;
  CaresOptions o;
  o.timeout_ms = 100;
  o.servers = {silent.server(), server_->server()};
  auto r = CaresResolver::create(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->resolve("a.example.test", RType::kA).records.size(), 2u);
}

TEST_F(CaresTest, CacheHitSendsNoQuery) {
  auto r = make(server_->server());
  auto first = r->resolve("a.example.test", RType::kA);
  EXPECT_EQ(r->stats().queries_sent, 1u);
  auto second = r->resolve("A.EXAMPLE.TEST.", RType::kA);
  EXPECT_EQ(r->stats().queries_sent, 1u);
  EXPECT_EQ(r->stats().cache_hits, 1u);
  EXPECT_EQ(second.records.size(), first.records.size());
  // Another type of the same name is another cache entry.
  (void)r->resolve("a.example.test", RType::kAAAA);
  EXPECT_EQ(r->stats().queries_sent, 2u);
  // Negative answers are cached too.
  (void)r->resolve("nothere.example.test", RType::kA);
  (void)r->resolve("nothere.example.test", RType::kA);
  EXPECT_EQ(r->stats().queries_sent, 3u);
  EXPECT_EQ(r->stats().cache_hits, 2u);
}

TEST_F(CaresTest, CacheExpiresWithTtlOnInjectedClock) {
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  CaresOptions o;
  o.now = [&now] { return now; };
  o.negative_ttl = 30;
  auto r = make(server_->server(), o);
  (void)r->resolve("short.example.test", RType::kA);    // TTL 2
  (void)r->resolve("nothere.example.test", RType::kA);  // no SOA: negative_ttl 30
  now += std::chrono::seconds(1);
  auto cached = r->resolve("short.example.test", RType::kA);
  EXPECT_EQ(cached.ttl, 1u);  // remaining TTL
  EXPECT_EQ(r->stats().queries_sent, 2u);
  now += std::chrono::seconds(2);
  (void)r->resolve("short.example.test", RType::kA);
  (void)r->resolve("nothere.example.test", RType::kA);
  EXPECT_EQ(r->stats().queries_sent, 3u);  // A expired, NXDOMAIN still cached
  now += std::chrono::seconds(30);
  (void)r->resolve("nothere.example.test", RType::kA);
  EXPECT_EQ(r->stats().queries_sent, 4u);
}

TEST_F(CaresTest, CacheIsBounded) {
  CaresOptions o;
  o.cache_entries = 2;
  auto r = make(many_->server(), o);
  for (int i = 0; i < 5; ++i)
    (void)r->resolve("n" + std::to_string(i) + ".many.test", RType::kA);
  EXPECT_EQ(r->cache_size(), 2u);
  (void)r->resolve("n4.many.test", RType::kA);  // most recent: still cached
  EXPECT_EQ(r->stats().cache_hits, 1u);
  (void)r->resolve("n0.many.test", RType::kA);  // evicted
  EXPECT_EQ(r->stats().queries_sent, 6u);

  o.cache_entries = 0;
  auto off = make(many_->server(), o);
  (void)off->resolve("n1.many.test", RType::kA);
  (void)off->resolve("n1.many.test", RType::kA);
  EXPECT_EQ(off->stats().queries_sent, 2u);
}

TEST_F(CaresTest, ManyConcurrentQueriesBoundedInFlight) {
  CaresOptions o;
  o.max_inflight = 16;
  auto r = make(many_->server(), o);
  std::vector<Query> qs;
  for (int i = 0; i < 200; ++i)
    qs.push_back({"n" + std::to_string(i) + ".many.test", RType::kA});
  qs.push_back({"n7.many.test", RType::kA});  // duplicate in the batch: one query
  qs.push_back({"nothere.many.test", RType::kA});
  auto answers = r->resolve_many(qs);
  ASSERT_EQ(answers.size(), qs.size());
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(answers[i].rcode, Rcode::kNoError) << i;
    ASSERT_EQ(answers[i].records, std::vector<std::string>{"198.51.100." + std::to_string(i)});
  }
  EXPECT_EQ(answers[200].records, answers[7].records);
  EXPECT_EQ(answers[201].rcode, Rcode::kNxDomain);
  auto st = r->stats();
  EXPECT_EQ(st.queries_sent, 201u);
  EXPECT_EQ(st.coalesced, 1u);
  EXPECT_LE(st.max_inflight_seen, 16u);
  EXPECT_GT(st.max_inflight_seen, 1u);
}

TEST_F(CaresTest, SharedInstanceIsSafeAcrossThreads) {
  auto r = make(many_->server());
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto a = r->resolve("n" + std::to_string(t * 25 + i) + ".many.test", RType::kA);
        good += a.rcode == Rcode::kNoError && a.records.size() == 1;
      }
    });
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(good.load(), 100);
}

TEST(CaresCreate, RejectsBadOptions) {
  CaresOptions o;
  o.servers = {"not-an-ip"};
  auto r = CaresResolver::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
  o.servers = {"127.0.0.1:53"};
  o.tries = 0;
  EXPECT_FALSE(CaresResolver::create(o).ok());
}

}  // namespace
}  // namespace mailsift::dns
