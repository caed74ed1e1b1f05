// Signing in mailsiftd: the key table, key files, DKIM signatures that the project's verifier
// accepts (through FakeResolver), and ARC seals that the project's validator accepts.
#include "signing/signing.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "arc/arc.h"
#include "dkim/testing/testdata.h"
#include "dns/testing/fake_resolver.h"

namespace mailsift::signing {
namespace {

using dkim::testing::read_file;
using dkim::testing::shared;
using dns::testing::FakeResolver;

constexpr int64_t kNow = 1780000000;

const char kMessage[] =
    "From: Joe <joe@example.com>\r\n"
    "To: Suzie <suzie@example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    "Message-ID: <1@example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n";

std::string fixture(const char* file) {
  return shared(std::string("dkim/mailauth/fixtures/") + file);
}

dkim::SigningKey key_of(const char* file) {
  return load_key_file(fixture(file)).value();
}

Signer signer_for(const char* file, const std::string& domain = "example.com",
                  bool subdomains = true) {
  KeyEntry e;
  e.domain = domain;
  e.selector = "s1";
  e.path = fixture(file);
  e.key = key_of(file);
  return Signer({std::move(e)}, {}, subdomains);
}

void publish(FakeResolver& dns, const dkim::SigningKey& key, const std::string& name) {
  dns.add(name, dns::RType::kTXT, key.dns_record());
}

std::vector<dkim::SignatureResult> verify(const std::string& msg, dns::Resolver& dns) {
  return dkim::verify(msg, dns, kNow + 10);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

TEST(SigningKeyTable, ParsesEntriesAndRejectsBadOnes) {
  auto t = parse_key_table("Example.COM:s1:/k/a.pem,\n b.example:sel-2:/k/b.key ; # comment\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].domain, "example.com");
  EXPECT_EQ((*t)[0].selector, "s1");
  EXPECT_EQ((*t)[0].path, "/k/a.pem");
  EXPECT_EQ((*t)[1].domain, "b.example");
  EXPECT_EQ((*t)[1].path, "/k/b.key");
  EXPECT_TRUE(parse_key_table("").value().empty());
  for (const char* bad : {"example.com:s1", "example.com::/k", "ex ample.com:s:/k", "a..b:s:/k",
                          "a.example:s:/k,a.example:t:/k2", "a.example:s/x:/k"}) {
    auto r = parse_key_table(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig) << bad;
  }
}

TEST(SigningKeyFile, BadFilesAreConfigErrorsNamingThePath) {
  auto missing = load_key_file("/nonexistent/dkim.pem");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kConfig);
  EXPECT_NE(missing.error().message.find("/nonexistent/dkim.pem"), std::string::npos);

  char path[] = "/tmp/mailsift-signing-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  { std::ofstream(path) << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"; }
  auto garbage = load_key_file(path);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().kind, ErrorKind::kConfig);
  EXPECT_NE(garbage.error().message.find(path), std::string::npos);
  { std::ofstream(path) << "c2hvcnQ=\n"; }  // base64, but not 32 bytes
  EXPECT_FALSE(load_key_file(path).ok());
  // dkimpy's raw seed format: RFC 8032 §7.1 test 1's secret key, base64.
  { std::ofstream(path) << "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n"; }
  auto seed = load_key_file(path);
  ASSERT_TRUE(seed.ok()) << seed.error().message;
  EXPECT_TRUE(seed->ed25519());
  std::remove(path);

