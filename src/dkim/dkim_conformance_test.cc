// Conformance: published DKIM vectors from ../shared/testdata/dkim (see ../shared/README.md).
//   stalwart resources/dkim/00N.txt  the LAST signature passes at unix time 1667843664
//   mailauth dkim/ec/fixtures        RFC 8463 signed.eml + dns.json: both signatures pass
//   dkimpy data                      RFC 6376/8463 examples verify, malformed keys -> permerror
// Skipped: mailauth fixtures/*.eml and dkimpy message.mbox / test2.message are signed by real
// domains (gmail.com, ekiri.ee, ...) whose keys are not in the test data; the Google ARC key in
// stalwart resources/arc is used by the ARC tests instead.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dkim/dkim.h"
#include "dkim/internal.h"
#include "dkim/testing/testdata.h"
#include "dns/testing/fake_resolver.h"

namespace mailsift::dkim {
namespace {

using dkim::testing::load_stalwart;
using dkim::testing::read_file;
using dkim::testing::read_line;
using dkim::testing::shared;
using dns::testing::FakeResolver;

constexpr int64_t kStalwartNow = 1667843664;

TEST(DkimConformance, StalwartLastSignaturePasses) {
  int files = 0, passed = 0;
  for (int i = 1; i <= 6; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "dkim/stalwart-mail-auth/resources/dkim/%03d.txt", i);
    FakeResolver dns;
    std::string msg = load_stalwart(shared(name), dns);
    auto res = verify(msg, dns, kStalwartNow);
    ++files;
    ASSERT_FALSE(res.empty()) << name;
    // The last DKIM-Signature in the file is the bottom-most one.
    const auto& last = res.back();
    EXPECT_EQ(last.result, Status::kPass) << name << ": " << last.reason;
    passed += last.result == Status::kPass;
    for (const auto& r : res)
      std::printf("  %s d=%s s=%s %s: %s (%s)\n", name, r.domain.c_str(), r.selector.c_str(),
                  to_string(r.algorithm), to_string(r.result), r.reason.c_str());
  }
  std::printf("stalwart dkim: %d/%d last signatures pass\n", passed, files);
  EXPECT_EQ(files, 6);
}

TEST(DkimConformance, Rfc8463MailauthSignedEml) {
  FakeResolver dns;
  auto zone = nlohmann::json::parse(read_file(shared("dkim/mailauth/dkim/ec/fixtures/dns.json")));
  for (auto& [name, types] : zone.items()) {
    if (!types.contains("TXT"))
      continue;
    for (auto& rec : types["TXT"]) {
      std::string joined;
      for (auto& part : rec)
        joined += part.get<std::string>();
      dns.add(name, dns::RType::kTXT, joined);
    }
  }
  std::string msg = read_file(shared("dkim/mailauth/dkim/ec/fixtures/signed.eml"));
  auto res = verify(msg, dns, kStalwartNow);
  ASSERT_EQ(res.size(), 2u);
  for (const auto& r : res)
    EXPECT_EQ(r.result, Status::kPass) << to_string(r.algorithm) << ": " << r.reason;
  EXPECT_EQ(res[0].algorithm, Algorithm::kEd25519Sha256);
  EXPECT_EQ(res[1].algorithm, Algorithm::kRsaSha256);
}

// The RFC 8463 §A.2 keys as DNS: brisbane from the RFC text, test from dkimpy's test.txt.
void rfc8463_zone(FakeResolver& dns) {
  dns.add("brisbane._domainkey.football.example.com", dns::RType::kTXT,
          "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");  // RFC 8463 A.2
  std::string txt = read_line(shared("dkim/dkimpy/data/test.txt"));
  dns.add("test._domainkey.football.example.com", dns::RType::kTXT, txt);
}

TEST(DkimConformance, DkimpyRfc6376SignedMessage) {
  FakeResolver dns;
  rfc8463_zone(dns);
  auto res = verify(read_file(shared("dkim/dkimpy/data/rfc6376.signed.msg")), dns, kStalwartNow);
  ASSERT_EQ(res.size(), 2u);
  for (const auto& r : res)
    EXPECT_EQ(r.result, Status::kPass) << to_string(r.algorithm) << ": " << r.reason;
}

TEST(DkimConformance, DkimpyRfc8032SeedSignsForBrisbaneKey) {
  // RFC 8463 uses the RFC 8032 §7.1 test 1 key: signing with the seed must verify against the
  // published brisbane public key.
  std::string seed_b64 = read_file(shared("dkim/dkimpy/data/rfc8032_7_1.key"));
  auto seed = detail::base64_decode(seed_b64);
  ASSERT_TRUE(seed.has_value());
  auto key = SigningKey::from_ed25519_seed(*seed);
  ASSERT_TRUE(key.ok());
  std::string msg = read_file(shared("dkim/dkimpy/data/rfc6376.msg"));
  SignOptions o;
  o.domain = "football.example.com";
  o.selector = "brisbane";
  auto h = sign(msg, *key, o);
  ASSERT_TRUE(h.ok());
  FakeResolver dns;
  rfc8463_zone(dns);
  auto res = verify(*h + msg, dns, kStalwartNow);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].result, Status::kPass) << res[0].reason;
}

