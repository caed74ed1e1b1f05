// Near-duplicate fingerprints: campaign variants match, different mail does not, and the
// per-scope memory finds, ranks and forgets records. Hermetic: messages are built by hand and
// the store is the in-memory backend.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fuzzy/fingerprint.h"
#include "store/store.h"

namespace mailsift::fuzzy {
namespace {

// One campaign; greeting, name, tracking id and URL query vary per recipient.
std::string campaign_body(const std::string& greeting, const std::string& name,
                          const std::string& tracking, const std::string& query) {
  return greeting + " " + name +
         ",\n\nWe are delighted to let you know that your account has been selected for our "
         "exclusive spring savings event. For a limited time only, members like you can enjoy "
         "up to 70% off premium watches, designer handbags and luxury accessories from the "
         "world's most sought after brands. Our warehouse clearance means prices have never "
         "been lower, and stock is moving quickly.\n\nTo claim your personal discount simply "
         "visit https://deals.example-shop.com/spring/offer" +
         query +
         " and enter the code printed below at checkout. Shipping is free on every order over "
         "fifty dollars, and returns are accepted within thirty days, no questions asked.\n\n"
         "Your reference: " +
         tracking +
         "\n\nDo not miss out, this offer expires at midnight on Sunday and will not be "
         "repeated this year. Thank you for being a valued customer, " +
         name +
         ".\n\nThe Example Shop team\nTo stop receiving these messages visit "
         "https://deals.example-shop.com/unsubscribe" +
         query;
}

mime::Message make_message(const std::string& subject, const std::string& body,
                           std::vector<std::string> urls = {}, std::string hidden = "") {
  mime::Message m;
  m.parts.emplace_back();
  mime::Header h;
  h.name = "Subject";
  h.raw_value = subject;  // views into a static? no: value below is what subject() decodes
  h.value = subject;
  m.parts[0].headers.push_back(h);
  mime::TextPart t;
  t.part = 0;
  t.text = body;
  t.hidden_text = std::move(hidden);
  m.texts.push_back(t);
  for (auto& u : urls) {
    mime::Url url;
    url.url = u;
    m.urls.push_back(url);
  }
  return m;
}

std::vector<mime::Message> campaign_variants() {
  std::vector<mime::Message> v;
  v.push_back(
      make_message("Spring savings for John",
                   campaign_body("Dear", "John Smith", "A8F93KD02X", "?uid=12345&utm_source=mail"),
                   {"https://deals.example-shop.com/spring/offer?uid=12345&utm_source=mail"}));
  v.push_back(
      make_message("Spring savings for Maria",
                   campaign_body("Hello", "Maria", "ZZ7781-QQ", "?uid=99&utm_source=spring"),
                   {"https://deals.example-shop.com/spring/offer?uid=99&utm_source=spring"}));
  v.push_back(
      make_message("Spring savings for valued customer",
                   campaign_body("Hi there", "Wei Zhang", "5f2b9c0e11aa", "?t=8f7a6b5c4d3e2f1a"),
                   {"http://deals.example-shop.com/spring/offer?t=8f7a6b5c4d3e2f1a#top"},
                   "qwxz plokm vbnre tyuio asdfg hjklz xcvbn mnbvc lkjhg poiuy"));
  return v;
}

const std::string kUnrelated1 =
    "Hi all, the quarterly planning meeting has moved to Thursday afternoon in the large "
    "conference room on the third floor. Please bring your updated roadmap slides and the "
    "budget numbers we discussed last week, because finance needs the final figures before the "
    "end of the month. Marco will present the hiring plan and Aisha will walk through the "
    "customer feedback from the beta programme. If you cannot attend, send your notes to me "
    "before Wednesday evening so that I can include them in the summary. Lunch will be "
    "provided, so let me know about any dietary requirements. We also need a volunteer to "
    "take minutes, since our usual note taker is on holiday. Thanks, and see you there.";
const std::string kUnrelated2 =
    "Your invoice for the month of March is now available in the billing portal. The total "
    "amount due reflects the additional storage you provisioned in the middle of the billing "
    "cycle, prorated to the day. Payment will be taken automatically from the card on file "
    "within five business days. If you believe any charge is incorrect, reply to this message "
    "and a member of our support team will review the usage records with you. You can download "
    "a PDF copy for your accounting department from the documents section of your account. "
    "Remember that annual plans receive a discount, and switching can be done at any time "
    "from the subscription settings page without interrupting your service.";

TEST(Normalise, CollapsesIdsUrlsAndCase) {
  EXPECT_EQ(normalise_words("Hello WORLD, order #12345 ref A8F93KD02 and 555-1234!"),
            (std::vector<std::string>{"hello", "world", "order", "#", "ref", "#", "and", "#"}));
  EXPECT_EQ(
      normalise_words("Visit https://Deals.Example.com/spring/offer?uid=1#x now"),
      (std::vector<std::string>{"visit", "deals", "example", "com", "spring", "offer", "now"}));
  EXPECT_EQ(
      normalise_words("<www.example.com/a/8f7a6b5c4d3e> mail bob@Example.COM."),
      (std::vector<std::string>{"www", "example", "com", "a", "#", "mail", "@", "example", "com"}));
  EXPECT_EQ(normalise_words("http://u123.tracker.example.net/x"),
            (std::vector<std::string>{"#", "tracker", "example", "net", "x"}));
  EXPECT_EQ(normalise_words("deadbeefcafebabe token"), (std::vector<std::string>{"#", "token"}));
  EXPECT_TRUE(normalise_words("  \t\n ").empty());
  // Idempotent: normalising the normalised text changes nothing.
  auto once = normalise_words("Dear Bob, see https://x.example/a?b=1 code 99ZZ");
  std::string joined;
  for (auto& w : once)
    joined += w + " ";
  EXPECT_EQ(normalise_words(joined), once);
}

TEST(Fingerprint, ShapeAndDeterminism) {
  auto a = fingerprint_text(kUnrelated1);
  auto b = fingerprint_text(kUnrelated1);
  ASSERT_TRUE(a.usable());
  EXPECT_EQ(a.signature.size(), 128u);
  EXPECT_EQ(a.bands.size(), 32u);
  EXPECT_GT(a.shingle_count, 100u);
  EXPECT_EQ(a.signature, b.signature);
  EXPECT_EQ(a.bands, b.bands);
  EXPECT_DOUBLE_EQ(similarity(a, b), 1.0);
}

TEST(Fingerprint, TooShortIsNotUsable) {
  EXPECT_FALSE(fingerprint_text("").usable());
  EXPECT_FALSE(fingerprint_text("Buy now!").usable());
  EXPECT_FALSE(fingerprint_text("one two three four five six seven eight").usable());      // 5
  EXPECT_TRUE(fingerprint_text("one two three four five six seven eight nine").usable());  // 6
  auto empty = fingerprint(mime::Message{});
  EXPECT_FALSE(empty.usable());
  EXPECT_DOUBLE_EQ(similarity(empty, fingerprint_text(kUnrelated1)), 0.0);
}

TEST(Fingerprint, CampaignVariantsMatch) {
  auto variants = campaign_variants();
  std::vector<Fingerprint> fps;
  for (const auto& m : variants)
    fps.push_back(fingerprint(m));
  for (size_t i = 0; i < fps.size(); ++i) {
    ASSERT_TRUE(fps[i].usable()) << i;
    for (size_t j = i + 1; j < fps.size(); ++j) {
      double s = similarity(fps[i], fps[j]);
      std::printf("variant %zu vs %zu: similarity %.3f\n", i, j, s);
      EXPECT_GE(s, Params{}.match_threshold) << i << " vs " << j;
    }
  }
}

TEST(Fingerprint, DifferentMessagesDoNotMatch) {
  auto campaign = fingerprint(campaign_variants()[0]);
  auto a = fingerprint_text(kUnrelated1);
  auto b = fingerprint_text(kUnrelated2);
  for (auto [x, y] : {std::pair{&a, &b}, {&a, &campaign}, {&b, &campaign}}) {
    double s = similarity(*x, *y);
    std::printf("unrelated similarity %.3f\n", s);
    EXPECT_LT(s, 0.2);
  }
}

TEST(Fingerprint, HiddenTextIsIgnored) {
  auto plain = make_message("s", kUnrelated1);
  auto busted = make_message("s", kUnrelated1, {}, "random hash buster words 1234 zzzz");
  EXPECT_EQ(fingerprint(plain).signature, fingerprint(busted).signature);
}

TEST(Fingerprint, LongTextIsBounded) {
  std::string big;
  for (int i = 0; i < 50000; ++i) {
    for (int n = i, k = 0; k < 4; ++k, n /= 26)
      big += char('a' + n % 26);
    big += ' ';
  }
  auto fp = fingerprint_text(big);
  EXPECT_TRUE(fp.usable());
  EXPECT_GT(fp.shingle_count, kMaxShingles);
}

// Through the real parser: a multipart/alternative campaign mailed to two recipients.
std::string raw_campaign(const std::string& name, const std::string& uid) {
  const std::string body = campaign_body("Dear", name, "REF-" + uid, "?uid=" + uid);
  return "From: Example Shop <news@example-shop.com>\r\n"
         "To: " +
         name + " <" + uid +
         "@example.org>\r\n"
         "Subject: =?UTF-8?Q?Spring_savings_for_" +
         name.substr(0, name.find(' ')) +
         "?=\r\n"
         "Message-ID: <" +
         uid +
         "@mailer.example-shop.com>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
         body + "\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + body +
         "</p><a href=\"https://deals.example-shop.com/spring/offer?uid=" + uid +
         "\">Shop now</a><span style=\"display:none\">" + uid + " zq xv " + name +
         "</span></body></html>\r\n--b1--\r\n";
}

TEST(Fingerprint, ThroughTheParser) {
  const std::string raw1 = raw_campaign("John Smith", "u1234567");
  const std::string raw2 = raw_campaign("Maria Garcia", "u7654321");
  auto m1 = mime::parse(raw1);
  auto m2 = mime::parse(raw2);
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_FALSE(m1->texts.empty());
  auto f1 = fingerprint(*m1), f2 = fingerprint(*m2);
  ASSERT_TRUE(f1.usable() && f2.usable());
  std::printf("parsed campaign similarity %.3f\n", similarity(f1, f2));
  EXPECT_GE(similarity(f1, f2), Params{}.match_threshold);
  const std::string other = "From: a@b.example\r\nSubject: planning\r\n\r\n" + kUnrelated1;
  auto m3 = mime::parse(other);
  ASSERT_TRUE(m3.ok());
  EXPECT_LT(similarity(f1, fingerprint(*m3)), 0.2);
}

class FuzzyMemoryTest : public ::testing::Test {
 protected:
  std::unique_ptr<store::Store> store_ = store::make_memory_store();
  FuzzyMemory memory_{*store_};
  const store::Scope user_{store::Level::kUser, "bob@example.com"};
  const store::Scope domain_{store::Level::kDomain, "example.com"};
  const store::Scope global_ = store::Scope::global();
};

TEST_F(FuzzyMemoryTest, RememberMatchAcrossScopesAndForget) {
  auto variants = campaign_variants();
  auto reported = fingerprint(variants[0]);
  ASSERT_TRUE(memory_
                  .remember(domain_, "digest-0", store::Class::kSpam, "alice@example.com", reported,
                            1700000000)
                  .ok());
  const store::Scope chain[] = {user_, domain_, global_};
  auto m = memory_.best_match(chain, fingerprint(variants[1]));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->message_digest, "digest-0");
  EXPECT_EQ((*m)->cls, store::Class::kSpam);
  EXPECT_EQ((*m)->scope, domain_);
  EXPECT_GE((*m)->similarity, 0.7);
  EXPECT_EQ((*m)->reporters, 1u);

