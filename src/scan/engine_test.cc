#include "scan/engine.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mailsift::scan {
namespace {

std::string make_mail(const std::string& subject, const std::string& body,
                      const std::string& from = "Alice <alice@example.org>") {
  return "From: " + from +
         "\r\nTo: bob@example.com\r\nSubject: " + subject +
         "\r\nDate: Mon, 2 Sep 2024 10:00:00 +0000\r\nMessage-ID: <" +
         std::to_string(std::hash<std::string>{}(subject + body)) +
         "@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
         body + "\r\n";
}

std::string spam_mail(int i) {
  return make_mail("Cheap meds offer " + std::to_string(i),
                   "Buy cheap pills now, best pharmacy prices, discount viagra and cialis, "
                   "order today and save big money number " +
                       std::to_string(i) + " limited offer click the link");
}

std::string ham_mail(int i) {
  return make_mail("Meeting notes " + std::to_string(i),
                   "Hi team, attached are the notes from the planning meeting. We agreed to "
                   "review the build scripts and the release schedule for sprint " +
                       std::to_string(i) + ". Thanks, Alice");
}

bool has_symbol(const Verdict& v, const std::string& name) {
  return std::any_of(v.symbols.begin(), v.symbols.end(),
                     [&](const Symbol& s) { return s.name == name; });
}

// A store whose every call fails as if the database were unreachable.
class DownStore final : public store::Store {
 public:
  Error down() const { return Error::temporary("store unreachable"); }
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
};

// Compiling the shipped rules takes a while; every test shares one compiled copy.
std::shared_ptr<const rules::RuleSet> shared_rules() {
  static std::shared_ptr<const rules::RuleSet> rules = [] {
    auto r = Engine::load_rules(Config{});
    if (!r) {
      ADD_FAILURE() << r.error().describe();
      return std::shared_ptr<const rules::RuleSet>();
    }
    return *r;
  }();
  return rules;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::make_memory_store();
    auto e = Engine::create(config_, *store_, shared_rules());
    ASSERT_TRUE(e.ok()) << e.error().describe();
    engine_ = std::move(e).value();
  }
  void train(const Recipient& rcpt, int n = 20) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(engine_->learn(spam_mail(i), store::Class::kSpam, rcpt).ok());
      ASSERT_TRUE(engine_->learn(ham_mail(i), store::Class::kHam, rcpt).ok());
    }
  }
  Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, UntrainedClassifierAbstains) {
  auto v = engine_->scan(ham_mail(1), {});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(has_symbol(*v, "BAYES_UNTRAINED"));
  EXPECT_FALSE(v->spam_probability.has_value());
}

TEST_F(EngineTest, LearnsAndScoresWithExplanation) {
  train({});
  auto spam = engine_->scan(spam_mail(100), {});
  auto ham = engine_->scan(ham_mail(100), {});
  ASSERT_TRUE(spam.ok() && ham.ok());
  EXPECT_TRUE(has_symbol(*spam, "BAYES_SPAM")) << spam->explain();
  EXPECT_TRUE(has_symbol(*ham, "BAYES_HAM")) << ham->explain();
  EXPECT_GT(spam->score, ham->score);
  EXPECT_EQ(spam->action, Action::kAddHeader) << spam->explain();  // spam folder by default
  EXPECT_EQ(ham->action, Action::kNoAction) << ham->explain();
  double sum = 0;
  for (const auto& s : spam->symbols) {
    EXPECT_FALSE(s.description.empty()) << s.name;
    sum += s.score;
  }
  EXPECT_DOUBLE_EQ(sum, spam->score);  // the verdict is exactly its symbols
  EXPECT_NE(spam->explain().find("BAYES_SPAM"), std::string::npos);
}

TEST_F(EngineTest, NearDuplicateOfLearnedSpamIsRecognised) {
  train({});
  std::string campaign =
      "Dear John, we are pleased to inform you that your account has been selected for our "
      "exclusive investment programme. Reply within 48 hours with your banking details to "
      "receive the transfer of 4,500,000 USD. Reference number 88231. Sincerely, the bureau "
      "of international settlements, Mr. Harold Williams, director of operations.";
  ASSERT_TRUE(engine_->learn(make_mail("Your transfer", campaign), store::Class::kSpam, {}).ok());
  std::string variant = campaign;
  variant.replace(variant.find("John"), 4, "Maria");
  variant.replace(variant.find("88231"), 5, "10442");
  auto v = engine_->scan(make_mail("Your transfer", variant), {});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(has_symbol(*v, "FUZZY_SPAM")) << v->explain();
}

TEST_F(EngineTest, RejectIsOptIn) {
  train({});
  ASSERT_TRUE(config_.set("actions.reject", "0.5").ok());
  {
    auto e = Engine::create(config_, *store_, shared_rules());
    ASSERT_TRUE(e.ok());
    auto v = (*e)->scan(spam_mail(7), {});
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->action, Action::kAddHeader) << "reject without reject_enabled";
  }
  ASSERT_TRUE(config_.set("actions.reject_enabled", "true").ok());
  auto e = Engine::create(config_, *store_, shared_rules());
  ASSERT_TRUE(e.ok());
  auto v = (*e)->scan(spam_mail(7), {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->action, Action::kReject);
}

