// Tests of mailsift_dnsbl: list-spec parsing, URL/domain helpers, RFC 5782 answer reading, list
// health and iprev on FakeResolver (hermetic), and one end-to-end test through CaresResolver and a
// real unbound (testing/unbound_server.h).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.h"
#include "dns/cares_resolver.h"
#include "dns/testing/fake_resolver.h"
#include "dns/testing/unbound_server.h"
#include "dnsbl/dnsbl.h"
#include "dnsbl/domains.h"
#include "dnsbl/iprev.h"
#include "dnsbl/lists.h"

namespace mailsift::dnsbl {
namespace {

using dns::Rcode;
using dns::RType;
using dns::testing::FakeResolver;

std::vector<ListSpec> lists(std::string_view spec) {
  auto l = parse_lists(spec);
  EXPECT_TRUE(l.ok()) << l.error().describe();
  return l.ok() ? *l : std::vector<ListSpec>{};
}

// ---- list specs ----------------------------------------------------------------------------

TEST(Lists, ParsesTheGrammar) {
  auto l = lists(
      "ZEN=zen.spamhaus.org:ip:4:127.0.0.2=SBL;127.0.0.4=XBL/5 ,\n"
      "  DBL.Spamhaus.Org.:domain:3\n"
      "multi.uribl.com:url:+2.5:&2=URIBL_BLACK;&0x4=URIBL_GREY/-0.5,bl.test:ip4:-1");
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].name, "ZEN");
  EXPECT_EQ(l[0].zone, "zen.spamhaus.org");
  EXPECT_EQ(l[0].kind, Kind::kIp);
  EXPECT_EQ(l[0].score, 4);
  ASSERT_EQ(l[0].codes.size(), 2u);
  EXPECT_EQ(l[0].codes[0].value, 0x7f000002u);
  EXPECT_FALSE(l[0].codes[0].score.has_value());
  EXPECT_EQ(*l[0].codes[1].score, 5);
  EXPECT_EQ(l[1].name, "dbl.spamhaus.org");
  EXPECT_EQ(l[1].kind, Kind::kDomain);
  EXPECT_EQ(l[2].kind, Kind::kUrl);
  EXPECT_TRUE(l[2].codes[1].mask);
  EXPECT_EQ(l[2].codes[1].value, 4u);
  EXPECT_EQ(*l[2].codes[1].score, -0.5);
  EXPECT_EQ(l[3].kind, Kind::kIp4);
  EXPECT_EQ(to_string(l[0]), "ZEN=zen.spamhaus.org:ip:4:127.0.0.2=SBL;127.0.0.4=XBL/5");
  EXPECT_EQ(to_string(l[2]), "multi.uribl.com:url:2.5:&2=URIBL_BLACK;&4=URIBL_GREY/-0.5");
  EXPECT_TRUE(lists("").empty());
  EXPECT_TRUE(lists(" , \n").empty());
}

TEST(Lists, RejectsBadSpecsAsConfigErrors) {
  for (const char* bad : {
           "zen.spamhaus.org",                     // no kind/score
           "zen.spamhaus.org:ipv4:1",              // unknown kind
           "zen.spamhaus.org:ip:lots",             // score not a number
           "zen.spamhaus.org:ip:1e9",              // score out of bounds
           "zen..spamhaus.org:ip:1",               // empty label
           "zen spamhaus.org:ip:1",                // space in zone
           "zen.spamhaus.org:ip:1:10.0.0.2=X",     // code outside 127/8
           "zen.spamhaus.org:ip:1:127.0.0.2",      // code without name
           "zen.spamhaus.org:ip:1:&0=X",           // no bits
           "zen.spamhaus.org:ip:1:&256=X",         // bits beyond the octet
           "zen.spamhaus.org:ip:1:127.0.0.2=X/y",  // code score not a number
           "a.test:ip:1,a.test:domain:1",          // same name twice
           "bad name=a.test:ip:1",                 // invalid NAME
       }) {
    auto r = parse_lists(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig) << bad;
    EXPECT_NE(r.error().message.find("dnsbl.lists"), std::string::npos);
  }
  EXPECT_TRUE(parse_lists("A=a.test:ip:1,B=a.test:domain:1").ok());  // named apart: fine
}

