// The domain doctor on FakeResolver: a healthy domain, then one failure kind per test, each
// checked for its status and the exact record to publish; the HTTP extension's authentication.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bounce/bounce.h"
#include "dns/testing/fake_resolver.h"
#include "doctor/bounce_checks.h"
#include "doctor/doctor.h"
#include "doctor/doctor_api.h"

namespace mailsift::doctor {
namespace {

using dns::Rcode;
using dns::RType;
using dns::testing::FakeResolver;

std::string pem_of(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return out;
}
dkim::SigningKey rsa_key(size_t bits) {
  return dkim::SigningKey::from_pem(pem_of(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)))
      .value();
}
dkim::SigningKey ed_key() {
  return dkim::SigningKey::from_pem(pem_of(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"))).value();
}

constexpr const char* kClusters = R"(
[[cluster]]
name = "c1"
mx = ["mx1.c1.net.test", "MX2.c1.net.test."]
outbound = ["192.0.2.10", "2001:db8::10", "198.51.100.0/30"]
spf_include = "_spf.c1.net.test"
dmarc_rua = "mailto:dmarc@c1.net.test"
ptr = { "192.0.2.10" = "out1.c1.net.test", "2001:db8::10" = "out6.c1.net.test" }
[[cluster.dkim]]
selector = "sel1"
key_file = "rsa.pem"
[[cluster.dkim]]
selector = "sel2"
key_file = "ed.pem"

[[cluster]]
name = "c2"
mx = ["mx.c2.net.test"]
outbound = ["203.0.113.5"]
)";

class Doctor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new dkim::SigningKey(rsa_key(2048));  // over 255 octets: split TXT
    ed_ = new dkim::SigningKey(ed_key());
    other_ = new dkim::SigningKey(rsa_key(1024));
  }
  void SetUp() override {
    clusters = parse_clusters(kClusters).value();
    clusters.clusters[0].dkim[0].key = *rsa_;
    clusters.clusters[0].dkim[1].key = *ed_;
    healthy_zone(dns);
  }
  // good.test, all right for cluster c1. Tests remove or break one thing each.
  void healthy_zone(FakeResolver& z, bool with_spf = true, bool with_dkim1 = true,
                    bool with_dmarc = true, bool with_ptr = true) {
    z.add("good.test", RType::kMX, "10 mx1.c1.net.test");
    z.add("good.test", RType::kMX, "20 mx2.c1.net.test");
    z.add("good.test", RType::kTXT, "google-site-verification=abc");
    if (with_spf)
      z.add("good.test", RType::kTXT, "v=spf1 include:_spf.c1.net.test -all");
    z.add("_spf.c1.net.test", RType::kTXT,
          "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 ip4:198.51.100.0/30 -all");
    if (with_dkim1)
      z.add("sel1._domainkey.good.test", RType::kTXT, rsa_->dns_record());
    // sel2 is delegated to the provider's zone by CNAME.
    z.add("sel2._domainkey.good.test", RType::kCNAME, "sel2._domainkey.c1.net.test");
    z.add("sel2._domainkey.c1.net.test", RType::kTXT, ed_->dns_record());
    if (with_dmarc)
      z.add("_dmarc.good.test", RType::kTXT, "v=DMARC1; p=reject; rua=mailto:dmarc@good.test");
    if (with_ptr) {
      z.add("10.2.0.192.in-addr.arpa", RType::kPTR, "out1.c1.net.test");
      z.add("out1.c1.net.test", RType::kA, "192.0.2.10");
    }
    z.add(dns::reverse_ip("2001:db8::10") + ".ip6.arpa", RType::kPTR, "out6.c1.net.test");
    z.add("out6.c1.net.test", RType::kAAAA, "2001:db8::10");
  }
  const Finding& finding(const Report& r, std::string_view check) {
    for (const auto& f : r.findings)
      if (f.check == check)
        return f;
    ADD_FAILURE() << "no finding " << check << " in\n" << render_text(r);
    static Finding none;
    return none;
  }
  Report run(FakeResolver& z, std::string cluster = "") {
    Options o;
    o.cluster = std::move(cluster);
    return diagnose(z, clusters, "Good.Test.", o);
  }