TEST_F(EngineTest, UserTrainingStaysInTheUsersScope) {
  train({});
  Recipient bob{"bob@example.com", "", "acme"};
  Recipient eve{"eve@example.com", "", "acme"};
  // Bob keeps marking a newsletter as spam; Eve did not.
  std::string newsletter = make_mail("Weekly gardening digest",
                                     "This week in the garden: tomatoes, pruning roses, compost "
                                     "tips and the seed swap on Saturday.");
  auto before_eve = engine_->scan(newsletter, eve);
  for (int i = 0; i < 3; ++i) {
    auto r = engine_->learn(make_mail("Weekly gardening digest " + std::to_string(i),
                                      "This week in the garden: tomatoes, pruning roses, compost "
                                      "tips and the seed swap on Saturday number " +
                                          std::to_string(i)),
                            store::Class::kSpam, bob);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->scope, (store::Scope{store::Level::kUser, "bob@example.com"}));
  }
  auto after_bob = engine_->scan(newsletter, bob);
  auto after_eve = engine_->scan(newsletter, eve);
  ASSERT_TRUE(before_eve.ok() && after_bob.ok() && after_eve.ok());
  EXPECT_GT(after_bob->score, after_eve->score);
  EXPECT_DOUBLE_EQ(after_eve->score, before_eve->score);
}

TEST_F(EngineTest, UnlearnRestoresTheVerdictExactly) {
  train({});
  auto before = engine_->scan(ham_mail(500), {});
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(engine_->learn(ham_mail(501), store::Class::kSpam, {}).ok());
  auto r = engine_->unlearn(ham_mail(501), store::Class::kSpam, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, store::LearnOutcome::kUnlearned);
  auto after = engine_->scan(ham_mail(500), {});
  ASSERT_TRUE(after.ok());
  EXPECT_DOUBLE_EQ(after->score, before->score);
}

TEST_F(EngineTest, NotMailIsMalformed) {
  auto v = engine_->scan("", {});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::kMalformed);
}

TEST(EngineStoreDown, TempfailsInsteadOfSilentAccept) {
  DownStore down;
  Config config;
  auto e = Engine::create(config, down, shared_rules());
  ASSERT_TRUE(e.ok());
  auto v = (*e)->scan(make_mail("hello", "just a normal message body with some words"), {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->action, Action::kSoftReject) << v->explain();
  ASSERT_FALSE(v->errors.empty());
  EXPECT_EQ(v->errors[0].kind, ErrorKind::kTemporary);
  auto l = (*e)->learn(make_mail("hello", "body"), store::Class::kSpam, {});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().kind, ErrorKind::kTemporary);
}

}  // namespace
}  // namespace mailsift::scan

namespace mailsift::scan {
namespace {

TEST_F(EngineTest, OneMessageDecidedPerRecipient) {
  train({});
  ActionPolicy folder = ActionPolicy::from_config(config_);
  ActionPolicy strict = folder;
  strict.reject_enabled = true;
  strict.reject = 1.0;
  strict.source = "user strict@example.com";
  std::vector<RecipientRequest> rcpts = {
      {{"folder@example.com", "", ""}, folder},
      {{"strict@example.com", "", ""}, strict},
      {{"folder2@example.com", "", ""}, folder},
  };
  Envelope env{"192.0.2.1", "mx.example.org", "a@example.org", "Q1", "", false};
  auto result = engine_->scan(spam_mail(900), env, rcpts);
  ASSERT_TRUE(result.ok()) << result.error().describe();
  ASSERT_EQ(result->recipients.size(), 3u);
  EXPECT_EQ(result->recipients[0].action, Action::kAddHeader);
  EXPECT_EQ(result->recipients[1].action, Action::kReject);
  EXPECT_EQ(result->recipients[2].action, Action::kAddHeader);
  // Same content, same learned state: identical scores.
  EXPECT_DOUBLE_EQ(result->recipients[0].score, result->recipients[1].score);
}

TEST_F(EngineTest, RecipientsWithOwnTrainingScoreDifferently) {
  train({});
  std::string newsletter = make_mail("Weekly gardening digest", "Tomatoes, roses, compost tips.");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(engine_
                    ->learn(make_mail("Weekly gardening digest " + std::to_string(i),
                                      "Tomatoes, roses, compost tips number " + std::to_string(i)),
                            store::Class::kSpam, {"bob@example.com", "", ""})
                    .ok());
  }
  ActionPolicy p = ActionPolicy::from_config(config_);
  std::vector<RecipientRequest> rcpts = {{{"bob@example.com", "", ""}, p},
                                         {{"eve@example.com", "", ""}, p}};
  auto result = engine_->scan(newsletter, Envelope{}, rcpts);
  ASSERT_TRUE(result.ok());
  EXPECT_GT(result->recipients[0].score, result->recipients[1].score);
}

}  // namespace
}  // namespace mailsift::scan
