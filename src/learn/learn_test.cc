// Tests for the tokenizer (feature families, stability, OSB, caps, digest) and the classifier
// (training, exact unlearn, relearn, merged scopes, untrained, calibration). Hermetic: messages
// are built as mime::Message structs by hand and the store is an in-test fake.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "learn/classifier.h"
#include "learn/tokenizer.h"

namespace mailsift::learn {
namespace {

// ---------------------------------------------------------------------------------------------
// A tiny in-memory store::Store with the contract of store.h (idempotent learn, relearn moves,
// unlearn uses the tokens recorded at learn time).
class FakeStore : public store::Store {
 public:
  Result<std::vector<store::TokenCounts>> token_counts(const store::Scope& scope,
                                                       std::span<const uint64_t> tokens) override {
    ++lookups;
    std::vector<store::TokenCounts> out(tokens.size());
    auto it = counts_.find(key(scope));
    if (it == counts_.end())
      return out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto t = it->second.find(tokens[i]);
      if (t != it->second.end())
        out[i] = t->second;
    }
    return out;
  }
  Result<store::ClassTotals> totals(const store::Scope& scope) override {
    return totals_[key(scope)];
  }
  Result<store::LearnOutcome> learn(const store::LearnRequest& r) override {
    auto& rec = records_[key(r.scope)];
    auto it = rec.find(r.message_digest);
    if (it != rec.end()) {
      if (it->second.first == r.cls)
        return store::LearnOutcome::kAlreadyLearned;
      apply(r.scope, it->second.first, it->second.second, -1);
      it->second.first = r.cls;
      apply(r.scope, r.cls, it->second.second, +1);
      return store::LearnOutcome::kRelearned;
    }
    rec[r.message_digest] = {r.cls, r.tokens};
    apply(r.scope, r.cls, r.tokens, +1);
    return store::LearnOutcome::kLearned;
  }
  Result<store::LearnOutcome> unlearn(const store::Scope& scope, const std::string& digest,
                                      store::Class cls) override {
    auto& rec = records_[key(scope)];
    auto it = rec.find(digest);
    if (it == rec.end() || it->second.first != cls)
      return store::LearnOutcome::kNotLearned;
    apply(scope, cls, it->second.second, -1);
    rec.erase(it);
    return store::LearnOutcome::kUnlearned;
  }
  Status fuzzy_add(const store::Scope&, const store::FuzzyRecord&) override { return Ok{}; }
  Status fuzzy_remove(const store::Scope&, const std::string&) override { return Ok{}; }
  Result<std::vector<store::FuzzyRecord>> fuzzy_candidates(const store::Scope&,
                                                           std::span<const uint64_t>,
                                                           size_t) override {
    return std::vector<store::FuzzyRecord>{};
  }

  // Raw state, to assert "only this scope changed".
  std::map<uint64_t, std::pair<uint32_t, uint32_t>> scope_counts(const store::Scope& s) {
    std::map<uint64_t, std::pair<uint32_t, uint32_t>> out;
    for (auto& [t, c] : counts_[key(s)])
      if (c.ham || c.spam)
        out[t] = {c.ham, c.spam};
    return out;
  }

  int lookups = 0;

