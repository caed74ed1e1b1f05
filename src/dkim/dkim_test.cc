// Unit tests: tag lists, canonicalisation, key records, verify outcomes, sign/verify round trips.
#include "dkim/dkim.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "dkim/internal.h"
#include "dkim/testing/testdata.h"
#include "dns/testing/fake_resolver.h"

namespace mailsift::dkim {
namespace {

using dkim::testing::read_file;
using dkim::testing::shared;
using dns::testing::FakeResolver;
using namespace detail;

const char kMessage[] =
    "From: Joe <joe@example.com>\r\n"
    "To: Suzie <suzie@example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    "Message-ID: <1@example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n\r\n";

constexpr int64_t kNow = 1700000000;

TEST(DkimTagList, ParsesAndRejects) {
  auto t = parse_tag_list(" v=1; a = rsa-sha256 ;\r\n\th=from : to;");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[1].name, "a");
  EXPECT_EQ((*t)[1].value, "rsa-sha256");
  EXPECT_EQ((*t)[2].value, "from : to");
  EXPECT_FALSE(parse_tag_list("v=1; v=2").ok());      // duplicate
  EXPECT_FALSE(parse_tag_list("v=1; novalue").ok());  // no '='
  EXPECT_FALSE(parse_tag_list("1v=1").ok());          // bad name
  EXPECT_FALSE(parse_tag_list("v=1;; a=b").ok());     // empty spec in the middle
  EXPECT_TRUE(parse_tag_list("v=1;").ok());
}

TEST(DkimCanon, RelaxedHeaderAndBody) {
  std::string out;
  append_canon_header(out, "SUBJect \t:  A  \r\n\t b\t \r\n", Canon::kRelaxed, true);
  EXPECT_EQ(out, "subject:A b\r\n");
  EXPECT_EQ(canon_body(" C \r\nD \t E\r\n\r\n\r\n", Canon::kRelaxed), " C\r\nD E\r\n");
  EXPECT_EQ(canon_body("", Canon::kRelaxed), "");
  EXPECT_EQ(canon_body("", Canon::kSimple), "\r\n");
  EXPECT_EQ(canon_body("x\r\n\r\n", Canon::kSimple), "x\r\n");
  EXPECT_EQ(canon_body("x", Canon::kSimple), "x\r\n");
}

TEST(DkimCanon, StripB) {
  EXPECT_EQ(strip_b_value("DKIM-Signature: a=x; b=abc\r\n def; bh=zz\r\n"),
            "DKIM-Signature: a=x; b=; bh=zz\r\n");
  EXPECT_EQ(strip_b_value("DKIM-Signature: bh=zz; b=abc\r\n def\r\n"),
            "DKIM-Signature: bh=zz; b=\r\n");
}

TEST(DkimMessage, LfOnlyIsReadAsCrlf) {
  auto m = parse_message("A: 1\n folded\nB: 2\n\nbody\n");
  ASSERT_EQ(m.headers.size(), 2u);
  EXPECT_EQ(m.headers[0].raw, "A: 1\r\n folded\r\n");
  EXPECT_EQ(m.body, "body\r\n");
}

TEST(DkimKeyRecord, Flags) {
  auto k = SigningKey::from_pem(read_file(shared("dkim/mailauth/fixtures/private-rsa.pem")));
  ASSERT_TRUE(k.ok());
  std::string rec = k->dns_record();
  auto r = parse_key_record(rec + "; t=y:s; h=sha256");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->testing);
  EXPECT_TRUE(r->strict);
  EXPECT_GE(r->key.bits, 1024u);
  EXPECT_TRUE(parse_key_record("v=DKIM1; p=")->revoked);
  EXPECT_FALSE(parse_key_record("k=rsa; v=DKIM1; p=").ok());  // v= not first
  EXPECT_FALSE(parse_key_record("v=DKIM2; p=").ok());
  EXPECT_FALSE(parse_key_record("v=DKIM1; k=dsa; p=").ok());
  EXPECT_FALSE(parse_key_record("v=DKIM1; s=web; p=").ok());
  EXPECT_FALSE(parse_key_record("v=DKIM1; p=!!!").ok());
  EXPECT_FALSE(parse_key_record("v=DKIM1; k=ed25519; p=AAAA").ok());
}

struct Signed {
  std::string message;
  FakeResolver dns;
};

void serve(FakeResolver& dns, const SigningKey& key, const std::string& extra = "") {
  dns.add("sel._domainkey.example.com", dns::RType::kTXT, key.dns_record() + extra);
}

std::string sign_or_die(const std::string& msg, const SigningKey& key, SignOptions o = {}) {
  if (o.domain.empty())
    o.domain = "example.com";
  if (o.selector.empty())
    o.selector = "sel";
  auto h = sign(msg, key, o);
  EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
  return h.ok() ? *h + msg : msg;
}