  // Through the config: the reload fails with the file named, nothing crashes.
  Config c;
  ASSERT_TRUE(c.set("dkim_sign.enabled", "true").ok());
  ASSERT_TRUE(c.set("dkim_sign.keys", "example.com:s1:/nonexistent/k.pem").ok());
  auto s = Signer::from_config(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
  EXPECT_NE(s.error().message.find("/nonexistent/k.pem"), std::string::npos);
  ASSERT_TRUE(c.set("dkim_sign.keys", "").ok());
  EXPECT_FALSE(Signer::from_config(c).ok());  // enabled without keys
  ASSERT_TRUE(c.set("dkim_sign.keys", "example.com:s1:" + fixture("private-rsa.pem")).ok());
  ASSERT_TRUE(c.set("dkim_sign.headers", "subject:to").ok());
  EXPECT_FALSE(Signer::from_config(c).ok());  // From must be signed
  ASSERT_TRUE(c.set("dkim_sign.headers", "").ok());
  ASSERT_TRUE(c.set("dkim_sign.canonicalization", "loose/relaxed").ok());
  EXPECT_FALSE(Signer::from_config(c).ok());
  ASSERT_TRUE(c.set("dkim_sign.canonicalization", "relaxed/relaxed").ok());
  auto good = Signer::from_config(c);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_TRUE((*good)->dkim_enabled());
  EXPECT_FALSE((*good)->arc_enabled());
}

TEST(SigningDkim, RsaAndEd25519SignaturesVerify) {
  for (const char* file : {"private-rsa.pem", "private-ed25519.pem"}) {
    Signer signer = signer_for(file);
    auto field = signer.dkim_sign(kMessage, "joe@example.com", kNow);
    ASSERT_TRUE(field.ok()) << field.error().message;
    ASSERT_TRUE(field->has_value()) << file;
    const Field& f = **field;
    EXPECT_EQ(f.name, "DKIM-Signature");
    EXPECT_NE(f.value.find("c=relaxed/relaxed"), std::string::npos);
    EXPECT_NE(f.value.find("d=example.com"), std::string::npos);
    EXPECT_NE(
        f.value.find(std::string("a=") + (std::string(file).find("ed25519") != std::string::npos
                                              ? "ed25519-sha256"
                                              : "rsa-sha256")),
        std::string::npos);
    EXPECT_EQ(f.value.find('\r'), std::string::npos);  // milter form: "\n\t" folds
    FakeResolver dns;
    publish(dns, key_of(file), "s1._domainkey.example.com");
    auto results = verify(f.field + kMessage, dns);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].result, dkim::Status::kPass) << file << ": " << results[0].reason;

    // Relaxed/relaxed survives what MTAs do to whitespace: refolded headers, trailing spaces,
    // runs of blanks, extra empty lines at the end.
    std::string changed = f.field + kMessage;
    changed =
        replace_all(changed, "Subject: Is dinner ready?", "Subject:   Is dinner\r\n\tready?  ");
    changed = replace_all(changed, "the game.  Are", "the game. \t Are");
    changed += "\r\n\r\n";
    results = verify(changed, dns);
    EXPECT_EQ(results[0].result, dkim::Status::kPass) << file << ": " << results[0].reason;

    // A content change does not.
    std::string tampered = replace_all(f.field + kMessage, "hungry", "angry");
    results = verify(tampered, dns);
    EXPECT_EQ(results[0].result, dkim::Status::kFail) << file;
  }
}

TEST(SigningDkim, FromIsOversignedAndNoLengthTag) {
  Signer signer = signer_for("private-ed25519.pem");
  auto field = signer.dkim_sign(kMessage, "", kNow);
  ASSERT_TRUE(field.ok() && field->has_value());
  std::string unfolded;
  for (char c : (*field)->value)
    if (c != '\n' && c != '\t' && c != ' ')
      unfolded += c;
  EXPECT_NE(unfolded.find("h=from:from:"), std::string::npos) << unfolded;  // From + 1 extra
  EXPECT_EQ(unfolded.find(";l="), std::string::npos);  // no l=: appended content must fail
  EXPECT_NE(unfolded.find(";t=1780000000"), std::string::npos);
  FakeResolver dns;
  publish(dns, key_of("private-ed25519.pem"), "s1._domainkey.example.com");
  // A second From added above (a replay with another author) breaks the signature.
  std::string forged = (*field)->field + "From: Mallory <m@evil.example>\r\n" + kMessage;
  EXPECT_NE(verify(forged, dns)[0].result, dkim::Status::kPass);
  // Content appended to the body breaks it (no l=).
  EXPECT_EQ(verify((*field)->field + kMessage + "Buy now!\r\n", dns)[0].result,
            dkim::Status::kFail);
}