  // Not visible from scopes it was not remembered in.
  const store::Scope elsewhere[] = {user_, global_};
  auto none = memory_.best_match(elsewhere, fingerprint(variants[1]));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // Unrelated mail does not match.
  auto unrelated = memory_.best_match(chain, fingerprint_text(kUnrelated1));
  ASSERT_TRUE(unrelated.ok());
  EXPECT_FALSE(unrelated->has_value());

  // A second reporter in the global scope; the exact copy there is the best match.
  ASSERT_TRUE(memory_
                  .remember(global_, "digest-2", store::Class::kSpam, "carol@example.org",
                            fingerprint(variants[2]), 1700000100)
                  .ok());
  auto both = memory_.best_match(chain, fingerprint(variants[2]));
  ASSERT_TRUE(both.ok() && both->has_value());
  EXPECT_EQ((*both)->message_digest, "digest-2");
  EXPECT_EQ((*both)->scope, global_);
  EXPECT_DOUBLE_EQ((*both)->similarity, 1.0);
  EXPECT_EQ((*both)->reporters, 2u);

  ASSERT_TRUE(memory_.forget(global_, "digest-2").ok());
  ASSERT_TRUE(memory_.forget(domain_, "digest-0").ok());
  auto gone = memory_.best_match(chain, fingerprint(variants[2]));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(FuzzyMemoryTest, HamReportsAndUnusableFingerprints) {
  auto fp = fingerprint_text(kUnrelated2);
  ASSERT_TRUE(memory_.remember(user_, "inv", store::Class::kHam, "", fp, 1).ok());
  // Unusable fingerprints are neither stored nor matched.
  ASSERT_TRUE(
      memory_.remember(user_, "short", store::Class::kSpam, "", fingerprint_text("hi"), 1).ok());
  const store::Scope chain[] = {user_};
  EXPECT_FALSE(memory_.best_match(chain, fingerprint_text("hi"))->has_value());
  auto m = memory_.best_match(chain, fp);
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->cls, store::Class::kHam);
  EXPECT_EQ((*m)->reporters, 1u);
}

TEST_F(FuzzyMemoryTest, StoreErrorsPropagate) {
  class DownStore final : public store::Store {
    Error down() { return Error::temporary("store down"); }
    Result<std::vector<store::TokenCounts>> token_counts(const store::Scope&,
                                                         std::span<const uint64_t>) override {
      return down();
    }
    Result<store::ClassTotals> totals(const store::Scope&) override { return down(); }
    Result<store::LearnOutcome> learn(const store::LearnRequest&) override { return down(); }
    Result<store::LearnOutcome> unlearn(const store::Scope&, const std::string&,
                                        store::Class) override {
      return down();
    }
    Status fuzzy_add(const store::Scope&, const store::FuzzyRecord&) override { return down(); }
    Status fuzzy_remove(const store::Scope&, const std::string&) override { return down(); }
    Result<std::vector<store::FuzzyRecord>> fuzzy_candidates(const store::Scope&,
                                                             std::span<const uint64_t>,
                                                             size_t) override {
      return down();
    }
  } down;
  FuzzyMemory memory(down);
  auto fp = fingerprint_text(kUnrelated1);
  const store::Scope chain[] = {global_};
  auto m = memory.best_match(chain, fp);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, ErrorKind::kTemporary);
  EXPECT_FALSE(memory.remember(global_, "d", store::Class::kSpam, "", fp, 0).ok());
  EXPECT_FALSE(memory.forget(global_, "d").ok());
}

}  // namespace
}  // namespace mailsift::fuzzy