 private:
  static std::string key(const store::Scope& s) {
    return std::to_string(static_cast<int>(s.level)) + ":" + s.id;
  }
  void apply(const store::Scope& s, store::Class cls, const std::vector<uint64_t>& tokens,
             int delta) {
    auto& tot = totals_[key(s)];
    auto& m = counts_[key(s)];
    bool spam = cls == store::Class::kSpam;
    (spam ? tot.spam_messages : tot.ham_messages) += delta;
    for (uint64_t t : tokens)
      (spam ? m[t].spam : m[t].ham) += delta;
  }
  std::map<std::string, std::map<uint64_t, store::TokenCounts>> counts_;
  std::map<std::string, store::ClassTotals> totals_;
  std::map<std::string, std::map<std::string, std::pair<store::Class, std::vector<uint64_t>>>>
      records_;
};

// ---------------------------------------------------------------------------------------------
// Message builder. Header values are string_views into storage owned by the builder.
struct Built {
  std::vector<std::string> storage;  // keeps header names/raw values alive
  mime::Message msg;
};

std::unique_ptr<Built> make_message(const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::vector<std::string>& texts,
                                    const std::vector<std::string>& urls = {},
                                    std::string body_raw = "") {
  auto b = std::make_unique<Built>();
  b->storage.reserve(headers.size() * 2 + 1);
  mime::Part root;
  root.content_type = "text/plain";
  for (auto& [n, v] : headers) {
    b->storage.push_back(n);
    std::string_view name = b->storage.back();
    b->storage.push_back(" " + v);
    std::string_view raw = b->storage.back();
    root.headers.push_back({name, raw, v});
  }
  b->storage.push_back(body_raw.empty() && !texts.empty() ? texts[0] : body_raw);
  root.raw_body = b->storage.back();
  b->msg.parts.push_back(std::move(root));
  for (auto& t : texts) {
    mime::TextPart tp;
    tp.part = 0;
    tp.text = t;
    b->msg.texts.push_back(tp);
  }
  for (auto& u : urls) {
    mime::Url url;
    url.url = u;
    size_t p = u.find("://");
    std::string rest = p == std::string::npos ? u : u.substr(p + 3);
    url.host = rest.substr(0, rest.find_first_of("/?#"));
    b->msg.urls.push_back(url);
  }
  return b;
}

std::set<std::string> names_of(const mime::Message& m, const FeatureOptions& opt = {}) {
  std::set<std::string> out;
  for (auto& [h, n] : extract_named_features(m, opt))
    out.insert(n);
  return out;
}

// ---------------------------------------------------------------------------------------------
TEST(Tokenizer, StableSortedUniqueAndMatchesNamedVariant) {
  auto b = make_message({{"Subject", "Cheap meds NOW"}, {"From", "Bob <bob@example.com>"}},
                        {"Buy cheap meds now now now, click here: http://x.example.com/buy"},
                        {"http://x.example.com/buy"});
  auto f1 = extract_features(b->msg);
  auto f2 = extract_features(b->msg);
  EXPECT_EQ(f1, f2);
  EXPECT_TRUE(std::is_sorted(f1.begin(), f1.end()));
  EXPECT_EQ(std::adjacent_find(f1.begin(), f1.end()), f1.end());
  std::vector<uint64_t> from_named;
  for (auto& [h, n] : extract_named_features(b->msg))
    from_named.push_back(h);
  EXPECT_EQ(f1, from_named);
}

TEST(Tokenizer, PrefixesSeparateFamilies) {
  auto subj = make_message({{"Subject", "viagra"}}, {});
  auto body = make_message({}, {"viagra"});
  auto fs = names_of(subj->msg);
  auto fb = names_of(body->msg);
  EXPECT_TRUE(fs.count("s:viagra"));
  EXPECT_FALSE(fs.count("w:viagra"));
  EXPECT_TRUE(fb.count("w:viagra"));
  EXPECT_FALSE(fb.count("s:viagra"));
  // And the hashes differ, so counts never mix.
  uint64_t hs = 0, hb = 0;
  for (auto& [h, n] : extract_named_features(subj->msg))
    if (n == "s:viagra")
      hs = h;
  for (auto& [h, n] : extract_named_features(body->msg))
    if (n == "w:viagra")
      hb = h;
  EXPECT_NE(hs, 0u);
  EXPECT_NE(hs, hb);
}

TEST(Tokenizer, WordShapesPricesCaseAndPunctuation) {
  auto b = make_message({}, {"Only $1,000.00 today!!! FREE e-mail don't Free 50% off."});
  auto n = names_of(b->msg);
  EXPECT_TRUE(n.count("w:$1,000.00"));
  EXPECT_TRUE(n.count("w:e-mail"));
  EXPECT_TRUE(n.count("w:don't"));
  EXPECT_TRUE(n.count("w:50%"));
  EXPECT_TRUE(n.count("w:free"));
  EXPECT_TRUE(n.count("C:free"));  // ALLCAPS signal
  EXPECT_TRUE(n.count("p:b!!!"));
  EXPECT_TRUE(n.count("w:off"));  // trailing '.' is not part of the word
  FeatureOptions no_caps;
  no_caps.caps_signal = false;
  EXPECT_FALSE(names_of(b->msg, no_caps).count("C:free"));
}

TEST(Tokenizer, OsbPairsWithinWindow) {
  auto b = make_message({}, {"aa bb cc dd ee ff"});
  FeatureOptions five;
  five.osb_window = 5;
  auto n = names_of(b->msg, five);
  EXPECT_TRUE(n.count("aa <1> bb"));
  EXPECT_TRUE(n.count("aa <4> ee"));
  EXPECT_FALSE(n.count("aa <5> ff"));  // window 5 = distances 1..4
  EXPECT_TRUE(n.count("bb <4> ff"));
  auto d = names_of(b->msg);  // default window 2 = adjacent pairs only
  EXPECT_TRUE(d.count("aa <1> bb"));
  EXPECT_FALSE(d.count("aa <2> cc"));
  FeatureOptions off;
  off.osb_window = 0;
  EXPECT_FALSE(names_of(b->msg, off).count("aa <1> bb"));
  // Pair order matters: "bb aa" is a different feature from "aa bb".
  auto r = make_message({}, {"bb aa"});
  EXPECT_FALSE(names_of(r->msg).count("aa <1> bb"));
}

TEST(Tokenizer, BodyWordCapBoundsFeatures) {
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += "w" + std::to_string(i) + " ";
  auto b = make_message({}, {text});
  FeatureOptions opt;
  opt.max_body_words = 10;
  auto n = names_of(b->msg, opt);
  EXPECT_TRUE(n.count("w:w9"));
  EXPECT_FALSE(n.count("w:w10"));
  EXPECT_LT(extract_features(b->msg).size(), FeatureOptions{}.max_body_words * 6);
}

TEST(Tokenizer, HeaderAndUrlFamilies) {
  auto b = make_message({{"From", "\"Big Deals\" <promo@mail.deals.example>"},
                         {"Reply-To", "x@other.example"},
                         {"To", "a@x.org, b@y.org"},
                         {"X-Mailer", "Mass Mailer 2.0"},
                         {"Message-ID", "<123@host.deals.example>"},
                         {"Received", "from helo.bad.example ([10.1.2.3]) by mx"},
                         {"X-Spam-Status", "Yes, score=99"}},
                        {"hi"}, {"http://www.shop.example/cgi-bin/remove.php?id=3"});
  auto n = names_of(b->msg);
  EXPECT_TRUE(n.count("from:a:promo@mail.deals.example"));
  EXPECT_TRUE(n.count("from:d:deals.example"));
  EXPECT_TRUE(n.count("from:n:deals"));
  EXPECT_TRUE(n.count("f:REPLYTO_DOMAIN_DIFF"));
  EXPECT_TRUE(n.count("to:n:2"));
  EXPECT_TRUE(n.count("h:x-mailer:mailer"));
  EXPECT_TRUE(n.count("hn:x-mailer"));
  EXPECT_TRUE(n.count("mid:host.deals.example"));
  EXPECT_TRUE(n.count("rcv:helo.bad.example"));
  EXPECT_TRUE(n.count("rcv:10.1.2.3"));
  EXPECT_TRUE(n.count("u:www.shop.example"));
  EXPECT_TRUE(n.count("u:shop.example"));
  EXPECT_TRUE(n.count("up:remove"));
  // Our own verdict headers never become features.
  for (auto& s : n)
    EXPECT_EQ(s.find("x-spam"), std::string::npos) << s;
}

TEST(Tokenizer, DigestIgnoresTransitHeaders) {
  auto a = make_message({{"Subject", "hello"}, {"From", "a@b.c"}}, {"body"}, {}, "body\r\n");
  auto b = make_message({{"Received", "from x by y"},
                         {"Subject", "hello"},
                         {"X-Spam-Status", "No"},
                         {"From", "a@b.c"}},
                        {"body"}, {}, "body\n\n");
  auto c = make_message({{"Subject", "hello"}, {"From", "a@b.c"}}, {"body"}, {}, "other body");
  EXPECT_EQ(message_digest(a->msg), message_digest(b->msg));
  EXPECT_NE(message_digest(a->msg), message_digest(c->msg));
  EXPECT_EQ(message_digest(a->msg).size(), 64u);
}

// The digest keys learned messages in every store, so its bytes must never change: pinned on
// header values with folding, tabs, inner "x: y", leading/trailing blanks and an empty value.
TEST(Tokenizer, DigestIsPinned) {
  auto m = make_message({{"SUBJECT", "  Re:\tmeeting:  at\r\n   noon  "},
                         {"From", "Bob <bob@example.com>"},
                         {"X-Empty", ""},
                         {"Return-Path", "<x@y.z>"},
                         {"X-Blank", " \t\r\n "}},
                        {"body"}, {}, "line one  \r\n\r\n\r\nline two\t\r\n\r\n");
  EXPECT_EQ(message_digest(m->msg),
            "8d0e806e309ebea277d917a274cff8fce55543b6edbe4bbb66748ba4f4587115");
}

// ---------------------------------------------------------------------------------------------
// Synthetic feature vectors: spam draws from tokens 1..200, ham from 1001..1200, both share
// 5001..5100 (neutral). Deterministic RNG.
std::vector<uint64_t> synth(std::mt19937& rng, bool spam) {
  std::vector<uint64_t> f;
  std::uniform_int_distribution<int> d(0, 199), n(0, 99);
  for (int i = 0; i < 30; ++i)
    f.push_back((spam ? 1 : 1001) + d(rng));
  for (int i = 0; i < 10; ++i)
    f.push_back(5001 + n(rng));
  std::sort(f.begin(), f.end());
  f.erase(std::unique(f.begin(), f.end()), f.end());
  return f;
}

void train(Classifier& c, const store::Scope& scope, std::mt19937& rng, int ham, int spam,
           const std::string& tag) {
  for (int i = 0; i < ham; ++i)
    ASSERT_TRUE(
        c.learn(scope, tag + "h" + std::to_string(i), store::Class::kHam, synth(rng, false)));
  for (int i = 0; i < spam; ++i)
    ASSERT_TRUE(
        c.learn(scope, tag + "s" + std::to_string(i), store::Class::kSpam, synth(rng, true)));
}

TEST(Classifier, SeparatesSyntheticClasses) {
  FakeStore st;
  Classifier c(st);
  std::mt19937 rng(42);
  train(c, store::Scope::global(), rng, 40, 40, "g");
  std::vector<store::Scope> chain{store::Scope::global()};
  for (int i = 0; i < 20; ++i) {
    auto s = c.classify(chain, synth(rng, true));
    auto h = c.classify(chain, synth(rng, false));
    ASSERT_TRUE(s && h);
    EXPECT_TRUE(s->trained);
    EXPECT_GT(s->spam_probability, 0.9);
    EXPECT_LT(h->spam_probability, 0.1);
    EXPECT_GT(s->raw_score, 0);
    EXPECT_LT(h->raw_score, 0);
    EXPECT_GT(s->tokens_used, 0u);
  }
}

TEST(Classifier, UntrainedGivesNoOpinion) {
  FakeStore st;
  Classifier c(st);
  std::mt19937 rng(1);
  std::vector<store::Scope> chain{store::Scope::global()};
  auto r = c.classify(chain, synth(rng, true));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->trained);
  EXPECT_EQ(r->spam_probability, 0.5);
  train(c, store::Scope::global(), rng, 50, 9, "g");  // 9 < min_spam_learned
  r = c.classify(chain, synth(rng, true));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->trained);
  EXPECT_EQ(r->spam_learned, 9u);
  EXPECT_EQ(st.lookups, 0);  // no token lookups when untrained
}