TEST(DkimConformance, DkimpyEd25519TestKeyRoundTrip) {
  auto seed = detail::base64_decode(read_file(shared("dkim/dkimpy/data/ed25519test.key")));
  ASSERT_TRUE(seed.has_value());
  auto key = SigningKey::from_ed25519_seed(*seed);
  ASSERT_TRUE(key.ok());
  std::string msg = read_file(shared("dkim/dkimpy/data/ed25519test.msg"));
  SignOptions o;
  o.domain = "football.example.com";
  o.selector = "brisbane";
  auto h = sign(msg, *key, o);
  ASSERT_TRUE(h.ok());
  FakeResolver dns;
  // ed25519test.dns is the published half of ed25519test.key.
  std::string ed = read_line(shared("dkim/dkimpy/data/ed25519test.dns"));
  EXPECT_EQ(key->dns_record(), "v=DKIM1; " + ed);
  dns.add("brisbane._domainkey.football.example.com", dns::RType::kTXT, ed);
  EXPECT_EQ(verify(*h + msg, dns, kStalwartNow)[0].result, Status::kPass);
}

TEST(DkimConformance, DkimpyEximEd25519) {
  FakeResolver dns;
  std::string txt = read_line(shared("dkim/dkimpy/data/eximtest.dns"));
  dns.add("sed._domainkey.test.ex", dns::RType::kTXT, txt);
  auto res = verify(read_file(shared("dkim/dkimpy/data/ed25519test2.msg")), dns, kStalwartNow);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].result, Status::kPass) << res[0].reason;
}

TEST(DkimConformance, DkimpyMalformedKeyRecordsArePermerror) {
  // The RFC 6376 example message signed with the test key, served with each broken record.
  std::string pem = read_file(shared("dkim/dkimpy/data/test.private"));
  auto key = SigningKey::from_pem(pem);
  ASSERT_TRUE(key.ok());
  std::string msg = read_file(shared("dkim/dkimpy/data/rfc6376.msg"));
  SignOptions o;
  o.domain = "example.com";
  o.selector = "test";
  auto h = sign(msg, *key, o);
  ASSERT_TRUE(h.ok());
  int n = 0;
  for (const char* bad : {"badk.txt", "badversion.txt", "test_bad.txt"}) {
    std::string txt = read_line(shared(std::string("dkim/dkimpy/data/") + bad));
    EXPECT_FALSE(detail::parse_key_record(txt).ok()) << bad;
    FakeResolver dns;
    dns.add("test._domainkey.example.com", dns::RType::kTXT, txt);
    auto res = verify(*h + msg, dns, kStalwartNow);
    EXPECT_EQ(res[0].result, Status::kPermError) << bad << ": " << res[0].reason;
    n += res[0].result == Status::kPermError;
  }
  // And the good records verify.
  for (const char* good : {"test.txt", "test2.txt"}) {
    std::string txt = read_line(shared(std::string("dkim/dkimpy/data/") + good));
    FakeResolver dns;
    dns.add("test._domainkey.example.com", dns::RType::kTXT, txt);
    EXPECT_EQ(verify(*h + msg, dns, kStalwartNow)[0].result, Status::kPass) << good;
  }
  std::printf("dkimpy malformed key records: %d/3 permerror\n", n);
}

}  // namespace
}  // namespace mailsift::dkim