TEST(Lists, FromConfig) {
  Config config;
  auto none = lists_from_config(config);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(config.set("dnsbl.lists", "zen.spamhaus.org:ip:4").ok());
  EXPECT_EQ(lists_from_config(config)->size(), 1u);
  // The README's TOML multi-line form, one list per line.
  auto file = Config::load_string(
      "[dnsbl]\nlists = \"\"\"\nZEN=zen.spamhaus.org:ip:4:127.0.0.2=SBL;127.0.0.4=XBL/5\n"
      "DBL=dbl.spamhaus.org:domain:3\nmulti.uribl.com:url:4:&2=URIBL_BLACK;&4=URIBL_GREY/1\n"
      "\"\"\"\n");
  ASSERT_TRUE(file.ok()) << file.error().describe();
  auto three = lists_from_config(*file);
  ASSERT_TRUE(three.ok()) << three.error().describe();
  EXPECT_EQ(three->size(), 3u);
}

// ---- URL and domain helpers ----------------------------------------------------------------

TEST(Domains, UrlHost) {
  EXPECT_EQ(url_host("https://user:pw@WWW.Example.COM.:8080/p?q#f"), "www.example.com");
  EXPECT_EQ(url_host("HTTP://example.com"), "example.com");
  EXPECT_EQ(url_host("//cdn.example.net/x.js"), "cdn.example.net");
  EXPECT_EQ(url_host("www.example.org/click?x=1"), "www.example.org");
  EXPECT_EQ(url_host("example.org:8080/x"), "example.org");
  EXPECT_EQ(url_host("mailto:Someone@Mail.Example.com?subject=hi"), "mail.example.com");
  EXPECT_EQ(url_host("http://ex%61mple.com/"), "example.com");
  EXPECT_EQ(url_host("http://192.0.2.1:80/"), "192.0.2.1");
  EXPECT_EQ(url_host("http://[2001:DB8::1]/"), "2001:db8::1");
  EXPECT_EQ(url_host("http://exa mple.com/"), "");    // the host ends at the space: "exa"
  EXPECT_EQ(url_host("http://bücher.example/"), "");  // U-labels: not queried
  EXPECT_EQ(url_host("javascript:alert(1)"), "");
  EXPECT_EQ(url_host(""), "");
  // Embedded NULs never make an address (inet_pton would stop at them). Found by dnsbl_url_fuzz.
  EXPECT_EQ(url_host(std::string("http://[2001:db8::1\0x]/", 24)), "");
  EXPECT_EQ(url_host(std::string("http://192.0.2.1\0.x/", 21)), "");
  EXPECT_FALSE(is_ip_literal(std::string("192.0.2.1\0", 10)));
}

TEST(Domains, RegistrableDomainFromPsl) {
  EXPECT_EQ(registrable_domain("www.example.com"), "example.com");
  EXPECT_EQ(registrable_domain("a.b.example.co.uk"), "example.co.uk");
  EXPECT_EQ(registrable_domain("Example.COM."), "example.com");
  EXPECT_EQ(registrable_domain("co.uk"), "");
  EXPECT_EQ(registrable_domain("com"), "");
  EXPECT_EQ(registrable_domain("192.0.2.1"), "");
  EXPECT_EQ(normalize_domain("Mail.Example.COM."), "mail.example.com");
  EXPECT_EQ(normalize_domain("localhost"), "");
  EXPECT_EQ(normalize_domain("a..b"), "");
  EXPECT_EQ(normalize_domain(std::string(64, 'a') + ".com"), "");
}

// ---- DNSBL answers (FakeResolver) ----------------------------------------------------------

const char* kZen = "ZEN=zen.test:ip:4:127.0.0.2=SBL;127.0.0.4=XBL/5;127.0.0.10=PBL/1";

TEST(Dnsbl, Ipv4ListingMapsReturnCodes) {
  FakeResolver dns;
  dns.add("99.2.0.192.zen.test", RType::kA, "127.0.0.2");
  dns.add("99.2.0.192.zen.test", RType::kA, "127.0.0.4");
  auto zen = lists(kZen);
  auto r = check_ip(dns, zen, "192.0.2.99");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, Outcome::kListed);
  EXPECT_EQ(r[0].list, "ZEN");
  EXPECT_EQ(r[0].zone, "zen.test");
  EXPECT_EQ(r[0].query, "99.2.0.192.zen.test");
  EXPECT_EQ(r[0].codes, (std::vector<std::string>{"127.0.0.2", "127.0.0.4"}));
  EXPECT_EQ(r[0].score, 5);  // the highest matched code
  EXPECT_EQ(r[0].name, "SBL,XBL");

  auto clean = check_ip(dns, zen, "192.0.2.100");
  ASSERT_EQ(clean.size(), 1u);
  EXPECT_EQ(clean[0].outcome, Outcome::kNotListed);
  EXPECT_EQ(clean[0].score, 0);
}