SigningKey pem_key(const char* file) {
  return SigningKey::from_pem(read_file(shared(std::string("dkim/mailauth/fixtures/") + file)))
      .value();
}

TEST(DkimRoundTrip, RsaAndEd25519AllCanonicalisations) {
  for (const char* file : {"private-rsa.pem", "private-ed25519.pem"}) {
    SigningKey key = pem_key(file);
    for (bool rh : {false, true}) {
      for (bool rb : {false, true}) {
        SignOptions o;
        o.relaxed_header = rh;
        o.relaxed_body = rb;
        o.timestamp = kNow;
        std::string signed_msg = sign_or_die(kMessage, key, o);
        FakeResolver dns;
        serve(dns, key);
        auto res = verify(signed_msg, dns, kNow);
        ASSERT_EQ(res.size(), 1u);
        EXPECT_EQ(res[0].result, Status::kPass) << file << " " << rh << rb << res[0].reason;
        EXPECT_EQ(res[0].algorithm,
                  key.ed25519() ? Algorithm::kEd25519Sha256 : Algorithm::kRsaSha256);
        EXPECT_EQ(res[0].domain, "example.com");
        EXPECT_EQ(res[0].header_b.size(), 8u);
      }
    }
  }
}

TEST(DkimRoundTrip, TamperingFails) {
  SigningKey key = pem_key("private-rsa.pem");
  std::string s = sign_or_die(kMessage, key);
  FakeResolver dns;
  serve(dns, key);
  std::string body_changed = s;
  body_changed.replace(body_changed.find("lost"), 4, "won!");
  EXPECT_EQ(verify(body_changed, dns, kNow)[0].reason, "body hash mismatch");
  std::string subj = s;
  subj.replace(subj.find("dinner"), 6, "lunch!");
  EXPECT_EQ(verify(subj, dns, kNow)[0].result, Status::kFail);
  // From is over-signed: adding a second From breaks the signature.
  std::string extra_from = s + "";
  extra_from.insert(extra_from.find("From:"), "From: evil@example.org\r\n");
  EXPECT_EQ(verify(extra_from, dns, kNow)[0].result, Status::kFail);
  // Relaxed: whitespace changes in the body and header case do not matter.
  std::string ws = s;
  ws.replace(ws.find("game.  Are"), 10, "game. \t Are");
  EXPECT_EQ(verify(ws, dns, kNow)[0].result, Status::kPass);
}

TEST(DkimRoundTrip, LfOnlyMessageVerifies) {
  SigningKey key = pem_key("private-ed25519.pem");
  std::string s = sign_or_die(kMessage, key);
  std::string lf;
  for (char c : s)
    if (c != '\r')
      lf += c;
  FakeResolver dns;
  serve(dns, key);
  EXPECT_EQ(verify(lf, dns, kNow)[0].result, Status::kPass);
}

TEST(DkimVerify, KeyAndTimeOutcomes) {
  SigningKey key = pem_key("private-rsa.pem");
  SignOptions o;
  o.timestamp = kNow;
  o.expiration = kNow + 100;
  std::string s = sign_or_die(kMessage, key, o);
  {
    FakeResolver dns;  // no key at all
    EXPECT_EQ(verify(s, dns, kNow)[0].result, Status::kPermError);
  }
  {
    FakeResolver dns;
    dns.set_failure("sel._domainkey.example.com", dns::Rcode::kTimeout);
    EXPECT_EQ(verify(s, dns, kNow)[0].result, Status::kTempError);
  }
  {
    FakeResolver dns;
    dns.add("sel._domainkey.example.com", dns::RType::kTXT, "v=DKIM1; p=");
    auto r = verify(s, dns, kNow)[0];
    EXPECT_EQ(r.result, Status::kPermError);
    EXPECT_EQ(r.reason, "key revoked (empty p=)");
  }
  {
    FakeResolver dns;
    serve(dns, key, "; t=y");
    auto r = verify(s, dns, kNow + 101)[0];
    EXPECT_EQ(r.result, Status::kPermError);
    EXPECT_EQ(r.reason, "signature expired (x=)");
    r = verify(s, dns, kNow)[0];
    EXPECT_EQ(r.result, Status::kPass);
    EXPECT_TRUE(r.testing);
  }
  {
    FakeResolver dns;
    serve(dns, key, "; h=sha1");
    EXPECT_EQ(verify(s, dns, kNow)[0].result, Status::kPolicy);
  }
  {
    FakeResolver dns;  // an ed25519 key for an rsa signature
    dns.add("sel._domainkey.example.com", dns::RType::kTXT,
            pem_key("private-ed25519.pem").dns_record());
    EXPECT_EQ(verify(s, dns, kNow)[0].result, Status::kPermError);
  }
}