  static dkim::SigningKey *rsa_, *ed_, *other_;
  Clusters clusters;
  FakeResolver dns;
};
dkim::SigningKey* Doctor::rsa_ = nullptr;
dkim::SigningKey* Doctor::ed_ = nullptr;
dkim::SigningKey* Doctor::other_ = nullptr;

TEST_F(Doctor, HealthyDomainPassesEveryCheck) {
  auto r = run(dns);
  EXPECT_EQ(r.status, Status::kPass) << render_text(r);
  EXPECT_EQ(r.domain, "good.test");
  EXPECT_EQ(r.cluster, "c1");
  EXPECT_EQ(r.cluster_source, "mx");
  EXPECT_EQ(r.findings.size(), 7u) << render_text(r);  // mx spf dkim*2 dmarc ptr*2
  for (const auto& f : r.findings) {
    EXPECT_EQ(f.status, Status::kPass) << f.check << ": " << f.message;
    EXPECT_TRUE(f.publish.empty()) << f.check;
  }
  EXPECT_EQ(r.spf_lookups, 1);  // the include
  EXPECT_NE(finding(r, "dkim:sel2").message.find("-> sel2._domainkey.c1.net.test"),
            std::string::npos);
  auto j = nlohmann::json::parse(render_json(r));
  EXPECT_EQ(j["status"], "pass");
  EXPECT_EQ(j["cluster"], "c1");
  EXPECT_EQ(j["spf_dns_lookups"], 1);
}

TEST_F(Doctor, StaleMxFailsWithRecordsToRemove) {
  dns.add("good.test", RType::kMX, "5 mx.oldhost.test");
  auto r = run(dns);
  const auto& f = finding(r, "mx");
  EXPECT_EQ(f.status, Status::kFail) << f.message;
  ASSERT_EQ(f.remove.size(), 1u);
  EXPECT_EQ(f.remove[0], "good.test. IN MX 5 mx.oldhost.test.");
  EXPECT_EQ(r.status, Status::kFail);
}

TEST_F(Doctor, MissingBackupMxWarnsWithTheRecord) {
  FakeResolver z;
  z.add("good.test", RType::kMX, "10 mx1.c1.net.test");
  auto r = run(z);
  const auto& f = finding(r, "mx");
  EXPECT_EQ(f.status, Status::kWarn);
  ASSERT_EQ(f.publish.size(), 1u);
  EXPECT_EQ(f.publish[0], "good.test. IN MX 20 mx2.c1.net.test.");
}

TEST_F(Doctor, ClusterUnknownListsTheMxFound) {
  FakeResolver z;
  z.add("good.test", RType::kMX, "10 mx.elsewhere.test");
  auto r = run(z);
  EXPECT_EQ(r.cluster, "");
  const auto& f = finding(r, "cluster");
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_NE(f.message.find("10 mx.elsewhere.test"), std::string::npos) << f.message;
  // With --cluster the checks run, and the MX is reported as foreign.
  auto r2 = run(z, "c1");
  EXPECT_EQ(r2.cluster_source, "option");
  EXPECT_EQ(finding(r2, "mx").status, Status::kFail);
  EXPECT_EQ(finding(r2, "mx").publish.size(), 2u);
  EXPECT_EQ(finding(run(z, "nope"), "cluster").status, Status::kFail);
}

TEST_F(Doctor, SpfMissingAnIpFailsAndProposesTheInclude) {
  FakeResolver z;
  healthy_zone(z, /*with_spf=*/false);
  z.add("good.test", RType::kTXT, "v=spf1 ip4:192.0.2.10 ~all");
  auto r = run(z);
  const auto& f = finding(r, "spf");
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_NE(f.message.find("2001:db8::10 gets spf=softfail (~all)"), std::string::npos)
      << f.message;
  EXPECT_NE(f.message.find("198.51.100.3"), std::string::npos) << f.message;  // last of the /30
  EXPECT_EQ(f.message.find("192.0.2.10 gets"), std::string::npos) << f.message;
  ASSERT_EQ(f.publish.size(), 1u);
  EXPECT_EQ(f.publish[0],
            "good.test. IN TXT \"v=spf1 ip4:192.0.2.10 include:_spf.c1.net.test ~all\"");
}