TEST(Dnsbl, ListWithoutCodeMapTakesAny127Answer) {
  FakeResolver dns;
  dns.add("99.2.0.192.bl.test", RType::kA, "127.0.0.77");
  auto r = check_ip(dns, lists("bl.test:ip4:2.5"), "192.0.2.99");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, Outcome::kListed);
  EXPECT_EQ(r[0].score, 2.5);
  EXPECT_EQ(r[0].name, "");
}

TEST(Dnsbl, UnmappedCodeIsIgnoredWithReason) {
  FakeResolver dns;
  dns.add("99.2.0.192.zen.test", RType::kA, "127.0.0.99");
  auto r = check_ip(dns, lists(kZen), "192.0.2.99");
  EXPECT_EQ(r[0].outcome, Outcome::kNotListed);
  EXPECT_NE(r[0].detail.find("code map"), std::string::npos);
}

TEST(Dnsbl, Ipv6ReversedNibblesAndIp4OnlyLists) {
  FakeResolver dns;
  std::string q = dns::reverse_ip("2001:db8::99") + ".zen.test";
  dns.add(q, RType::kA, "127.0.0.2");
  auto l = lists(std::string(kZen) + ",v4only.test:ip4:1");
  auto r = check_ip(dns, l, "2001:db8::99");
  ASSERT_EQ(r.size(), 1u);  // the ip4 list is not asked about an IPv6 client
  EXPECT_EQ(r[0].query, q);
  EXPECT_EQ(r[0].outcome, Outcome::kListed);
  EXPECT_EQ(q.substr(0, 8), "9.9.0.0.");

  // IPv4-mapped IPv6 is the IPv4 client.
  dns.add("99.2.0.192.v4only.test", RType::kA, "127.0.0.2");
  auto mapped = check_ip(dns, l, "::ffff:192.0.2.99");
  ASSERT_EQ(mapped.size(), 2u);
  EXPECT_EQ(mapped[1].query, "99.2.0.192.v4only.test");
  EXPECT_EQ(mapped[1].outcome, Outcome::kListed);
}

TEST(Dnsbl, AnswerOutside127IsResolverRewritingNotListing) {
  FakeResolver dns;
  dns.add("99.2.0.192.zen.test", RType::kA, "198.51.100.7");  // NXDOMAIN redirection
  auto r = check_ip(dns, lists(kZen), "192.0.2.99");
  EXPECT_EQ(r[0].outcome, Outcome::kRewritten);
  EXPECT_EQ(r[0].score, 0);
  EXPECT_NE(r[0].detail.find("rewrites answers"), std::string::npos);
  EXPECT_STREQ(to_string(r[0].outcome), "resolver rewrites answers");
}

TEST(Dnsbl, RefusalsAreBlockedNotListed) {
  FakeResolver dns;
  dns.add("1.2.0.192.zen.test", RType::kA, "127.255.255.254");  // public resolver
  dns.add("2.2.0.192.zen.test", RType::kA, "127.255.255.255");  // excessive queries
  dns.add("3.2.0.192.zen.test", RType::kA, "127.255.255.252");  // typo in zone
  dns.add("4.2.0.192.zen.test", RType::kA, "127.0.0.1");        // URIBL-style refusal
  dns.set_failure("5.2.0.192.zen.test", Rcode::kRefused);
  auto zen = lists(kZen);
  for (const char* ip : {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}) {
    auto r = check_ip(dns, zen, ip);
    EXPECT_EQ(r[0].outcome, Outcome::kBlocked) << ip;
    EXPECT_EQ(r[0].score, 0) << ip;
    EXPECT_FALSE(r[0].detail.empty()) << ip;
  }
  EXPECT_NE(check_ip(dns, zen, "192.0.2.1")[0].detail.find("public/open resolver"),
            std::string::npos);
}