TEST(Classifier, UnlearnRestoresIdenticalProbabilities) {
  FakeStore st;
  Classifier c(st);
  std::mt19937 rng(7);
  train(c, store::Scope::global(), rng, 30, 30, "g");
  std::vector<store::Scope> chain{store::Scope::global()};
  auto probe_ham = synth(rng, false), probe_spam = synth(rng, true);
  auto before_h = c.classify(chain, probe_ham), before_s = c.classify(chain, probe_spam);
  auto before_counts = st.scope_counts(store::Scope::global());

  auto extra = synth(rng, false);
  extra.push_back(99999);
  auto l = c.learn(store::Scope::global(), "extra", store::Class::kSpam, extra);
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, store::LearnOutcome::kLearned);
  auto mid = c.classify(chain, probe_ham);
  EXPECT_NE(mid->spam_probability, before_h->spam_probability);

  auto u = c.unlearn(store::Scope::global(), "extra", store::Class::kSpam);
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, store::LearnOutcome::kUnlearned);
  auto after_h = c.classify(chain, probe_ham), after_s = c.classify(chain, probe_spam);
  EXPECT_EQ(after_h->spam_probability, before_h->spam_probability);  // exactly, not approx
  EXPECT_EQ(after_h->raw_score, before_h->raw_score);
  EXPECT_EQ(after_s->spam_probability, before_s->spam_probability);
  EXPECT_EQ(st.scope_counts(store::Scope::global()), before_counts);
  EXPECT_EQ(*c.unlearn(store::Scope::global(), "extra", store::Class::kSpam),
            store::LearnOutcome::kNotLearned);
}