TEST_F(Doctor, NoSpfRecordFails) {
  FakeResolver z;
  healthy_zone(z, /*with_spf=*/false);
  const auto rep = run(z);
  const auto& f = finding(rep, "spf");
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_EQ(f.publish.at(0), "good.test. IN TXT \"v=spf1 include:_spf.c1.net.test -all\"");
}

TEST_F(Doctor, SpfOverTheLookupLimitFailsWithTheCount) {
  FakeResolver z;
  healthy_zone(z, /*with_spf=*/false);
  std::string rec = "v=spf1";
  for (int i = 0; i < 11; ++i) {
    rec += " include:i" + std::to_string(i) + ".test";
    z.add("i" + std::to_string(i) + ".test", RType::kTXT, "v=spf1 ip4:203.0.113.1 -all");
  }
  z.add("good.test", RType::kTXT, rec + " include:_spf.c1.net.test -all");
  auto r = run(z);
  const auto& f = finding(r, "spf");
  EXPECT_EQ(f.status, Status::kFail) << f.message;
  EXPECT_NE(f.message.find("permerror"), std::string::npos) << f.message;
  EXPECT_GT(r.spf_lookups, 10);
  EXPECT_NE(f.message.find("/10 DNS lookups"), std::string::npos);
  EXPECT_EQ(f.publish.at(0), "good.test. IN TXT \"v=spf1 include:_spf.c1.net.test -all\"");
}

TEST_F(Doctor, TwoSpfRecordsFail) {
  dns.add("good.test", RType::kTXT, "v=spf1 ip4:192.0.2.10 -all");
  const auto rep = run(dns);
  const auto& f = finding(rep, "spf");
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_EQ(f.remove.size(), 2u);
  EXPECT_EQ(f.publish.size(), 1u);
}

TEST_F(Doctor, DkimKeyMissingFailsWithTheKeyRecord) {
  FakeResolver z;
  healthy_zone(z, true, /*with_dkim1=*/false);
  auto r = run(z);
  const auto& f = finding(r, "dkim:sel1");
  EXPECT_EQ(f.status, Status::kFail);
  ASSERT_EQ(f.publish.size(), 1u);
  EXPECT_EQ(f.publish[0], "sel1._domainkey.good.test. IN TXT " + txt_rdata(rsa_->dns_record()));
  EXPECT_NE(f.publish[0].find("\" \""), std::string::npos);  // split into 255-octet strings
  EXPECT_EQ(finding(r, "dkim:sel2").status, Status::kPass);
}

TEST_F(Doctor, DkimKeyMismatchFails) {
  FakeResolver z;
  healthy_zone(z, true, /*with_dkim1=*/false);
  z.add("sel1._domainkey.good.test", RType::kTXT, other_->dns_record());
  const auto rep = run(z);
  const auto& f = finding(rep, "dkim:sel1");
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_NE(f.message.find("does not match"), std::string::npos) << f.message;
  EXPECT_EQ(f.remove.at(0), "sel1._domainkey.good.test. IN TXT " + txt_rdata(other_->dns_record()));
}

TEST_F(Doctor, NoDmarcFails) {
  FakeResolver z;
  healthy_zone(z, true, true, /*with_dmarc=*/false);
  auto r = run(z);
  const auto& f = finding(r, "dmarc");
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_EQ(f.publish.at(0),
            "_dmarc.good.test. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@c1.net.test\"");
}

TEST_F(Doctor, DmarcPolicyNoneWarns) {
  FakeResolver z;
  healthy_zone(z, true, true, /*with_dmarc=*/false);
  z.add("_dmarc.good.test", RType::kTXT, "v=DMARC1; p=none; pct=50; rua=mailto:d@good.test");
  auto r = run(z);
  const auto& f = finding(r, "dmarc");
  EXPECT_EQ(f.status, Status::kWarn) << f.message;
  EXPECT_EQ(r.status, Status::kWarn);
  EXPECT_NE(f.message.find("p=none"), std::string::npos);
  EXPECT_NE(f.message.find("pct=50"), std::string::npos);
  EXPECT_EQ(f.publish.at(0),
            "_dmarc.good.test. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:d@good.test\"");
}