TEST(SigningDkim, ConfiguredHeaderSetAndCanonicalisation) {
  Config c;
  ASSERT_TRUE(c.set("dkim_sign.enabled", "true").ok());
  ASSERT_TRUE(c.set("dkim_sign.keys", "example.com:s1:" + fixture("private-rsa.pem")).ok());
  ASSERT_TRUE(c.set("dkim_sign.headers", "From:Subject").ok());
  ASSERT_TRUE(c.set("dkim_sign.canonicalization", "simple/simple").ok());
  ASSERT_TRUE(c.set("dkim_sign.expire_seconds", "3600").ok());
  auto signer = Signer::from_config(c);
  ASSERT_TRUE(signer.ok()) << signer.error().message;
  auto field = (*signer)->dkim_sign(kMessage, "", kNow);
  ASSERT_TRUE(field.ok() && field->has_value());
  std::string v;
  for (char c2 : (*field)->value)
    if (c2 != '\n' && c2 != '\t' && c2 != ' ')
      v += c2;
  EXPECT_NE(v.find("c=simple/simple"), std::string::npos) << v;
  EXPECT_NE(v.find("h=from:from:subject;"), std::string::npos) << v;
  EXPECT_NE(v.find("x=1780003600"), std::string::npos) << v;
  FakeResolver dns;
  publish(dns, key_of("private-rsa.pem"), "s1._domainkey.example.com");
  EXPECT_EQ(verify((*field)->field + kMessage, dns)[0].result, dkim::Status::kPass);
  // To is not signed: changing it keeps the signature valid; simple canonicalisation makes a
  // refolded Subject fail.
  std::string msg = (*field)->field + kMessage;
  EXPECT_EQ(verify(replace_all(msg, "suzie@example.net", "x@example.net"), dns)[0].result,
            dkim::Status::kPass);
  EXPECT_EQ(verify(replace_all(msg, "Subject: Is dinner", "Subject:  Is dinner"), dns)[0].result,
            dkim::Status::kFail);
  // After x= the signature has expired.
  EXPECT_EQ(dkim::verify(msg, dns, kNow + 7200)[0].result, dkim::Status::kPermError);
}

TEST(SigningDkim, DomainChoice) {
  // A subdomain uses the parent's key (d= the parent), unless subdomains are off.
  std::string sub = replace_all(kMessage, "joe@example.com", "joe@news.Example.com");
  auto field = signer_for("private-rsa.pem").dkim_sign(sub, "", kNow);
  ASSERT_TRUE(field.ok() && field->has_value());
  EXPECT_NE((*field)->value.find("d=example.com;"), std::string::npos);
  FakeResolver dns;
  publish(dns, key_of("private-rsa.pem"), "s1._domainkey.example.com");
  EXPECT_EQ(verify((*field)->field + sub, dns)[0].result, dkim::Status::kPass);
  EXPECT_FALSE(signer_for("private-rsa.pem", "example.com", false)
                   .dkim_sign(sub, "", kNow)
                   .value()
                   .has_value());
  // A look-alike is not a subdomain.
  EXPECT_FALSE(
      signer_for("private-rsa.pem")
          .dkim_sign(replace_all(kMessage, "joe@example.com", "joe@badexample.com"), "", kNow)
          .value()
          .has_value());
  // No key for the From domain: nothing, even if the envelope domain has one.
  std::string other = replace_all(kMessage, "joe@example.com", "joe@other.example");
  EXPECT_FALSE(
      signer_for("private-rsa.pem").dkim_sign(other, "joe@example.com", kNow)->has_value());
  // A From without a usable address: the envelope sender's domain decides.
  std::string noaddr = replace_all(kMessage, "Joe <joe@example.com>", "undisclosed");
  auto fallback = signer_for("private-rsa.pem").dkim_sign(noaddr, "bounce@example.com", kNow);
  ASSERT_TRUE(fallback.ok() && fallback->has_value());
  EXPECT_EQ(verify((*fallback)->field + noaddr, dns)[0].result, dkim::Status::kPass);
  EXPECT_FALSE(signer_for("private-rsa.pem").dkim_sign(noaddr, "", kNow)->has_value());
  // No From at all: an error to log (the message goes out unsigned).
  std::string nofrom = replace_all(kMessage, "From: Joe <joe@example.com>\r\n", "");
  EXPECT_FALSE(signer_for("private-rsa.pem").dkim_sign(nofrom, "joe@example.com", kNow).ok());
}