TEST(Classifier, RelearnMovesMessageToOtherClass) {
  FakeStore st;
  Classifier c(st);
  std::mt19937 rng(9);
  train(c, store::Scope::global(), rng, 20, 20, "g");
  auto m = synth(rng, true);
  EXPECT_EQ(*c.learn(store::Scope::global(), "m", store::Class::kHam, m),
            store::LearnOutcome::kLearned);
  EXPECT_EQ(*c.learn(store::Scope::global(), "m", store::Class::kHam, m),
            store::LearnOutcome::kAlreadyLearned);
  EXPECT_EQ(*c.learn(store::Scope::global(), "m", store::Class::kSpam, m),
            store::LearnOutcome::kRelearned);
  auto t = *st.totals(store::Scope::global());
  EXPECT_EQ(t.ham_messages, 20u);
  EXPECT_EQ(t.spam_messages, 21u);
  // Unsorted input is normalised before it reaches the store.
  std::vector<uint64_t> unsorted{5, 3, 3, 1};
  EXPECT_TRUE(c.learn(store::Scope::global(), "u", store::Class::kHam, unsorted));
}

TEST(Classifier, MergedScopesSumCountsAndTrainOnlyTheUser) {
  FakeStore st;
  Classifier c(st);
  std::mt19937 rng(11);
  const store::Scope global = store::Scope::global();
  const store::Scope domain{store::Level::kDomain, "example.com"};
  const store::Scope alice{store::Level::kUser, "alice@example.com"};
  const store::Scope bob{store::Level::kUser, "bob@example.com"};

  // Neither scope alone is trained; summed they are (totals add over the chain).
  train(c, global, rng, 12, 0, "g");
  train(c, alice, rng, 0, 12, "a");
  std::vector<store::Scope> g_only{global}, alice_chain{global, domain, alice},
      bob_chain{global, domain, bob};
  auto probe = synth(rng, true);
  EXPECT_FALSE(c.classify(g_only, probe)->trained);
  auto merged = c.classify(alice_chain, probe);
  EXPECT_TRUE(merged->trained);
  EXPECT_EQ(merged->ham_learned, 12u);
  EXPECT_EQ(merged->spam_learned, 12u);
  EXPECT_GT(merged->raw_score, 0.0);
  EXPECT_GT(merged->spam_probability, 0.5);
  EXPECT_FALSE(c.classify(bob_chain, probe)->trained);

  // Now train global fully; Bob (no own data) sees exactly the global verdict.
  train(c, global, rng, 30, 30, "g2");
  auto probe2 = synth(rng, false);
  auto bob_before = c.classify(bob_chain, probe2);
  EXPECT_EQ(bob_before->spam_probability, c.classify(g_only, probe2)->spam_probability);

  // Alice says probe2 (ham-looking) is spam, repeatedly: only alice's scope changes.
  auto global_before = st.scope_counts(global);
  auto alice_before = c.classify(alice_chain, probe2);
  for (int i = 0; i < 15; ++i)
    ASSERT_TRUE(c.learn(alice, "p" + std::to_string(i), store::Class::kSpam, probe2));
  EXPECT_EQ(st.scope_counts(global), global_before);
  EXPECT_TRUE(st.scope_counts(domain).empty());
  auto alice_after = c.classify(alice_chain, probe2);
  EXPECT_GT(alice_after->spam_probability, alice_before->spam_probability);
  auto bob_after = c.classify(bob_chain, probe2);
  EXPECT_EQ(bob_after->spam_probability, bob_before->spam_probability);
}

