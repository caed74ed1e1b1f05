#include <gtest/gtest.h>

#include <string>

#include "aup/aup_checks.h"
#include "aup/outbound_profile.h"
#include "core/config.h"
#include "mime/message.h"
#include "store/store.h"

namespace mailsift::aup {
namespace {

// Runs one check on a message as the engine would, with `earlier` symbols already in the list
// (what a post-filter sees).
std::vector<scan::Symbol> run(scan::Check& check, const std::string& raw, const scan::Envelope& env,
                              std::vector<scan::Symbol> earlier = {}) {
  auto msg = mime::parse(raw);
  EXPECT_TRUE(msg.ok());
  scan::Recipient rcpt;
  scan::ScanTask task{*msg, rcpt, {}, {}, {}, {}, std::nullopt, &env};
  std::vector<scan::Symbol> out = std::move(earlier);
  EXPECT_TRUE(check.run(task, out).ok());
  return out;
}

bool has(const std::vector<scan::Symbol>& s, std::string_view name) {
  for (const auto& x : s)
    if (x.name == name)
      return true;
  return false;
}

scan::Envelope authenticated(std::string user = "alice@example.com") {
  scan::Envelope e;
  e.auth_user = std::move(user);
  e.outbound = true;
  return e;
}

const std::string kPlain =
    "From: Alice <alice@example.com>\r\nTo: bob@dest.example\r\nSubject: lunch\r\n\r\nNoon?\r\n";

TEST(AupPhishing, FiresOnTheRuleSetsPhishingSignal) {
  AupConfig c;
  auto check = make_phishing_check(c);
  EXPECT_EQ(check->phase(), scan::Phase::kPostFilter);
  auto out = run(*check, kPlain, authenticated(), {{"PHISHING_LINK", 1.5, "", ""}});
  ASSERT_TRUE(has(out, "AUP_PHISHING"));
  EXPECT_EQ(out.back().score, c.phishing_score);
  EXPECT_EQ(out.back().detail, "PHISHING_LINK");
}

TEST(AupPhishing, QuietWithoutIt) {
  auto check = make_phishing_check(AupConfig{});
  auto out = run(*check, kPlain, authenticated(), {{"BODY_VERIFY_ACCOUNT", 1.0, "", ""}});
  EXPECT_FALSE(has(out, "AUP_PHISHING"));
}

TEST(AupForgedFrom, OwnDomainAndSubdomainPass) {
  auto check = make_forged_from_check(AupConfig{});
  EXPECT_FALSE(has(run(*check, kPlain, authenticated()), "AUP_FORGED_FROM"));
  const std::string sub = "From: news@mail.example.com\r\nTo: b@d.example\r\n\r\nx\r\n";
  EXPECT_FALSE(has(run(*check, sub, authenticated()), "AUP_FORGED_FROM"));
}

TEST(AupForgedFrom, ForeignDomainFires) {
  auto check = make_forged_from_check(AupConfig{});
  const std::string forged =
      "From: PayPal Service <service@paypal.com>\r\nTo: b@d.example\r\n\r\nx\r\n";
  auto out = run(*check, forged, authenticated());
  ASSERT_TRUE(has(out, "AUP_FORGED_FROM"));
  EXPECT_NE(out.back().detail.find("service@paypal.com"), std::string::npos);
  // A look-alike that merely ends in the same letters is not a subdomain.
  const std::string lookalike = "From: x@badexample.com\r\nTo: b@d.example\r\n\r\nx\r\n";
  EXPECT_TRUE(has(run(*check, lookalike, authenticated()), "AUP_FORGED_FROM"));
}

TEST(AupForgedFrom, TenantDomainsCountAsOwned) {
  auto check = make_forged_from_check(AupConfig{}, [](std::string_view user) {
    EXPECT_EQ(user, "alice@example.com");
    return Result<std::vector<std::string>>(std::vector<std::string>{"Example.ORG"});
  });
  const std::string other = "From: alice@example.org\r\nTo: b@d.example\r\n\r\nx\r\n";
  EXPECT_FALSE(has(run(*check, other, authenticated()), "AUP_FORGED_FROM"));
}

TEST(AupForgedFrom, UnauthenticatedOrDomainlessLoginIsNotJudged) {
  auto check = make_forged_from_check(AupConfig{});
  const std::string forged = "From: a@paypal.com\r\nTo: b@d.example\r\n\r\nx\r\n";
  EXPECT_FALSE(has(run(*check, forged, scan::Envelope{}), "AUP_FORGED_FROM"));
  EXPECT_FALSE(has(run(*check, forged, authenticated("alice")), "AUP_FORGED_FROM"));
}

TEST(AupBulk, ManyRecipientsWithoutUnsubscribe) {
  AupConfig c;
  c.bulk_recipients = 50;
  auto check = make_bulk_check(c);
  scan::Envelope env = authenticated();
  env.recipient_count = 60;
  auto out = run(*check, kPlain, env);
  ASSERT_TRUE(has(out, "AUP_BULK_NO_UNSUBSCRIBE"));
  EXPECT_NE(out.back().detail.find("60 recipients"), std::string::npos);
  env.recipient_count = 3;
  EXPECT_FALSE(has(run(*check, kPlain, env), "AUP_BULK_NO_UNSUBSCRIBE"));
}

TEST(AupBulk, ListHeadersWithoutUnsubscribeFireWithUnsubscribeDoNot) {
  auto check = make_bulk_check(AupConfig{});
  const std::string bulk =
      "From: a@example.com\r\nTo: b@d.example\r\nPrecedence: bulk\r\n\r\nsale\r\n";
  EXPECT_TRUE(has(run(*check, bulk, authenticated()), "AUP_BULK_NO_UNSUBSCRIBE"));
  const std::string list =
      "From: a@example.com\r\nTo: b@d.example\r\nList-Id: <n.example.com>\r\n"
      "List-Unsubscribe: <mailto:u@example.com>\r\n\r\nnews\r\n";
  EXPECT_FALSE(has(run(*check, list, authenticated()), "AUP_BULK_NO_UNSUBSCRIBE"));
}

TEST(AupBulk, HeaderRecipientsCount) {
  AupConfig c;
  c.bulk_recipients = 3;
  auto check = make_bulk_check(c);
  const std::string many =
      "From: a@example.com\r\nTo: b@d.example, c@d.example\r\nCc: e@d.example\r\n\r\nhi\r\n";
  EXPECT_TRUE(has(run(*check, many, authenticated()), "AUP_BULK_NO_UNSUBSCRIBE"));
}

std::string with_attachment(const std::string& name, const std::string& type,
                            const std::string& base64) {
  return "From: a@example.com\r\nTo: b@d.example\r\nSubject: doc\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
         "Content-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\nContent-Type: " +
         type + "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name +
         "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64 + "\r\n--b1--\r\n";
}

TEST(AupMalware, ExecutablesDoubleExtensionsAndMacroDocuments) {
  auto check = make_malware_check(AupConfig{});
  // "MZ\x90\0" = a DOS/PE executable, whatever the name says.
  auto out = run(*check, with_attachment("invoice.pdf.exe", "application/pdf", "TVqQAA=="),
                 authenticated());
  ASSERT_TRUE(has(out, "AUP_MALWARE_ATTACHMENT"));
  EXPECT_NE(out.back().detail.find("double extension"), std::string::npos);
  out = run(*check, with_attachment("report.pdf", "application/pdf", "TVqQAA=="), authenticated());
  ASSERT_TRUE(has(out, "AUP_MALWARE_ATTACHMENT"));
  EXPECT_NE(out.back().detail.find("application/x-dosexec"), std::string::npos);
  out = run(*check, with_attachment("budget.xlsm", "application/octet-stream", "AAAA"),
            authenticated());
  ASSERT_TRUE(has(out, "AUP_MALWARE_ATTACHMENT"));
  EXPECT_NE(out.back().detail.find("macro document .xlsm"), std::string::npos);
  EXPECT_TRUE(
      has(run(*check, with_attachment("run.js", "text/plain", "YWxlcnQoMSk="), authenticated()),
          "AUP_MALWARE_ATTACHMENT"));
}

TEST(AupMalware, OrdinaryAttachmentsPass) {
  auto check = make_malware_check(AupConfig{});
  // "%PDF-1.4" really is a PDF.
  EXPECT_FALSE(has(run(*check, with_attachment("report.pdf", "application/pdf", "JVBERi0xLjQ="),
                       authenticated()),
                   "AUP_MALWARE_ATTACHMENT"));
  EXPECT_FALSE(has(run(*check, kPlain, authenticated()), "AUP_MALWARE_ATTACHMENT"));
}

TEST(AupMalware, VbaProjectInsideAnOfficeFile) {
  const std::string ooxml =
      std::string("PK\x03\x04", 4) + "[Content_Types].xml word/vbaProject.bin";
  EXPECT_NE(malware_reason("letter.docx",
                           "application/vnd.openxmlformats-officedocument.wordprocessingml."
                           "document",
                           "application/vnd.openxmlformats-officedocument.wordprocessingml."
                           "document",
                           ooxml),
            "");
  const std::string clean = std::string("PK\x03\x04", 4) + "[Content_Types].xml word/document.xml";
  EXPECT_EQ(
      malware_reason("letter.docx", "", "application/vnd.openxmlformats-officedocument", clean),
      "");
}

TEST(AupDomains, Within) {
  EXPECT_TRUE(domain_within("example.com", "example.com"));
  EXPECT_TRUE(domain_within("a.example.com", "example.com"));
  EXPECT_FALSE(domain_within("badexample.com", "example.com"));
  EXPECT_FALSE(domain_within("com", "example.com"));
}

// The outbound engine end to end: the shipped rule set's phishing signal plus AUP_PHISHING
// reach the reject score; a clean message is sent.
const std::string kPhish =
    "From: IT Helpdesk <alice@example.com>\r\nTo: victim@dest.example\r\n"
    "Subject: Action required on your mailbox\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain\r\n\r\nDear user,\r\n\r\nPlease verify your account within 24 "
    "hours or it will be closed:\r\nhttp://198.51.100.23/secure/login.php?user=you\r\n\r\n"
    "Helpdesk\r\n";

TEST(OutboundProfile, PhishingIsRejectedCleanIsSent) {
  Config config;
  auto store = store::make_memory_store();
  auto engine = make_outbound_engine(config, *store);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  const OutboundPolicy policy = OutboundPolicy::from_config(config);
  scan::Envelope env = authenticated();
  env.recipient_count = 1;

  auto phish = (*engine)->scan(kPhish, env, {});
  ASSERT_TRUE(phish.ok());
  const scan::Verdict& pv = phish->recipients.front();
  const OutboundDecision d = decide(pv, policy, "REF1");
  EXPECT_EQ(d.kind, OutboundDecision::kReject) << pv.explain();
  EXPECT_EQ(d.smtp_code, 550);
  EXPECT_EQ(d.enhanced, "5.7.1");
  EXPECT_EQ(d.text.rfind("Message refused by the provider's acceptable use policy: ", 0), 0u)
      << d.text;
  EXPECT_NE(d.text.find("phishing"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("(ref REF1)"), std::string::npos);

  auto clean = (*engine)->scan(kPlain, env, {});
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(decide(clean->recipients.front(), policy, "REF2").kind, OutboundDecision::kSend)
      << clean->recipients.front().explain();

  // The learned checks are off in the outbound profile.
  for (const auto& s : (*engine)->all_symbols())
    EXPECT_EQ(std::string(s.name).rfind("BAYES", 0), std::string::npos) << s.name;
}

}  // namespace
}  // namespace mailsift::aup