TEST(SigningDkim, SubjectRewriteIsSignedAsDelivered) {
  std::string rewritten = with_subject(kMessage, "[SPAM] Is dinner\n ready?");
  EXPECT_NE(rewritten.find("Subject: [SPAM] Is dinner\r\n ready?\r\nDate:"), std::string::npos)
      << rewritten;
  EXPECT_NE(with_subject("From: a@b\r\n\r\nbody", "x").find("From: a@b\r\nSubject: x\r\n\r\nbody"),
            std::string::npos);
  auto field = signer_for("private-rsa.pem").dkim_sign(rewritten, "", kNow);
  ASSERT_TRUE(field.ok() && field->has_value());
  FakeResolver dns;
  publish(dns, key_of("private-rsa.pem"), "s1._domainkey.example.com");
  EXPECT_EQ(verify((*field)->field + rewritten, dns)[0].result, dkim::Status::kPass);
}

TEST(SigningArc, SealValidatesAndRecordsTheChainResult) {
  Signer signer({}, {}, true);
  EXPECT_FALSE(signer.arc_seal(kMessage, "mx.example.net; none", kNow)->has_value());
  signer.set_arc(key_of("private-rsa.pem"), "forwarder.example", "arc1");
  FakeResolver dns;
  publish(dns, key_of("private-rsa.pem"), "arc1._domainkey.forwarder.example");

  const std::string ar =
      "mx.example.net;\n\tspf=pass smtp.mailfrom=joe@example.com;\n\tdkim=none; arc=none";
  auto fields = signer.arc_seal(kMessage, ar, kNow);
  ASSERT_TRUE(fields.ok()) << fields.error().message;
  ASSERT_TRUE(fields->has_value());
  const auto& f = **fields;
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].name, "ARC-Seal");
  EXPECT_EQ(f[1].name, "ARC-Message-Signature");
  EXPECT_EQ(f[2].name, "ARC-Authentication-Results");
  EXPECT_NE(f[0].value.find("cv=none"), std::string::npos);
  EXPECT_NE(f[2].value.find("i=1; mx.example.net; spf=pass smtp.mailfrom=joe@example.com"),
            std::string::npos)
      << f[2].value;
  std::string sealed = f[0].field + f[1].field + f[2].field + kMessage;
  arc::ChainResult chain = arc::validate(sealed, dns);
  EXPECT_EQ(chain.cv, arc::ChainStatus::kPass) << chain.reason;
  EXPECT_EQ(chain.instances, 1);

  // The next hop validated our chain (arc=pass in its A-R): its seal says cv=pass and the
  // two-set chain validates.
  auto second = signer.arc_seal(sealed, "mx2.example.org; arc=pass header.oldest-pass=1", kNow);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_NE((**second)[0].value.find("i=2"), std::string::npos);
  EXPECT_NE((**second)[0].value.find("cv=pass"), std::string::npos);
  std::string twice = (**second)[0].field + (**second)[1].field + (**second)[2].field + sealed;
  EXPECT_EQ(arc::validate(twice, dns).cv, arc::ChainStatus::kPass);

  // A hop whose validation failed records cv=fail; the chain then fails for everyone after.
  auto broken = signer.arc_seal(sealed, "mx2.example.org; arc=fail", kNow);
  ASSERT_TRUE(broken.ok() && broken->has_value());
  EXPECT_NE((**broken)[0].value.find("cv=fail"), std::string::npos);
}

}  // namespace
}  // namespace mailsift::signing