TEST(Classifier, CalibrationMonotonicAndBounded) {
  ClassifierParams p;
  double prev = -1;
  for (double raw = -1e6; raw <= 1e6; raw += (std::fabs(raw) < 100 ? 0.25 : 997.0)) {
    double q = calibrate(p, raw);
    EXPECT_GE(q, 0.0);
    EXPECT_LE(q, 1.0);
    EXPECT_GE(q, prev);
    prev = q;
  }
  EXPECT_GT(p.platt_a, 0.0);
  EXPECT_LT(calibrate(p, -50), 0.5);
  EXPECT_GT(calibrate(p, 50), 0.5);
}

TEST(Classifier, EvidenceListsUsedTokensMostExtremeFirst) {
  FakeStore st;
  Classifier c(st);
  std::mt19937 rng(3);
  train(c, store::Scope::global(), rng, 20, 20, "g");
  std::vector<store::Scope> chain{store::Scope::global()};
  std::vector<TokenEvidence> ev;
  auto r = c.classify(chain, synth(rng, true), &ev);
  ASSERT_TRUE(r);
  ASSERT_EQ(ev.size(), r->tokens_used);
  for (size_t i = 1; i < ev.size(); ++i)
    EXPECT_GE(std::fabs(ev[i - 1].prob - 0.5), std::fabs(ev[i].prob - 0.5));
}