TEST(DkimVerify, OversignedMissingHeaderAndClock) {
  SigningKey key = pem_key("private-ed25519.pem");
  SignOptions o;
  o.oversign = {"from", "reply-to"};  // Reply-To is absent: h= names it, adding one breaks
  o.timestamp = kNow;
  std::string s = sign_or_die(kMessage, key, o);
  EXPECT_NE(s.find("reply-to"), std::string::npos);
  FakeResolver dns;
  serve(dns, key);
  EXPECT_EQ(verify(s, dns, kNow)[0].result, Status::kPass);
  std::string added = s;
  added.insert(added.find("Subject:"), "Reply-To: evil@example.org\r\n");
  EXPECT_EQ(verify(added, dns, kNow)[0].result, Status::kFail);
  // t= two days ahead of the verifier's clock: permerror (one day of skew is tolerated).
  EXPECT_EQ(verify(s, dns, kNow - 2 * 86400)[0].result, Status::kPermError);
  EXPECT_EQ(verify(s, dns, kNow - 3600)[0].result, Status::kPass);
}

TEST(DkimVerify, StrictKeyAndIdentity) {
  SigningKey key = pem_key("private-rsa.pem");
  SignOptions o;
  o.identity = "joe@sub.example.com";
  std::string s = sign_or_die(kMessage, key, o);
  FakeResolver dns;
  serve(dns, key);
  EXPECT_EQ(verify(s, dns, kNow)[0].result, Status::kPass);
  FakeResolver strict;
  serve(strict, key, "; t=s");
  EXPECT_EQ(verify(s, strict, kNow)[0].result, Status::kPolicy);
  o.identity = "joe@example.org";
  std::string bad = sign_or_die(kMessage, key, o);
  EXPECT_EQ(verify(bad, dns, kNow)[0].result, Status::kNeutral);
}

TEST(DkimVerify, SmallRsaKeyIsPermerror) {
  SigningKey key = pem_key("private-small.pem");
  ASSERT_LT(key.bits(), 1024u);
  std::string s = sign_or_die(kMessage, key);
  FakeResolver dns;
  serve(dns, key);
  auto r = verify(s, dns, kNow)[0];
  EXPECT_EQ(r.result, Status::kPermError);
  EXPECT_EQ(r.key_bits, key.bits());
}

TEST(DkimVerify, Sha1IsWeakButPasses) {
  SigningKey key = pem_key("private-rsa.pem");
  SignOptions o;
  o.rsa_sha1 = true;
  std::string s = sign_or_die(kMessage, key, o);
  FakeResolver dns;
  serve(dns, key);
  auto r = verify(s, dns, kNow)[0];
  EXPECT_EQ(r.result, Status::kPass);
  EXPECT_TRUE(r.weak);
}

TEST(DkimVerify, LengthTagReportsUnsignedBytes) {
  SigningKey key = pem_key("private-rsa.pem");
  SignOptions o;
  o.body_length_tag = true;
  std::string s = sign_or_die(kMessage, key, o);
  FakeResolver dns;
  serve(dns, key);
  EXPECT_EQ(verify(s, dns, kNow)[0].result, Status::kPass);
  auto r = verify(s + "Appended by an attacker\r\n", dns, kNow)[0];
  EXPECT_EQ(r.result, Status::kPass);
  EXPECT_EQ(r.unsigned_body_bytes, 29u);  // two kept empty lines + the line
  EXPECT_NE(r.reason.find("29 body bytes unsigned"), std::string::npos);
  std::string with_l = sign_or_die(kMessage, key);
  with_l.insert(with_l.find("h="), "l=99999; ");
  r = verify(with_l, dns, kNow)[0];
  EXPECT_EQ(r.result, Status::kFail);
  EXPECT_EQ(r.reason, "l= is longer than the body");
}

TEST(DkimVerify, SignatureLimitAndSyntax) {
  SigningKey key = pem_key("private-ed25519.pem");
  std::string s = sign_or_die(kMessage, key);
  for (int i = 0; i < 11; ++i)
    s = sign_or_die(s, key);
  FakeResolver dns;
  serve(dns, key);
  auto res = verify(s, dns, kNow);
  ASSERT_EQ(res.size(), 12u);
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(res[i].result, Status::kPass) << i;
  EXPECT_EQ(res[10].result, Status::kNeutral);
  EXPECT_EQ(res[10].domain, "example.com");
  EXPECT_EQ(dns.lookups(), 1u);  // one query for the shared key
  std::string junk = std::string("DKIM-Signature: v=1; a=rsa-sha256; garbage\r\n") + kMessage;
  EXPECT_EQ(verify(junk, dns, kNow)[0].result, Status::kNeutral);
}

}  // namespace
}  // namespace mailsift::dkim
