// Hermetic DMARC tests: record parsing, discovery and evaluation over FakeResolver, and the
// RFC5322.From author-domain extraction.
#include <gtest/gtest.h>

#include "dmarc/dmarc.h"
#include "dns/testing/fake_resolver.h"

namespace mailsift::dmarc {
namespace {

using dns::RType;
using dns::testing::FakeResolver;

Input from(std::string domain) {
  Input in;
  in.header_from_domain = std::move(domain);
  return in;
}

TEST(DmarcRecord, ParsesAllTags) {
  auto r = parse_record(
      "v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50; adkim=s; aspf=s; "
      "rua=mailto:a@example.com!10m, mailto:b@example.com; ruf=mailto:f@example.com; fo=1:d; "
      "rf=afrf; ri=3600");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->p, Policy::kReject);
  EXPECT_EQ(r->sp, Policy::kQuarantine);
  EXPECT_EQ(r->np, Policy::kReject);
  EXPECT_EQ(r->pct, 50);
  EXPECT_EQ(r->adkim, Alignment::kStrict);
  EXPECT_EQ(r->aspf, Alignment::kStrict);
  ASSERT_EQ(r->rua.size(), 2u);
  EXPECT_EQ(r->rua[0], "mailto:a@example.com!10m");
  EXPECT_EQ(r->ruf.size(), 1u);
  EXPECT_EQ(r->fo, "1:d");
  EXPECT_EQ(r->ri, 3600u);
  EXPECT_TRUE(r->warnings.empty());
}

TEST(DmarcRecord, SyntaxErrors) {
  // v= must be first and exactly DMARC1.
  EXPECT_FALSE(parse_record("p=reject; v=DMARC1").ok());
  EXPECT_FALSE(parse_record("v=DMARC2; p=reject").ok());
  EXPECT_FALSE(is_dmarc_record("v=spf1 -all"));
  EXPECT_TRUE(is_dmarc_record(" v = DMARC1 ;p=none"));
  // No valid p= and no rua=: unusable (permerror).
  EXPECT_FALSE(parse_record("v=DMARC1; p=bogus").ok());
  EXPECT_FALSE(parse_record("v=DMARC1").ok());
  // No valid p= but a valid rua=: act as p=none (§6.6.3).
  auto r = parse_record("v=DMARC1; p=bogus; rua=mailto:a@example.com");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->p, Policy::kNone);
  // Bad optional tags fall back to defaults and are reported.
  r = parse_record("v=DMARC1; p=quarantine; pct=101; adkim=x; ri=-1; fo=9; unknown=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pct, 100);
  EXPECT_EQ(r->adkim, Alignment::kRelaxed);
  EXPECT_EQ(r->ri, 86400u);
  EXPECT_EQ(r->fo, "0");
  EXPECT_EQ(r->warnings.size(), 4u);
}

TEST(DmarcOrgDomain, UsesPublicSuffixList) {
  EXPECT_EQ(organizational_domain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(organizational_domain("a.b.Example.COM."), "example.com");
  EXPECT_EQ(organizational_domain("example.com"), "example.com");
  EXPECT_EQ(organizational_domain("co.uk"), "co.uk");  // a public suffix is its own
}

TEST(DmarcEvaluate, NoRecordIsNone) {
  FakeResolver dns;
  auto out = evaluate(dns, from("example.com"));
  EXPECT_EQ(out.result, Result::kNone);
  EXPECT_EQ(out.disposition, Policy::kNone);
  EXPECT_EQ(out.applied_policy_source, "");
}

TEST(DmarcEvaluate, SpfAlignmentRelaxedAndStrict) {
  FakeResolver dns;
  dns.add("_dmarc.example.com", RType::kTXT, "v=DMARC1; p=reject");
  Input in = from("example.com");
  in.spf_result = spf::Result::kPass;
  in.spf_domain = "bounces.example.com";  // relaxed: same org domain
  auto out = evaluate(dns, in);
  EXPECT_EQ(out.result, Result::kPass);
  EXPECT_EQ(out.aligned_via, "spf");
  EXPECT_EQ(out.disposition, Policy::kNone);

  dns.add("_dmarc.strict.example", RType::kTXT, "v=DMARC1; p=reject; aspf=s");
  in.header_from_domain = "strict.example";
  in.spf_domain = "mail.strict.example";
  out = evaluate(dns, in);
  EXPECT_EQ(out.result, Result::kFail);
  EXPECT_EQ(out.disposition, Policy::kReject);
  in.spf_domain = "STRICT.example.";
  EXPECT_EQ(evaluate(dns, in).result, Result::kPass);
  // A passing SPF for an unrelated domain does not align; a softfail never does.
  in.spf_domain = "other.example";
  EXPECT_EQ(evaluate(dns, in).result, Result::kFail);
  in.spf_domain = "strict.example";
  in.spf_result = spf::Result::kSoftFail;
  EXPECT_EQ(evaluate(dns, in).result, Result::kFail);
}

TEST(DmarcEvaluate, DkimAlignment) {
  FakeResolver dns;
  dns.add("_dmarc.example.com", RType::kTXT, "v=DMARC1; p=quarantine; adkim=s");
  Input in = from("example.com");
  in.dkim = {{"example.net", true}, {"sub.example.com", true}, {"example.com", false}};
  auto out = evaluate(dns, in);
  EXPECT_EQ(out.result, Result::kFail);  // strict: sub.example.com does not align
  EXPECT_EQ(out.disposition, Policy::kQuarantine);
  in.dkim.push_back({"Example.com", true});
  out = evaluate(dns, in);
  EXPECT_EQ(out.result, Result::kPass);
  EXPECT_EQ(out.aligned_via, "dkim");

  dns.add("_dmarc.relaxed.example", RType::kTXT, "v=DMARC1; p=quarantine");
  in = from("news.relaxed.example");
  in.dkim = {{"relaxed.example", true}};
  EXPECT_EQ(evaluate(dns, in).result, Result::kPass);  // org-domain fallback + relaxed
}

TEST(DmarcEvaluate, OrgDomainFallbackWithSpAndNp) {
  FakeResolver dns;
  dns.add("_dmarc.example.co.uk", RType::kTXT, "v=DMARC1; p=reject; sp=quarantine; np=none");
  dns.add("shop.example.co.uk", RType::kA, "192.0.2.1");  // exists
  auto out = evaluate(dns, from("shop.example.co.uk"));
  EXPECT_EQ(out.result, Result::kFail);
  EXPECT_EQ(out.org_domain, "example.co.uk");
  EXPECT_EQ(out.record_domain, "example.co.uk");
  EXPECT_EQ(out.applied_policy_source, "sp");
  EXPECT_EQ(out.policy, Policy::kQuarantine);

  out = evaluate(dns, from("ghost.example.co.uk"));  // NXDOMAIN for A/AAAA/MX: np applies
  EXPECT_EQ(out.applied_policy_source, "np");
  EXPECT_EQ(out.policy, Policy::kNone);

  out = evaluate(dns, from("example.co.uk"));  // the org domain itself: p
  EXPECT_EQ(out.applied_policy_source, "p");
  EXPECT_EQ(out.policy, Policy::kReject);

  FakeResolver dns2;  // no sp/np: p applies to subdomains
  dns2.add("_dmarc.example.org", RType::kTXT, "v=DMARC1; p=reject");
  out = evaluate(dns2, from("a.b.example.org"));
  EXPECT_EQ(out.applied_policy_source, "p");
  EXPECT_EQ(out.disposition, Policy::kReject);

  FakeResolver dns3;  // a record at the subdomain wins over the org domain's
  dns3.add("_dmarc.example.org", RType::kTXT, "v=DMARC1; p=reject");
  dns3.add("_dmarc.sub.example.org", RType::kTXT, "v=DMARC1; p=none");
  out = evaluate(dns3, from("sub.example.org"));
  EXPECT_EQ(out.record_domain, "sub.example.org");
  EXPECT_EQ(out.policy, Policy::kNone);
}

TEST(DmarcEvaluate, PctSampling) {
  FakeResolver dns;
  dns.add("_dmarc.example.com", RType::kTXT, "v=DMARC1; p=reject; pct=20");
  Input in = from("example.com");
  in.random_draw = 19;  // inside the 20 %
  auto out = evaluate(dns, in);
  EXPECT_EQ(out.pct, 20);
  EXPECT_FALSE(out.sampled_out);
  EXPECT_EQ(out.disposition, Policy::kReject);
  in.random_draw = 20;  // outside: one step lower (§6.6.4)
  out = evaluate(dns, in);
  EXPECT_TRUE(out.sampled_out);
  EXPECT_EQ(out.policy, Policy::kReject);
  EXPECT_EQ(out.disposition, Policy::kQuarantine);

  FakeResolver q;
  q.add("_dmarc.example.com", RType::kTXT, "v=DMARC1; p=quarantine; pct=0");
  out = evaluate(q, in);
  EXPECT_TRUE(out.sampled_out);
  EXPECT_EQ(out.disposition, Policy::kNone);
}

TEST(DmarcEvaluate, MultipleRecordsAndBrokenRecordArePermerror) {
  FakeResolver dns;
  dns.add("_dmarc.example.com", RType::kTXT, "v=DMARC1; p=reject");
  dns.add("_dmarc.example.com", RType::kTXT, "v=DMARC1; p=none");
  dns.add("_dmarc.example.com", RType::kTXT, "some other text");
  auto out = evaluate(dns, from("example.com"));
  EXPECT_EQ(out.result, Result::kPermError);
  EXPECT_EQ(out.disposition, Policy::kNone);

  FakeResolver bad;
  bad.add("_dmarc.example.com", RType::kTXT, "v=DMARC1; p=discard");
  out = evaluate(bad, from("example.com"));
  EXPECT_EQ(out.result, Result::kPermError);
  EXPECT_EQ(out.record, "v=DMARC1; p=discard");
  EXPECT_EQ(out.disposition, Policy::kNone);

  FakeResolver only_other;  // non-DMARC TXT only: none
  only_other.add("_dmarc.example.com", RType::kTXT, "v=spf1 -all");
  EXPECT_EQ(evaluate(only_other, from("example.com")).result, Result::kNone);

  EXPECT_EQ(evaluate(bad, from("")).result, Result::kPermError);
  EXPECT_EQ(evaluate(bad, from("[192.0.2.1]")).result, Result::kPermError);
}

TEST(DmarcEvaluate, TemporaryDnsFailureIsTemperror) {
  FakeResolver dns;
  dns.set_failure("_dmarc.example.com", dns::Rcode::kTimeout);
  auto out = evaluate(dns, from("example.com"));
  EXPECT_EQ(out.result, Result::kTempError);
  EXPECT_NE(out.problem.find("TIMEOUT"), std::string::npos);

  FakeResolver org;  // the fallback lookup fails
  org.set_failure("_dmarc.example.com", dns::Rcode::kServFail);
  EXPECT_EQ(evaluate(org, from("mail.example.com")).result, Result::kTempError);
}

TEST(DmarcNames, Rfc8601) {
  EXPECT_STREQ(to_string(Result::kPass), "pass");
  EXPECT_STREQ(to_string(Result::kPermError), "permerror");
  EXPECT_STREQ(to_string(Policy::kQuarantine), "quarantine");
}

TEST(DmarcAuthorDomain, ExtractsTheFromDomain) {
  auto one = [](std::string v) {
    std::vector<std::string> f{std::move(v)};
    return author_domain(f);
  };
  EXPECT_EQ(one("John Doe <john@Example.COM>").value(), "example.com");
  EXPECT_EQ(one("john@example.com (John)").value(), "example.com");
  EXPECT_EQ(one("\"Doe, John <x@evil.example>\" <john@example.com>").value(), "example.com");
  EXPECT_EQ(one("a@example.com,\r\n b@example.com").value(), "example.com");
  EXPECT_EQ(one("team: a@example.com, b@example.com;").value(), "example.com");
  EXPECT_EQ(one("(c@evil.example) <a@example.org.>").value(), "example.org");
  auto several = one("a@example.com, b@example.net");
  ASSERT_FALSE(several.ok());
  EXPECT_EQ(several.error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(one("Undisclosed").error().kind, ErrorKind::kMalformed);
  EXPECT_EQ(one("a@[192.0.2.1]").error().kind, ErrorKind::kPermanent);
  std::vector<std::string> none;
  EXPECT_EQ(author_domain(none).error().kind, ErrorKind::kMalformed);
  std::vector<std::string> two{"a@example.com", "b@example.com"};
  EXPECT_EQ(author_domain(two).error().kind, ErrorKind::kMalformed);
}

}  // namespace
}  // namespace mailsift::dmarc