TEST(Classifier, LogOddsCombiningAlsoSeparates) {
  FakeStore st;
  ClassifierParams p;
  p.combining = Combining::kLogOdds;
  Classifier c(st, p);
  std::mt19937 rng(5);
  train(c, store::Scope::global(), rng, 30, 30, "g");
  std::vector<store::Scope> chain{store::Scope::global()};
  EXPECT_GT(c.classify(chain, synth(rng, true))->raw_score, 0);
  EXPECT_LT(c.classify(chain, synth(rng, false))->raw_score, 0);
}

// The effective-size-factor path uses the incomplete gamma function for non-integer degrees of
// freedom. Just below esf = 1 it must agree with the exact even-dof sum, and a smaller esf must
// shrink the evidence without flipping its sign.
TEST(Classifier, EffectiveSizeFactorMatchesExactPathAndShrinksEvidence) {
  FakeStore st;
  ClassifierParams fisher;
  fisher.combining = Combining::kFisher;  // esf applies to the log-ratio Fisher form
  Classifier exact(st, fisher);
  std::mt19937 train_rng(9);
  train(exact, store::Scope::global(), train_rng, 30, 30, "g");
  ClassifierParams near_one = fisher, half = fisher;
  near_one.esf = 1.0 - 1e-9;
  half.esf = 0.5;
  Classifier approx(st, near_one), shrunk(st, half);
  std::vector<store::Scope> chain{store::Scope::global()};
  std::mt19937 rng(10);
  for (int i = 0; i < 10; ++i) {
    for (bool spam : {true, false}) {
      auto f = synth(rng, spam);
      double e = exact.classify(chain, f)->raw_score;
      double a = approx.classify(chain, f)->raw_score;
      double h = shrunk.classify(chain, f)->raw_score;
      EXPECT_NEAR(a, e, 1e-5 * std::max(1.0, std::fabs(e)));
      EXPECT_EQ(h > 0, e > 0);
      EXPECT_LT(std::fabs(h), std::fabs(e));
    }
  }
}

// Chi-square survival for even dof 2n, summed directly (fine for the small n used here).
double chi2q_direct(double x2, size_t n) {
  double m = x2 / 2, term = std::exp(-m), sum = term;
  for (size_t i = 1; i < n; ++i) {
    term *= m / static_cast<double>(i);
    sum += term;
  }
  return std::min(sum, 1.0);
}