TEST_F(Doctor, DmarcExternalReportAddressNeedsAuthorisation) {
  FakeResolver z;
  healthy_zone(z, true, true, /*with_dmarc=*/false);
  z.add("_dmarc.good.test", RType::kTXT, "v=DMARC1; p=reject; rua=mailto:r@reports.test");
  const auto rep = run(z);
  const auto& f = finding(rep, "dmarc");
  EXPECT_EQ(f.status, Status::kWarn) << f.message;
  EXPECT_EQ(f.publish.at(0), "good.test._report._dmarc.reports.test. IN TXT \"v=DMARC1\"");
}

TEST_F(Doctor, PtrMissingFailsWithPtrAndARecords) {
  FakeResolver z;
  healthy_zone(z, true, true, true, /*with_ptr=*/false);
  const auto rep = run(z);
  const auto& f = finding(rep, "ptr:192.0.2.10");
  EXPECT_EQ(f.status, Status::kFail);
  ASSERT_EQ(f.publish.size(), 2u);
  EXPECT_EQ(f.publish[0], "10.2.0.192.in-addr.arpa. IN PTR out1.c1.net.test.");
  EXPECT_EQ(f.publish[1], "out1.c1.net.test. IN A 192.0.2.10");
}

TEST_F(Doctor, PtrNotForwardConfirmedFails) {
  FakeResolver z;
  healthy_zone(z, true, true, true, /*with_ptr=*/false);
  z.add("10.2.0.192.in-addr.arpa", RType::kPTR, "out1.c1.net.test");
  z.add("out1.c1.net.test", RType::kA, "192.0.2.99");
  const auto rep = run(z);
  const auto& f = finding(rep, "ptr:192.0.2.10");
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_NE(f.message.find("does not resolve back"), std::string::npos);
  EXPECT_EQ(f.publish, std::vector<std::string>{"out1.c1.net.test. IN A 192.0.2.10"});
}

TEST_F(Doctor, TemporaryDnsErrorsAreNeverPass) {
  dns.set_failure("_spf.c1.net.test", Rcode::kServFail);
  dns.set_failure("sel1._domainkey.good.test", Rcode::kTimeout);
  dns.set_failure("_dmarc.good.test", Rcode::kRefused);
  auto r = run(dns);
  EXPECT_EQ(finding(r, "spf").status, Status::kTempError) << finding(r, "spf").message;
  EXPECT_EQ(finding(r, "dkim:sel1").status, Status::kTempError);
  EXPECT_EQ(finding(r, "dmarc").status, Status::kTempError);
  EXPECT_NE(finding(r, "dmarc").message.find("could not check (temporary)"), std::string::npos);
  EXPECT_EQ(r.status, Status::kTempError);
  EXPECT_NE(render_text(r).find("could not check"), std::string::npos);
  // MX lookup failing: the cluster cannot be told either.
  FakeResolver z;
  z.set_failure("good.test", Rcode::kServFail);
  auto r2 = run(z);
  EXPECT_EQ(finding(r2, "cluster").status, Status::kTempError);
  EXPECT_EQ(finding(run(z, "c1"), "mx").status, Status::kTempError);
}

TEST_F(Doctor, NotADomain) {
  auto r = diagnose(dns, clusters, "not a domain");
  EXPECT_EQ(r.status, Status::kFail);
  EXPECT_EQ(r.findings.at(0).check, "domain");
}

// A bounce of mail from good.test refused for SPF/DMARC (RFC 7372 codes in the reply).
bounce::Report auth_bounce(std::string_view reply, std::string_view sender = "ann@good.test") {
  std::string raw = fmt::format(
      "From: MAILER-DAEMON@mx.c1.net.test\nTo: {0}\nSubject: Undelivered Mail Returned to Sender\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
      "--B\nContent-Type: text/plain\n\n<bob@far.test>: host mx.far.test[203.0.113.9] said: {1}\n"
      "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.c1.net.test\n\n"
      "Final-Recipient: rfc822; bob@far.test\nAction: failed\nDiagnostic-Code: smtp; {1}\n\n"
      "--B\nContent-Type: text/rfc822-headers\n\nFrom: {0}\nTo: bob@far.test\nSubject: hi\n\n"
      "--B--\n",
      sender, reply);
  return bounce::parse(raw).value();
}

const bounce::LiveCheck* live(const bounce::Report& r, std::string_view check) {
  for (const auto& c : r.recipients.at(0).advice.live)
    if (c.check == check)
      return &c;
  return nullptr;
}