TEST(Dnsbl, TemporaryFailuresAreNotChecked) {
  FakeResolver dns;
  dns.set_failure("1.2.0.192.zen.test", Rcode::kServFail);
  dns.set_failure("2.2.0.192.zen.test", Rcode::kTimeout);
  auto zen = lists(kZen);
  EXPECT_EQ(check_ip(dns, zen, "192.0.2.1")[0].outcome, Outcome::kNotChecked);
  EXPECT_EQ(check_ip(dns, zen, "192.0.2.2")[0].outcome, Outcome::kNotChecked);
  auto bad = check_ip(dns, zen, "not-an-ip");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].outcome, Outcome::kNotChecked);
  EXPECT_EQ(dns.lookups(), 2u);  // nothing asked for the invalid IP
}

TEST(Dnsbl, DomainLists) {
  FakeResolver dns;
  dns.add("evil.example.dbl.test", RType::kA, "127.0.1.2");
  auto l = lists("DBL=dbl.test:domain:3:127.0.1.2=SPAM;127.0.1.4=PHISH/6," + std::string(kZen));
  std::vector<std::string> domains = {"Evil.Example.", "good.example", "evil.example",
                                      "not a name"};
  auto r = check_domains(dns, l, domains);
  ASSERT_EQ(r.size(), 3u);                        // zen is an IP list; the duplicate is asked once
  EXPECT_EQ(r[0].outcome, Outcome::kNotChecked);  // the invalid one is reported first
  EXPECT_EQ(r[0].item, "not a name");
  EXPECT_EQ(r[1].item, "evil.example");
  EXPECT_EQ(r[1].query, "evil.example.dbl.test");
  EXPECT_EQ(r[1].outcome, Outcome::kListed);
  EXPECT_EQ(r[1].name, "SPAM");
  EXPECT_EQ(r[1].score, 3);
  EXPECT_EQ(r[2].outcome, Outcome::kNotListed);
  EXPECT_EQ(dns.lookups(), 2u);

  std::vector<std::string> many;
  for (int i = 0; i < 100; ++i)
    many.push_back("d" + std::to_string(i) + ".example");
  EXPECT_EQ(check_domains(dns, l, many, 10).size(), 10u);
}

TEST(Dnsbl, UrlListsUseRegistrableDomainsAndIpv4Hosts) {
  FakeResolver dns;
  dns.add("evil.co.uk.uri.test", RType::kA, "127.0.0.2");
  dns.add("1.2.0.192.uri.test", RType::kA, "127.0.0.4");
  auto l = lists("URI=uri.test:url:5:&2=URI_BLACK;&4=URI_GREY/2;&8=URI_RED/4");
  std::vector<std::string> urls = {
      "https://www.evil.co.uk/a",  "http://login.evil.co.uk/b",  // same registrable domain
      "http://192.0.2.1/x",        "http://[2001:db8::1]/",      // IPv6 hosts are skipped
      "https://fine.example.com/", "javascript:void(0)",         // no host: skipped
  };
  auto r = check_urls(dns, l, urls);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].item, "evil.co.uk");
  EXPECT_EQ(r[0].query, "evil.co.uk.uri.test");
  EXPECT_EQ(r[0].outcome, Outcome::kListed);
  EXPECT_EQ(r[0].name, "URI_BLACK");
  EXPECT_EQ(r[0].score, 5);
  EXPECT_EQ(r[1].item, "192.0.2.1");
  EXPECT_EQ(r[1].query, "1.2.0.192.uri.test");
  EXPECT_EQ(r[1].name, "URI_GREY");
  EXPECT_EQ(r[1].score, 2);
  EXPECT_EQ(r[2].item, "example.com");
  EXPECT_EQ(r[2].outcome, Outcome::kNotListed);
}

// ---- list health (RFC 5782 §5 test points) -------------------------------------------------