// Where the classic indicator I = Q_h - Q_s does not round to ±1, the default combining must be
// exactly the monotone map g(I) = -ln(1-I) (I >= 0) / ln(1+I) (I < 0) of it.
TEST(Classifier, FisherIndicatorMatchesClassicFormWhereItDoesNotSaturate) {
  FakeStore st;
  ClassifierParams p;
  p.min_dev = 0.0;
  ASSERT_EQ(p.combining, Combining::kFisherIndicator);
  Classifier c(st, p);
  // Totals 100 ham / 50 spam; a few tokens with mixed counts.
  const std::vector<std::vector<store::TokenCounts>> cases{
      {{3, 1}, {0, 2}, {10, 1}},
      {{1, 4}, {2, 3}},
      {{20, 1}, {5, 0}, {1, 1}, {0, 1}},
      {{1, 1}},
  };
  for (const auto& counts : cases) {
    double sum_ln_f = 0, sum_ln_1mf = 0;
    for (const auto& t : counts) {
      double b = t.spam / 50.0, g = t.ham / 100.0, n = t.ham + t.spam;
      double f = (p.robs * p.robx + n * b / (b + g)) / (p.robs + n);
      sum_ln_f += std::log(f);
      sum_ln_1mf += std::log1p(-f);
    }
    double indicator =
        chi2q_direct(-2 * sum_ln_f, counts.size()) - chi2q_direct(-2 * sum_ln_1mf, counts.size());
    double expected = indicator >= 0 ? -std::log1p(-indicator) : std::log1p(indicator);
    Classification r = c.combine(counts, 100, 50);
    EXPECT_NEAR(r.raw_score, expected, 1e-9 + 1e-7 * std::fabs(expected));
  }
}

// Strong evidence both ways: the log-ratio form reports a confident verdict, the indicator
// (like bogofilter's 0.5 "unsure") stays near zero; one-sided evidence is not capped.
TEST(Classifier, FisherIndicatorCallsMixedEvidenceUnsureAndDoesNotSaturate) {
  FakeStore st;
  ClassifierParams ind, ratio;
  ratio.combining = Combining::kFisher;
  Classifier ci(st, ind), cr(st, ratio);
  std::vector<store::TokenCounts> mixed, spammy;
  for (int i = 0; i < 40; ++i)
    mixed.push_back({0, 30});  // strongly spam
  for (int i = 0; i < 30; ++i)
    mixed.push_back({60, 0});  // strongly ham
  double r_mixed = cr.combine(mixed, 100, 50).raw_score;
  double i_mixed = ci.combine(mixed, 100, 50).raw_score;
  EXPECT_GT(std::fabs(r_mixed), 10.0);
  EXPECT_LT(std::fabs(i_mixed), 1.0);
  for (int i = 0; i < 400; ++i)
    spammy.push_back({0, 30});
  double i_400 = ci.combine(spammy, 100, 50).raw_score;
  spammy.resize(200);
  double i_200 = ci.combine(spammy, 100, 50).raw_score;
  EXPECT_TRUE(std::isfinite(i_400));
  EXPECT_GT(i_400, i_200);  // still ranks: no saturation at I = 1
  EXPECT_GT(i_200, 50.0);
}

TEST(Tokenizer, OptionalHtmlAndTransitFamilies) {
  auto b = make_message({{"Return-Path", "<bounce@lists.example>"}}, {"hello there"});
  mime::Part html;
  html.content_type = "text/html";
  html.decoded = "<font face=\"Arial\" color=#FF0000>x</font><!-- zqxv random -->";
  b->msg.parts.push_back(html);
  auto def = names_of(b->msg);
  for (auto& s : def) {  // defaults (CV): no tag, attribute value, comment or transit features
    EXPECT_NE(s.rfind("tag:", 0), 0u) << s;
    EXPECT_NE(s.rfind("tv:", 0), 0u) << s;
    EXPECT_NE(s.rfind("hc:", 0), 0u) << s;
    EXPECT_NE(s.rfind("h:return-path:", 0), 0u) << s;
  }
  FeatureOptions opt;
  opt.html_tags = opt.html_attr_values = opt.html_comments = opt.transit_headers = true;
  auto all = names_of(b->msg, opt);
  EXPECT_TRUE(all.count("tag:font.face"));
  EXPECT_TRUE(all.count("tv:font.face:arial"));
  EXPECT_TRUE(all.count("tv:font.color:ff0000"));
  EXPECT_TRUE(all.count("hc:zqxv"));
  EXPECT_TRUE(all.count("h:return-path:lists.example") || all.count("h:return-path:bounce"));
  opt.size_buckets = opt.parser_facts = false;
  for (auto& s : names_of(b->msg, opt))
    EXPECT_NE(s.rfind("n:", 0), 0u) << s;
}

}  // namespace
}  // namespace mailsift::learn
