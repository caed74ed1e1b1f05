// Rules over messages produced by the real parser (mime::parse), and cross-checks between the
// starter rule set and the parser's fact table.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "mime/facts.h"
#include "mime/message.h"
#include "rules/rules.h"

namespace mailsift::rules {
namespace {

std::shared_ptr<const RuleSet> default_rules() {
  auto r = RuleSet::load_file(MAILSIFT_SOURCE_DIR "/rules/default.rules");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok())
    std::abort();
  return *r;
}

std::set<std::string> hits_of(const std::shared_ptr<const RuleSet>& set, std::string_view raw,
                              double* total = nullptr) {
  auto msg = mime::parse(raw);
  EXPECT_TRUE(msg.ok());
  if (!msg.ok())
    return {};
  Matcher m(set);
  auto hits = m.match(*msg);
  EXPECT_TRUE(hits.ok());
  std::set<std::string> names;
  double sum = 0;
  for (const auto& h : *hits) {
    names.insert(h.name);
    sum += h.score;
  }
  if (total != nullptr)
    *total = sum;
  return names;
}

TEST(RulesMime, EveryFactRuleNamesAParserFact) {
  auto set = default_rules();
  for (const auto& r : set->rules()) {
    if (r.kind != RuleKind::kFact)
      continue;
    EXPECT_TRUE(mime::is_known_fact(r.definition)) << r.name << " -> " << r.definition;
  }
}

TEST(RulesMime, EachKindThroughTheParser) {
  auto r = RuleSet::load_string(R"(
header SUBJ Subject =~ /^Caf\xc3\xa9 offer$/ 1 "decoded subject"
header RAWSUBJ Subject:raw =~ /=\?utf-8\?q\?/i 1 "encoded subject"
header NAME From:name =~ /^Bob Example$/ 1 "display name"
header ADDR From:addr =~ /^bob@example\.com$/i 1 "address"
header NODATE !exists:Date 1 "no date"
body BODY /\bcheap watches\b/ 1 "body text"
uri URI /^http:\/\/192\.0\.2\.7\// 1 "ip link"
rawbody RAW /=E9/ 1 "raw qp byte"
full FULL /^X-Custom: 1\r?$/m 1 "custom header; raw lines end in CRLF"
)",
                                "t.rules");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const char* raw =
      "From: \"Bob Example\" <bob@example.com>\r\n"
      "To: you@example.org\r\n"
      "Subject: =?utf-8?q?Caf=C3=A9_offer?=\r\n"
      "X-Custom: 1\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "Caf=E9 cheap watches at http://192.0.2.7/shop now\r\n";
  EXPECT_EQ(hits_of(*r, raw), (std::set<std::string>{"SUBJ", "RAWSUBJ", "NAME", "ADDR", "NODATE",
                                                     "BODY", "URI", "RAW", "FULL"}));
}

TEST(RulesMime, StarterRulesSeparateObviousCases) {
  auto set = default_rules();
  double ham_score = 0, spam_score = 0;
  auto ham = hits_of(set,
                     "From: Alice Example <alice@example.org>\n"
                     "To: dev@lists.example.org\n"
                     "Subject: Re: build failure on arm64\n"
                     "Date: Tue, 2 Jan 2024 10:00:00 +0100\n"
                     "Message-ID: <abc123@mail.example.org>\n"
                     "In-Reply-To: <xyz@mail.example.org>\n"
                     "References: <xyz@mail.example.org>\n"
                     "List-Id: <dev.lists.example.org>\n"
                     "\n"
                     "> did you try a clean build?\n"
                     "\n"
                     "Yes, same failure. The linker flags look wrong.\n"
                     "-- \n"
                     "Alice\n",
                     &ham_score);
  auto spam = hits_of(set,
                      "From: winner@198.51.100.7\n"
                      "Subject: CONGRATULATIONS YOU HAVE WON!!!\n"
                      "MIME-Version: 1.0\n"
                      "Content-Type: text/html\n"
                      "\n"
                      "<html><body><p>Dear Friend, you have been selected as the lottery "
                      "winner!!! <a href=\"http://198.51.100.7/claim\">Click here</a> to claim "
                      "your prize. 100% free, no risk, act now! Send your bank account details "
                      "by Western Union.</p></body></html>\n",
                      &spam_score);
  EXPECT_LT(ham_score, 0.0) << ::testing::PrintToString(ham);
  EXPECT_GT(spam_score, 8.0) << ::testing::PrintToString(spam);
  EXPECT_TRUE(spam.count("URI_IP_HOST")) << ::testing::PrintToString(spam);
  EXPECT_TRUE(spam.count("HTML_ONLY")) << ::testing::PrintToString(spam);
  EXPECT_TRUE(spam.count("ADVANCE_FEE_FRAUD")) << ::testing::PrintToString(spam);
}

}  // namespace
}  // namespace mailsift::rules