TEST_F(Doctor, BounceChecksRunTheRecordsTheBounceBlames) {
  // SPF missing from the sender's domain: the bounce's SPF advice becomes the doctor's finding
  // with the record to publish; DKIM and DMARC were not blamed, so not reported.
  FakeResolver z;
  healthy_zone(z, /*with_spf=*/false);
  auto rep = auth_bounce("550 5.7.23 SPF validation failed for good.test");
  ASSERT_EQ(rep.recipients.size(), 1u);
  ASSERT_EQ(rep.recipients[0].advice.checks, std::vector<std::string>{"spf:good.test"});
  run_bounce_checks(rep, z, clusters);
  const auto& lv = rep.recipients[0].advice.live;
  ASSERT_EQ(lv.size(), 1u);
  EXPECT_EQ(lv[0].check, "spf");
  EXPECT_EQ(lv[0].status, "fail") << lv[0].message;
  ASSERT_FALSE(lv[0].publish.empty());
  EXPECT_NE(lv[0].publish[0].find("include:_spf.c1.net.test"), std::string::npos);
  auto j = nlohmann::json::parse(bounce::to_json(rep));
  EXPECT_EQ(j["recipients"][0]["advice"]["live"][0]["status"], "fail");
  EXPECT_NE(bounce::to_text(rep).find("live spf fail"), std::string::npos);

  // Healthy domain, DMARC blamed: pass, nothing to publish.
  auto ok = auth_bounce(
      "550 5.7.26 Unauthenticated email from good.test is not accepted due to "
      "its DMARC policy");
  run_bounce_checks(ok, dns, clusters);
  const auto* d = live(ok, "dmarc");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->status, "pass") << d->message;
}

TEST_F(Doctor, BounceChecksWithoutAClusterSayWhatCouldNotBeChecked) {
  // No clusters file: SPF and DKIM need the cluster's IPs and keys, DMARC is checked anyway.
  auto rep = auth_bounce("550 5.7.1 Message rejected: SPF, DKIM and DMARC checks failed");
  run_bounce_checks(rep, dns, Clusters{});
  const auto* spf = live(rep, "spf");
  const auto* dkim = live(rep, "dkim");
  const auto* dmarc = live(rep, "dmarc");
  ASSERT_NE(spf, nullptr);
  ASSERT_NE(dkim, nullptr);
  ASSERT_NE(dmarc, nullptr);
  EXPECT_EQ(spf->status, "fail");
  EXPECT_EQ(spf->message.rfind("not checked: ", 0), 0u) << spf->message;
  EXPECT_EQ(dmarc->status, "pass") << dmarc->message;
  // A temporary DNS failure is never a pass.
  FakeResolver broken;
  healthy_zone(broken);
  broken.set_failure("_dmarc.good.test", Rcode::kServFail);
  auto again = auth_bounce("550 5.7.26 DMARC policy rejection");
  run_bounce_checks(again, broken, clusters);
  ASSERT_NE(live(again, "dmarc"), nullptr);
  EXPECT_EQ(live(again, "dmarc")->status, "temperror");
}

TEST_F(Doctor, BounceChecksRunIprevOfTheRefusedIp) {
  auto rep = bounce::parse(
                 "From: MAILER-DAEMON@mx.c1.net.test\nTo: ann@good.test\n"
                 "Subject: Undelivered Mail Returned to Sender\n\n"
                 "<bob@far.test>: host mx.far.test[203.0.113.9] said: 550 5.7.25 Client host "
                 "[192.0.2.10] rejected: the IP address has no PTR record\n")
                 .value();
  ASSERT_EQ(rep.recipients.size(), 1u);
  ASSERT_EQ(rep.recipients[0].reason, "requireptr");
  run_bounce_checks(rep, dns, clusters);
  const auto* p = live(rep, "ptr:192.0.2.10");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->status, "pass") << p->message;
  FakeResolver none;
  run_bounce_checks(rep, none, clusters);
  p = live(rep, "ptr:192.0.2.10");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->status, "fail") << p->message;
}