TEST(Health, ClassifiesEachList) {
  FakeResolver dns;
  dns.add("2.0.0.127.good.test", RType::kA, "127.0.0.2");
  dns.add("test.dgood.test", RType::kA, "127.0.1.2");
  dns.add("2.0.0.127.all.test", RType::kA, "127.0.0.2");
  dns.add("1.0.0.127.all.test", RType::kA, "127.0.0.2");
  dns.add("2.0.0.127.hijack.test", RType::kA, "198.51.100.1");
  dns.add("1.0.0.127.hijack.test", RType::kA, "198.51.100.1");
  dns.add("2.0.0.127.public.test", RType::kA, "127.255.255.254");
  dns.set_failure("2.0.0.127.down.test", Rcode::kServFail);
  dns.set_failure("1.0.0.127.refused.test", Rcode::kRefused);
  auto l = lists(
      "good.test:ip:1,dgood.test:domain:1,empty.test:ip:1,all.test:ip:1,hijack.test:ip:1,"
      "public.test:ip:1,down.test:ip:1,refused.test:ip:1");
  auto h = check_health(dns, l);
  ASSERT_EQ(h.size(), 8u);
  EXPECT_EQ(h[0].status, HealthStatus::kOk);
  EXPECT_TRUE(h[0].ok());
  EXPECT_EQ(h[1].status, HealthStatus::kOk);
  EXPECT_EQ(h[2].status, HealthStatus::kTestPointNotListed);
  EXPECT_EQ(h[3].status, HealthStatus::kListsEverything);
  EXPECT_EQ(h[4].status, HealthStatus::kRewritten);
  EXPECT_NE(h[4].detail.find("rewrites answers"), std::string::npos);
  EXPECT_EQ(h[5].status, HealthStatus::kBlocked);
  EXPECT_EQ(h[6].status, HealthStatus::kUnreachable);
  EXPECT_EQ(h[7].status, HealthStatus::kBlocked);
  EXPECT_EQ(dns.lookups(), 16u);
}

// ---- iprev (RFC 8601 §3) -------------------------------------------------------------------

TEST(Iprev, PassWhenForwardConfirms) {
  FakeResolver dns;
  dns.add("25.2.0.192.in-addr.arpa", RType::kPTR, "other.example");
  dns.add("25.2.0.192.in-addr.arpa", RType::kPTR, "mx.example");
  dns.add("other.example", RType::kA, "192.0.2.26");
  dns.add("mx.example", RType::kA, "192.0.2.25");
  auto r = check_iprev(dns, "192.0.2.25");
  EXPECT_EQ(r.status, IprevStatus::kPass);
  EXPECT_EQ(r.name, "mx.example");
  EXPECT_EQ(r.ptr_names.size(), 2u);
  EXPECT_STREQ(to_string(r.status), "pass");

  std::string v6ptr = dns::reverse_ip("2001:db8::25") + ".ip6.arpa";
  dns.add(v6ptr, RType::kPTR, "mx6.example");
  dns.add("mx6.example", RType::kAAAA, "2001:0db8:0::0025");  // compared as addresses
  auto v6 = check_iprev(dns, "2001:db8::25");
  EXPECT_EQ(v6.status, IprevStatus::kPass);
  EXPECT_EQ(v6.name, "mx6.example");

  auto mapped = check_iprev(dns, "::ffff:192.0.2.25");
  EXPECT_EQ(mapped.status, IprevStatus::kPass);
  EXPECT_EQ(mapped.ip, "192.0.2.25");
}

TEST(Iprev, FailPermErrorTempError) {
  FakeResolver dns;
  dns.add("1.2.0.192.in-addr.arpa", RType::kPTR, "liar.example");
  dns.add("liar.example", RType::kA, "198.51.100.1");
  EXPECT_EQ(check_iprev(dns, "192.0.2.1").status, IprevStatus::kFail);

  dns.add("2.2.0.192.in-addr.arpa", RType::kPTR, "gone.example");  // forward NXDOMAIN
  auto gone = check_iprev(dns, "192.0.2.2");
  EXPECT_EQ(gone.status, IprevStatus::kFail);
  EXPECT_EQ(gone.name, "gone.example");

  auto none = check_iprev(dns, "192.0.2.3");  // no PTR at all
  EXPECT_EQ(none.status, IprevStatus::kPermError);
  EXPECT_STREQ(to_string(none.status), "permerror");
  dns.add_name("4.2.0.192.in-addr.arpa");  // PTR NODATA
  EXPECT_EQ(check_iprev(dns, "192.0.2.4").status, IprevStatus::kPermError);
  EXPECT_EQ(check_iprev(dns, "999.1.1.1").status, IprevStatus::kPermError);

  dns.set_failure("5.2.0.192.in-addr.arpa", Rcode::kServFail);
  EXPECT_EQ(check_iprev(dns, "192.0.2.5").status, IprevStatus::kTempError);

  dns.add("6.2.0.192.in-addr.arpa", RType::kPTR, "slow.example");
  dns.set_failure("slow.example", Rcode::kTimeout);
  EXPECT_EQ(check_iprev(dns, "192.0.2.6").status, IprevStatus::kTempError);

  // A temporary failure on one name does not spoil a confirmation by another.
  dns.add("6.2.0.192.in-addr.arpa", RType::kPTR, "ok.example");
  dns.add("ok.example", RType::kA, "192.0.2.6");
  EXPECT_EQ(check_iprev(dns, "192.0.2.6").status, IprevStatus::kPass);
}

