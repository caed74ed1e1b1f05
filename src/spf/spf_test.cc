// Hermetic unit tests of the SPF layer (FakeResolver); the RFC suites are in
// spf_conformance_test.cc.
#include <gtest/gtest.h>

#include "dns/testing/fake_resolver.h"
#include "spf/record.h"
#include "spf/spf.h"

namespace mailsift::spf {
namespace {

using dns::RType;
using dns::testing::FakeResolver;

TEST(SpfNames, ResultNamesMatchRfc8601) {
  EXPECT_STREQ(to_string(Result::kNone), "none");
  EXPECT_STREQ(to_string(Result::kNeutral), "neutral");
  EXPECT_STREQ(to_string(Result::kPass), "pass");
  EXPECT_STREQ(to_string(Result::kFail), "fail");
  EXPECT_STREQ(to_string(Result::kSoftFail), "softfail");
  EXPECT_STREQ(to_string(Result::kTempError), "temperror");
  EXPECT_STREQ(to_string(Result::kPermError), "permerror");
}

TEST(SpfRecord, ParsesTermsAndRejectsSyntaxErrors) {
  auto r = parse_record("v=spf1 ip4:192.0.2.0/24 a:mail.%{d}//64 mx/30 ~all exp=why.%{d} x-y=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->mechanisms.size(), 4u);
  EXPECT_EQ(r->mechanisms[0].cidr4, 24);
  EXPECT_EQ(r->mechanisms[1].domain_spec, "mail.%{d}");
  EXPECT_EQ(r->mechanisms[1].cidr6, 64);
  EXPECT_EQ(r->mechanisms[2].cidr4, 30);
  EXPECT_EQ(r->mechanisms[3].qualifier, Qualifier::kSoftFail);
  EXPECT_EQ(*r->exp, "why.%{d}");
  for (const char* bad : {"v=spf1 ip4:1.2.3.4/032", "v=spf1 a:museum", "v=spf1 exp=%{r}.x.com",
                          "v=spf1 foo=%x", "v=spf1 redirect=a.com redirect=b.com", "v=spf1 ip6",
                          "v=spf1 -all.", "v=spf1 ptr/0", "v=spf1 exists:%{d0}.x.com"}) {
    EXPECT_FALSE(parse_record(bad).ok()) << bad;
  }
}

TEST(SpfMacro, ExpandsRfcExamples) {
  MacroContext ctx;
  ctx.sender = "strong-bad@email.example.com";
  ctx.local_part = "strong-bad";
  ctx.sender_domain = "email.example.com";
  ctx.domain = "email.example.com";
  ctx.client = *parse_address("192.0.2.3");
  auto x = [&](const char* s) { return expand(s, ctx, false).value(); };
  EXPECT_EQ(x("%{d2}"), "example.com");
  EXPECT_EQ(x("%{ir}.%{v}._spf.%{d2}"), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(x("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(x("%{l1r-}.lp._spf.%{d2}"), "strong.lp._spf.example.com");
  ctx.client = *parse_address("2001:db8::cb01");
  EXPECT_EQ(x("%{ir}.%{v}._spf.%{d2}"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
  EXPECT_EQ(expand("%{c} %%%_%-", ctx, true).value(), "2001:db8::cb01 % %20");
  EXPECT_FALSE(expand("%{c}", ctx, false).ok());  // c only in explanations
}

TEST(SpfCheck, PassFailAndCounters) {
  FakeResolver dns;
  dns.add("example.com", RType::kTXT, "v=spf1 a mx include:_spf.example.net -all");
  dns.add("example.com", RType::kA, "192.0.2.10");
  dns.add("example.com", RType::kMX, "10 mx.example.com");
  dns.add("mx.example.com", RType::kA, "192.0.2.20");
  dns.add("_spf.example.net", RType::kTXT, "v=spf1 ip4:198.51.100.0/24 ?all");
  Request req{"198.51.100.7", "mx.sender.test", "alice@example.com", "mx.us.test", 0};
  auto out = check_host(dns, req);
  EXPECT_EQ(out.result, Result::kPass);
  EXPECT_EQ(out.mechanism, "include:_spf.example.net");
  EXPECT_EQ(out.identity, "mailfrom");
  EXPECT_EQ(out.domain, "example.com");
  EXPECT_EQ(out.dns_lookups, 3);
  req.client_ip = "203.0.113.1";
  out = check_host(dns, req);
  EXPECT_EQ(out.result, Result::kFail);
  EXPECT_EQ(out.mechanism, "-all");
  EXPECT_EQ(out.explanation, kDefaultExplanation);
  req.client_ip = "::ffff:192.0.2.20";  // IPv4-mapped: checked as IPv4
  EXPECT_EQ(check_host(dns, req).result, Result::kPass);
}

TEST(SpfCheck, DnsFailuresAreTemperror) {
  FakeResolver dns;
  dns.set_failure("example.com", dns::Rcode::kServFail);
  Request req{"192.0.2.1", "h.example.org", "a@example.com", "", 0};
  auto out = check_host(dns, req);
  EXPECT_EQ(out.result, Result::kTempError);
  EXPECT_NE(out.problem.find("SERVFAIL"), std::string::npos);
  FakeResolver dns2;
  dns2.add("example.com", RType::kTXT, "v=spf1 exists:x.example.org -all");
  dns2.set_failure("x.example.org", dns::Rcode::kTimeout);
  EXPECT_EQ(check_host(dns2, req).result, Result::kTempError);
}

TEST(SpfCheck, MultipleRecordsAndLimitsArePermerror) {
  FakeResolver dns;
  dns.add("two.example", RType::kTXT, "v=spf1 -all");
  dns.add("two.example", RType::kTXT, "v=spf1 +all");
  Request req{"192.0.2.1", "h.example.org", "a@two.example", "", 0};
  EXPECT_EQ(check_host(dns, req).result, Result::kPermError);
  dns.add("loop.example", RType::kTXT, "v=spf1 include:loop.example");
  req.mail_from = "a@loop.example";
  auto out = check_host(dns, req);
  EXPECT_EQ(out.result, Result::kPermError);
  EXPECT_EQ(out.dns_lookups, 11);
  dns.add("void.example", RType::kTXT,
          "v=spf1 a:n1.void.example a:n2.void.example a:n3.void.example");
  req.mail_from = "a@void.example";
  out = check_host(dns, req);
  EXPECT_EQ(out.result, Result::kPermError);
  EXPECT_EQ(out.void_lookups, 3);
}

TEST(SpfVerify, HeloThenMailFromAndNullSender) {
  FakeResolver dns;
  dns.add("mx.sender.test", RType::kTXT, "v=spf1 a -all");
  dns.add("mx.sender.test", RType::kA, "192.0.2.5");
  dns.add("sender.test", RType::kTXT, "v=spf1 ~all");
  Request env{"192.0.2.5", "mx.sender.test", "bob@sender.test", "mx.us.test", 0};
  auto v = verify(dns, env);
  EXPECT_EQ(v.helo.result, Result::kPass);
  EXPECT_EQ(v.helo.identity, "helo");
  EXPECT_EQ(v.mailfrom.result, Result::kSoftFail);
  EXPECT_EQ(v.mailfrom.identity, "mailfrom");
  env.mail_from = "";  // bounce: postmaster@helo
  v = verify(dns, env);
  EXPECT_EQ(v.mailfrom.result, Result::kPass);
  EXPECT_EQ(v.mailfrom.domain, "mx.sender.test");
  EXPECT_EQ(v.mailfrom.identity, "mailfrom");
  env.helo = "[192.0.2.5]";  // address literal: no HELO check (none)
  EXPECT_EQ(check_helo(dns, env).result, Result::kNone);
}

TEST(SpfCheck, ExplanationExpandsMacros) {
  FakeResolver dns;
  dns.add("example.com", RType::kTXT, "v=spf1 -all exp=why.example.com");
  dns.add("why.example.com", RType::kTXT, "%{c} may not send for %{d} (seen by %{r})");
  Request req{"192.0.2.1", "h.example.org", "a@example.com", "mx.us.test", 0};
  auto out = check_host(dns, req);
  EXPECT_EQ(out.result, Result::kFail);
  EXPECT_EQ(out.explanation, "192.0.2.1 may not send for example.com (seen by mx.us.test)");
}

}  // namespace
}  // namespace mailsift::spf