TEST(DoctorClusters, ParsesNetworksAndRejectsBadFiles) {
  auto n = parse_network("198.51.100.0/30").value();
  EXPECT_EQ(n.first, "198.51.100.0");
  EXPECT_EQ(n.last, "198.51.100.3");
  EXPECT_FALSE(n.single());
  auto v6 = parse_network("2001:db8::/126").value();
  EXPECT_EQ(v6.last, "2001:db8::3");
  EXPECT_TRUE(parse_network("2001:db8::10").value().single());
  EXPECT_FALSE(parse_network("198.51.100.1/30"));  // host bits
  EXPECT_FALSE(parse_network("10.0.0.0/33"));
  EXPECT_FALSE(parse_network("mx.example"));
  EXPECT_FALSE(parse_network(std::string_view("1.2.3.4\0x", 9)));                // no NUL smuggling
  EXPECT_FALSE(parse_clusters("[[cluster]]\nname=\"a\"\nmx=[\"m.a.test\"]\n"));  // no outbound
  EXPECT_FALSE(parse_clusters(
      "[[cluster]]\nname=\"a\"\nmx=[\"m.a.test\"]\noutbound=[\"1.2.3.4\"]\ntypo=1\n"));
  EXPECT_FALSE(parse_clusters("not toml ["));
  auto e =
      parse_clusters("[[cluster]]\nname=\"a\"\nmx=[\"m.a.test\"]\noutbound=[\"1.2.3.4/33\"]\n");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, ErrorKind::kConfig);
  EXPECT_NE(e.error().message.find("cluster 'a'.outbound"), std::string::npos);
  EXPECT_FALSE(load_clusters_file("/nonexistent/clusters.toml"));
}

// ---- HTTP ---------------------------------------------------------------------------------

class DoctorApiTest : public Doctor {
 protected:
  void SetUp() override {
    Doctor::SetUp();
    store = tenant::make_memory_tenant_store();
    auto clock = [] { return int64_t{1'800'000'000}; };
    ASSERT_TRUE(tenant::add_reseller(*store, clock, "acme", "Acme"));
    ASSERT_TRUE(tenant::add_reseller(*store, clock, "other", "Other"));
    ASSERT_TRUE(tenant::add_domain(*store, clock, "good.test", "acme"));
    ASSERT_TRUE(tenant::add_domain(*store, clock, "theirs.test", "other"));
    admin = tenant::create_api_key(*store, clock, tenant::Role::kAdmin, "", "a").value().key;
    acme = tenant::create_api_key(*store, clock, tenant::Role::kReseller, "acme", "r").value().key;
  }
  http::ApiReply get(DoctorApi& api, std::string path, std::string key) {
    std::string auth = key.empty() ? "" : "Bearer " + key;
    http::ApiCall call{"GET", path, query, auth, ""};
    return api.handle(call);
  }
  std::unique_ptr<tenant::TenantStore> store;
  std::string admin, acme;
  std::vector<std::pair<std::string, std::string>> query;
};

TEST_F(DoctorApiTest, KeysDecideWhoMayDiagnoseWhat) {
  DoctorApi api(*store, &clusters, &dns, nullptr);
  EXPECT_TRUE(api.handles("/api/v1/doctor/good.test"));
  EXPECT_FALSE(api.handles("/api/v1/scan"));
  EXPECT_EQ(get(api, "/api/v1/doctor/good.test", "").status, 401);
  EXPECT_EQ(get(api, "/api/v1/doctor/good.test", "msk_wrong").status, 401);
  auto ok = get(api, "/api/v1/doctor/good.test", acme);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(nlohmann::json::parse(ok.body)["status"], "pass");
  EXPECT_EQ(get(api, "/api/v1/doctor/theirs.test", acme).status, 403);
  EXPECT_EQ(get(api, "/api/v1/doctor/unknown.test", acme).status, 403);
  EXPECT_EQ(get(api, "/api/v1/doctor/theirs.test", admin).status, 200);
  EXPECT_EQ(get(api, "/api/v1/doctor/not_a domain", admin).status, 400);
  query = {{"cluster", "c2"}};
  auto c2 = nlohmann::json::parse(get(api, "/api/v1/doctor/good.test", admin).body);
  EXPECT_EQ(c2["cluster"], "c2");
  EXPECT_EQ(c2["status"], "fail");
  DoctorApi unconfigured(*store, nullptr, nullptr, nullptr);
  EXPECT_EQ(get(unconfigured, "/api/v1/doctor/good.test", admin).status, 500);
}

}  // namespace
}  // namespace mailsift::doctor