TEST(Iprev, BoundsForwardLookups) {
  FakeResolver dns;
  for (int i = 0; i < 30; ++i)
    dns.add("7.2.0.192.in-addr.arpa", RType::kPTR, "n" + std::to_string(i) + ".example");
  auto r = check_iprev(dns, "192.0.2.7", 10);
  EXPECT_EQ(r.status, IprevStatus::kFail);
  EXPECT_EQ(dns.lookups(), 11u);  // 1 PTR + 10 forward
}

// ---- end to end: CaresResolver + unbound ---------------------------------------------------

TEST(DnsblIntegration, RealResolverAndServer) {
  using dns::testing::UnboundServer;
  UnboundServer server(
      {
          "2.0.0.127.zen.test. 300 IN A 127.0.0.2",
          "99.2.0.192.zen.test. 300 IN A 127.0.0.2",
          "99.2.0.192.zen.test. 300 IN A 127.0.0.4",
          "1.2.0.192.zen.test. 300 IN A 127.255.255.254",
          "test.dbl.test. 300 IN A 127.0.1.2",
          "evil.example.dbl.test. 300 IN A 127.0.1.2",
          "hijack.test. 300 IN A 198.51.100.1",  // redirect zone: every name answers this
          UnboundServer::ptr("192.0.2.25", "mx.example.test"),
          "mx.example.test. 300 IN A 192.0.2.25",
          UnboundServer::ptr("192.0.2.26", "liar.example.test"),
          "liar.example.test. 300 IN A 192.0.2.99",
      },
      {"hijack.test. redirect"});
  ASSERT_TRUE(server.ok()) << server.error();
  dns::CaresOptions o;
  o.servers = {server.server()};
  o.timeout_ms = 500;
  auto resolver = dns::CaresResolver::create(o);
  ASSERT_TRUE(resolver.ok()) << resolver.error().describe();
  auto& r = **resolver;

  auto l = lists(
      "ZEN=zen.test:ip:4:127.0.0.2=SBL;127.0.0.4=XBL/5,DBL=dbl.test:domain:3,"
      "HIJACK=hijack.test:ip:4,REFUSED=refused.test:ip:1");
  auto listed = check_ip(r, l, "192.0.2.99");
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].outcome, Outcome::kListed);
  EXPECT_EQ(listed[0].name, "SBL,XBL");
  EXPECT_EQ(listed[0].score, 5);
  EXPECT_EQ(listed[1].outcome, Outcome::kRewritten);
  EXPECT_EQ(listed[2].outcome, Outcome::kBlocked);  // DNS REFUSED
  EXPECT_EQ(check_ip(r, l, "192.0.2.100")[0].outcome, Outcome::kNotListed);
  EXPECT_EQ(check_ip(r, l, "192.0.2.1")[0].outcome, Outcome::kBlocked);  // 127.255.255.254

  std::vector<std::string> domains = {"evil.example", "fine.example"};
  auto d = check_domains(r, l, domains);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].outcome, Outcome::kListed);
  EXPECT_EQ(d[1].outcome, Outcome::kNotListed);

  auto h = check_health(r, l);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].status, HealthStatus::kOk) << h[0].detail;
  EXPECT_EQ(h[1].status, HealthStatus::kOk) << h[1].detail;
  EXPECT_EQ(h[2].status, HealthStatus::kRewritten) << h[2].detail;
  EXPECT_EQ(h[3].status, HealthStatus::kBlocked) << h[3].detail;

  auto pass = check_iprev(r, "192.0.2.25");
  EXPECT_EQ(pass.status, IprevStatus::kPass);
  EXPECT_EQ(pass.name, "mx.example.test");
  EXPECT_EQ(check_iprev(r, "192.0.2.26").status, IprevStatus::kFail);
  EXPECT_EQ(check_iprev(r, "192.0.2.27").status, IprevStatus::kPermError);
}

}  // namespace
}  // namespace mailsift::dnsbl
