// The one Store conformance suite: every backend must pass it unchanged.
// Backends instantiate it with MAILSIFT_STORE_CONFORMANCE (see testing/conformance.h).
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <thread>

#include "store/testing/conformance.h"

namespace mailsift::store::testing {

void StoreConformance::SetUp() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mailsift-store-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
}

void StoreConformance::TearDown() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::unique_ptr<Store> StoreConformance::fresh() {
  auto s = GetParam().open_fresh(dir_);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().describe());
  return s.ok() ? std::move(s).value() : nullptr;
}

std::unique_ptr<Store> StoreConformance::reopen() {
  if (!GetParam().reopen)
    return nullptr;
  auto s = GetParam().reopen(dir_);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().describe());
  return s.ok() ? std::move(s).value() : nullptr;
}

}  // namespace mailsift::store::testing

namespace mailsift::store {
// Readable failure output (found by ADL).
inline void PrintTo(const TokenCounts& c, std::ostream* os) {
  *os << "{ham " << c.ham << ", spam " << c.spam << "}";
}
inline void PrintTo(const ClassTotals& c, std::ostream* os) {
  *os << "{ham " << c.ham_messages << ", spam " << c.spam_messages << "}";
}
}  // namespace mailsift::store

namespace mailsift::store::testing {
namespace {

const Scope kUser{Level::kUser, "bob@example.com"};
const Scope kDomain{Level::kDomain, "example.com"};
const Scope kReseller{Level::kReseller, "acme"};

LearnRequest req(const Scope& scope, std::string digest, Class cls, std::vector<uint64_t> tokens) {
  return LearnRequest{scope, std::move(digest), cls, std::move(tokens)};
}

std::vector<TokenCounts> counts(Store& s, const Scope& scope, std::vector<uint64_t> tokens) {
  auto r = s.token_counts(scope, tokens);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? *r : std::vector<TokenCounts>(tokens.size());
}
TokenCounts count1(Store& s, const Scope& scope, uint64_t token) {
  return counts(s, scope, {token})[0];
}
ClassTotals totals(Store& s, const Scope& scope) {
  auto r = s.totals(scope);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? *r : ClassTotals{};
}
LearnOutcome learn(Store& s, const LearnRequest& r) {
  auto o = s.learn(r);
  EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().describe());
  return o.ok() ? *o : LearnOutcome::kNotLearned;
}
LearnOutcome unlearn(Store& s, const Scope& scope, const std::string& d, Class c) {
  auto o = s.unlearn(scope, d, c);
  EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().describe());
  return o.ok() ? *o : LearnOutcome::kLearned;
}

FuzzyRecord record(std::string digest, std::vector<uint64_t> bands, std::string reporter = "",
                   Class cls = Class::kSpam) {
  FuzzyRecord r;
  r.message_digest = std::move(digest);
  r.cls = cls;
  r.bands = std::move(bands);
  r.signature = {1, 2, 3, 4};
  r.reporter = std::move(reporter);
  r.added_unix = 1700000000;
  return r;
}
std::vector<std::string> candidate_ids(Store& s, const Scope& scope, std::vector<uint64_t> bands,
                                       size_t limit = 100) {
  auto r = s.fuzzy_candidates(scope, bands, limit);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  std::vector<std::string> out;
  if (r.ok()) {
    for (const auto& rec : *r)
      out.push_back(rec.message_digest + "/" + rec.reporter);
  }
  return out;
}

// A deterministic token list: n tokens drawn from a pool so messages overlap.
std::vector<uint64_t> tokens_for(uint64_t seed, size_t n, uint64_t pool = 1000) {
  std::vector<uint64_t> t;
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t.push_back(x % pool * 0x100000001b3ULL);
  }
  return t;
}

std::vector<uint64_t> iota_tokens(uint64_t from, uint64_t to) {
  std::vector<uint64_t> t;
  for (uint64_t i = from; i < to; ++i)
    t.push_back(i * 0x100000001b3ULL);
  return t;
}

TEST_P(StoreConformance, EmptyStoreReadsZero) {
  auto s = fresh();
  ASSERT_TRUE(s);
  EXPECT_EQ(counts(*s, Scope::global(), {1, 2, 0}), std::vector<TokenCounts>(3));
  EXPECT_EQ(counts(*s, kUser, {}), std::vector<TokenCounts>{});
  EXPECT_EQ(totals(*s, kUser), ClassTotals{});
}

TEST_P(StoreConformance, ScopesAreIsolated) {
  auto s = fresh();
  ASSERT_TRUE(s);
  EXPECT_EQ(learn(*s, req(kUser, "d1", Class::kSpam, {10, 11})), LearnOutcome::kLearned);
  EXPECT_EQ(learn(*s, req(kDomain, "d1", Class::kHam, {10})), LearnOutcome::kLearned);
  EXPECT_EQ(count1(*s, kUser, 10), (TokenCounts{0, 1}));
  EXPECT_EQ(count1(*s, kDomain, 10), (TokenCounts{1, 0}));
  EXPECT_EQ(count1(*s, Scope::global(), 10), TokenCounts{});
  EXPECT_EQ(count1(*s, kReseller, 10), TokenCounts{});
  // Same id text at another level is another scope.
  EXPECT_EQ(count1(*s, (Scope{Level::kReseller, "bob@example.com"}), 10), TokenCounts{});
  EXPECT_EQ(totals(*s, kUser), (ClassTotals{0, 1}));
  EXPECT_EQ(totals(*s, kDomain), (ClassTotals{1, 0}));
  EXPECT_EQ(totals(*s, Scope::global()), ClassTotals{});
  // Unlearn in one scope leaves the other alone.
  EXPECT_EQ(unlearn(*s, kDomain, "d1", Class::kHam), LearnOutcome::kUnlearned);
  EXPECT_EQ(count1(*s, kUser, 10), (TokenCounts{0, 1}));
}

TEST_P(StoreConformance, LearnIsIdempotent) {
  auto s = fresh();
  ASSERT_TRUE(s);
  auto r = req(Scope::global(), "abc", Class::kSpam, {1, 2, 3});
  EXPECT_EQ(learn(*s, r), LearnOutcome::kLearned);
  EXPECT_EQ(learn(*s, r), LearnOutcome::kAlreadyLearned);
  r.tokens = {1, 2, 3, 4};  // same digest: still the same message, nothing changes
  EXPECT_EQ(learn(*s, r), LearnOutcome::kAlreadyLearned);
  EXPECT_EQ(counts(*s, Scope::global(), {1, 2, 3, 4}),
            (std::vector<TokenCounts>{{0, 1}, {0, 1}, {0, 1}, {0, 0}}));
  EXPECT_EQ(totals(*s, Scope::global()), (ClassTotals{0, 1}));
}

TEST_P(StoreConformance, RelearnMovesCountsExactly) {
  auto s = fresh();
  ASSERT_TRUE(s);
  const Scope g = Scope::global();
  ASSERT_EQ(learn(*s, req(g, "other", Class::kSpam, {1, 2})), LearnOutcome::kLearned);
  ASSERT_EQ(learn(*s, req(g, "m", Class::kSpam, {1, 2, 3})), LearnOutcome::kLearned);
  EXPECT_EQ(counts(*s, g, {1, 2, 3}), (std::vector<TokenCounts>{{0, 2}, {0, 2}, {0, 1}}));
  EXPECT_EQ(learn(*s, req(g, "m", Class::kHam, {1, 2, 3})), LearnOutcome::kRelearned);
  EXPECT_EQ(counts(*s, g, {1, 2, 3}), (std::vector<TokenCounts>{{1, 1}, {1, 1}, {1, 0}}));
  EXPECT_EQ(totals(*s, g), (ClassTotals{1, 1}));
  EXPECT_EQ(learn(*s, req(g, "m", Class::kSpam, {1, 2, 3})), LearnOutcome::kRelearned);
  EXPECT_EQ(counts(*s, g, {1, 2, 3}), (std::vector<TokenCounts>{{0, 2}, {0, 2}, {0, 1}}));
  EXPECT_EQ(totals(*s, g), (ClassTotals{0, 2}));
  // Unlearn as the old class no longer matches; as the current class it does.
  EXPECT_EQ(unlearn(*s, g, "m", Class::kHam), LearnOutcome::kNotLearned);
  EXPECT_EQ(unlearn(*s, g, "m", Class::kSpam), LearnOutcome::kUnlearned);
  EXPECT_EQ(counts(*s, g, {1, 2, 3}), (std::vector<TokenCounts>{{0, 1}, {0, 1}, {0, 0}}));
}

TEST_P(StoreConformance, UnlearnRestoresCountsExactly) {
  auto s = fresh();
  ASSERT_TRUE(s);
  for (uint64_t i = 0; i < 20; ++i) {
    ASSERT_EQ(learn(*s, req(kUser, "base" + std::to_string(i), i % 3 ? Class::kSpam : Class::kHam,
                            tokens_for(i, 200))),
              LearnOutcome::kLearned);
  }
  std::vector<uint64_t> probe = tokens_for(99, 300);
  auto more = tokens_for(7, 300);
  probe.insert(probe.end(), more.begin(), more.end());
  const auto before = counts(*s, kUser, probe);
  const auto before_totals = totals(*s, kUser);
  for (Class cls : {Class::kSpam, Class::kHam}) {
    ASSERT_EQ(learn(*s, req(kUser, "x", cls, tokens_for(99, 300))), LearnOutcome::kLearned);
    EXPECT_NE(counts(*s, kUser, probe), before);
    EXPECT_EQ(unlearn(*s, kUser, "x", cls), LearnOutcome::kUnlearned);
    EXPECT_EQ(counts(*s, kUser, probe), before);
    EXPECT_EQ(totals(*s, kUser), before_totals);
  }
  // Through a relearn as well.
  ASSERT_EQ(learn(*s, req(kUser, "y", Class::kHam, tokens_for(99, 300))), LearnOutcome::kLearned);
  ASSERT_EQ(learn(*s, req(kUser, "y", Class::kSpam, tokens_for(7, 300))), LearnOutcome::kRelearned);
  EXPECT_EQ(unlearn(*s, kUser, "y", Class::kSpam), LearnOutcome::kUnlearned);
  EXPECT_EQ(counts(*s, kUser, probe), before);
  EXPECT_EQ(totals(*s, kUser), before_totals);
}

TEST_P(StoreConformance, UnlearnOfUnknownIsNotLearned) {
  auto s = fresh();
  ASSERT_TRUE(s);
  EXPECT_EQ(unlearn(*s, kUser, "nope", Class::kSpam), LearnOutcome::kNotLearned);
  ASSERT_EQ(learn(*s, req(kUser, "m", Class::kSpam, {5})), LearnOutcome::kLearned);
  EXPECT_EQ(unlearn(*s, kUser, "m", Class::kHam), LearnOutcome::kNotLearned);
  EXPECT_EQ(unlearn(*s, kDomain, "m", Class::kSpam), LearnOutcome::kNotLearned);
  EXPECT_EQ(count1(*s, kUser, 5), (TokenCounts{0, 1}));
  EXPECT_EQ(totals(*s, kUser), (ClassTotals{0, 1}));
}

TEST_P(StoreConformance, CountsNeverUnderflow) {
  auto s = fresh();
  ASSERT_TRUE(s);
  ASSERT_EQ(learn(*s, req(kUser, "m", Class::kHam, {5, 6})), LearnOutcome::kLearned);
  EXPECT_EQ(unlearn(*s, kUser, "m", Class::kHam), LearnOutcome::kUnlearned);
  EXPECT_EQ(unlearn(*s, kUser, "m", Class::kHam), LearnOutcome::kNotLearned);
  EXPECT_EQ(counts(*s, kUser, {5, 6}), std::vector<TokenCounts>(2));
  EXPECT_EQ(totals(*s, kUser), ClassTotals{});
  ASSERT_EQ(learn(*s, req(kUser, "m", Class::kHam, {5})), LearnOutcome::kLearned);
  EXPECT_EQ(count1(*s, kUser, 5), (TokenCounts{1, 0}));
  EXPECT_EQ(totals(*s, kUser), (ClassTotals{1, 0}));
}

TEST_P(StoreConformance, DuplicateTokensInARequestCountOnce) {
  auto s = fresh();
  ASSERT_TRUE(s);
  ASSERT_EQ(learn(*s, req(kUser, "m", Class::kSpam, {5, 5, 7, 5, 7})), LearnOutcome::kLearned);
  EXPECT_EQ(counts(*s, kUser, {5, 7, 5}), (std::vector<TokenCounts>{{0, 1}, {0, 1}, {0, 1}}));
  EXPECT_EQ(unlearn(*s, kUser, "m", Class::kSpam), LearnOutcome::kUnlearned);
  EXPECT_EQ(counts(*s, kUser, {5, 7}), std::vector<TokenCounts>(2));
}

TEST_P(StoreConformance, EmptyTokenList) {
  auto s = fresh();
  ASSERT_TRUE(s);
  EXPECT_EQ(learn(*s, req(kUser, "empty", Class::kSpam, {})), LearnOutcome::kLearned);
  EXPECT_EQ(totals(*s, kUser), (ClassTotals{0, 1}));
  EXPECT_EQ(learn(*s, req(kUser, "empty", Class::kSpam, {})), LearnOutcome::kAlreadyLearned);
  EXPECT_EQ(learn(*s, req(kUser, "empty", Class::kHam, {})), LearnOutcome::kRelearned);
  EXPECT_EQ(totals(*s, kUser), (ClassTotals{1, 0}));
  EXPECT_EQ(unlearn(*s, kUser, "empty", Class::kHam), LearnOutcome::kUnlearned);
  EXPECT_EQ(totals(*s, kUser), ClassTotals{});
}

TEST_P(StoreConformance, ExtremeTokenValues) {
  auto s = fresh();
  ASSERT_TRUE(s);
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t kHigh = uint64_t{1} << 63;
  ASSERT_EQ(learn(*s, req(Scope::global(), "m", Class::kSpam, {0, kMax, kHigh})),
            LearnOutcome::kLearned);
  EXPECT_EQ(counts(*s, Scope::global(), {kHigh, 0, 1, kMax}),
            (std::vector<TokenCounts>{{0, 1}, {0, 1}, {0, 0}, {0, 1}}));
  ASSERT_EQ(unlearn(*s, Scope::global(), "m", Class::kSpam), LearnOutcome::kUnlearned);
  EXPECT_EQ(counts(*s, Scope::global(), {kHigh, 0, kMax}), std::vector<TokenCounts>(3));
}

TEST_P(StoreConformance, ManyTokensAndMessages) {
  auto s = fresh();
  ASSERT_TRUE(s);
  const auto all = iota_tokens(1, 5001);
  ASSERT_EQ(learn(*s, req(Scope::global(), "big", Class::kHam, all)), LearnOutcome::kLearned);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(learn(*s, req(Scope::global(), "s" + std::to_string(i), Class::kSpam,
                            iota_tokens(1 + i * 100, 101 + i * 100))),
              LearnOutcome::kLearned);
  }
  auto c = counts(*s, Scope::global(), all);
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(c[i], (TokenCounts{1, 1})) << i;
  }
  EXPECT_EQ(totals(*s, Scope::global()), (ClassTotals{1, 50}));
}

TEST_P(StoreConformance, LearnBatchEqualsSequentialLearns) {
  auto batched = fresh();
  ASSERT_TRUE(batched);
  auto single = make_memory_store();  // the reference semantics
  std::vector<LearnRequest> reqs;
  for (uint64_t i = 0; i < 30; ++i) {
    reqs.push_back(req(i % 2 ? kUser : kDomain, "m" + std::to_string(i % 25),
                       i % 3 ? Class::kSpam : Class::kHam, tokens_for(i, 50, 200)));
  }
  auto outcomes = batched->learn_batch(reqs);
  ASSERT_TRUE(outcomes.ok()) << outcomes.error().describe();
  ASSERT_EQ(outcomes->size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ((*outcomes)[i], learn(*single, reqs[i])) << i;
  }
  std::vector<uint64_t> probe;
  for (uint64_t i = 0; i < 200; ++i)
    probe.push_back(i * 0x100000001b3ULL);
  for (const Scope& sc : {kUser, kDomain, Scope::global()}) {
    EXPECT_EQ(counts(*batched, sc, probe), counts(*single, sc, probe));
    EXPECT_EQ(totals(*batched, sc), totals(*single, sc));
  }
  auto empty = batched->learn_batch({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  // Batched records unlearn like single ones.
  EXPECT_EQ(unlearn(*batched, kUser, "m1", Class::kSpam),
            unlearn(*single, kUser, "m1", Class::kSpam));
  EXPECT_EQ(counts(*batched, kUser, probe), counts(*single, kUser, probe));
}

TEST_P(StoreConformance, ConcurrentLearnsFromThreads) {
  auto s = fresh();
  ASSERT_TRUE(s);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string d = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto o = s->learn(req(kDomain, d, Class::kSpam, {1, 2, uint64_t(100 + t)}));
        EXPECT_TRUE(o.ok());
        auto c = s->token_counts(kDomain, std::vector<uint64_t>{1, 2});
        EXPECT_TRUE(c.ok());
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(count1(*s, kDomain, 1), (TokenCounts{0, 40}));
  EXPECT_EQ(count1(*s, kDomain, 102), (TokenCounts{0, 10}));
  EXPECT_EQ(totals(*s, kDomain), (ClassTotals{0, 40}));
}

TEST_P(StoreConformance, FuzzyAddReplaceRemove) {
  auto s = fresh();
  ASSERT_TRUE(s);
  const Scope g = Scope::global();
  EXPECT_EQ(candidate_ids(*s, g, {1, 2, 3}), std::vector<std::string>{});
  ASSERT_TRUE(s->fuzzy_add(g, record("a", {1, 2, 3}, "r1")).ok());
  EXPECT_EQ(candidate_ids(*s, g, {3, 9}), std::vector<std::string>{"a/r1"});
  EXPECT_EQ(candidate_ids(*s, g, {9}), std::vector<std::string>{});
  // Same (digest, reporter): replaced, the old bands no longer find it.
  ASSERT_TRUE(s->fuzzy_add(g, record("a", {7, 8}, "r1", Class::kHam)).ok());
  EXPECT_EQ(candidate_ids(*s, g, {1, 2, 3}), std::vector<std::string>{});
  auto got = s->fuzzy_candidates(g, std::vector<uint64_t>{8}, 10);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].cls, Class::kHam);
  EXPECT_EQ((*got)[0].bands, (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ((*got)[0].signature, (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ((*got)[0].reporter, "r1");
  EXPECT_EQ((*got)[0].added_unix, 1700000000);
  // Another reporter of the same digest is another record.
  ASSERT_TRUE(s->fuzzy_add(g, record("a", {8}, "r2")).ok());
  EXPECT_EQ(candidate_ids(*s, g, {8}), (std::vector<std::string>{"a/r1", "a/r2"}));
  // Other scopes do not see it.
  EXPECT_EQ(candidate_ids(*s, kUser, {8}), std::vector<std::string>{});
  ASSERT_TRUE(s->fuzzy_remove(kUser, "a").ok());  // no-op elsewhere
  EXPECT_EQ(candidate_ids(*s, g, {8}).size(), 2u);
  ASSERT_TRUE(s->fuzzy_remove(g, "a").ok());
  EXPECT_EQ(candidate_ids(*s, g, {7, 8}), std::vector<std::string>{});
  ASSERT_TRUE(s->fuzzy_remove(g, "a").ok());  // removing nothing is fine
}

TEST_P(StoreConformance, FuzzyCandidatesOrderAndLimit) {
  auto s = fresh();
  ASSERT_TRUE(s);
  const Scope g = Scope::global();
  ASSERT_TRUE(s->fuzzy_add(g, record("one", {1, 100})).ok());
  ASSERT_TRUE(s->fuzzy_add(g, record("three", {1, 2, 3})).ok());
  ASSERT_TRUE(s->fuzzy_add(g, record("two-b", {2, 3, 200})).ok());
  ASSERT_TRUE(s->fuzzy_add(g, record("two-a", {1, 2, 300})).ok());
  ASSERT_TRUE(s->fuzzy_add(g, record("none", {400})).ok());
  // Most shared bands first, ties by digest; duplicate query bands count once.
  EXPECT_EQ(candidate_ids(*s, g, {1, 2, 3, 3}),
            (std::vector<std::string>{"three/", "two-a/", "two-b/", "one/"}));
  EXPECT_EQ(candidate_ids(*s, g, {1, 2, 3}, 2), (std::vector<std::string>{"three/", "two-a/"}));
  EXPECT_EQ(candidate_ids(*s, g, {1, 2, 3}, 0), std::vector<std::string>{});
}

TEST_P(StoreConformance, PersistsAcrossReopen) {
  if (!GetParam().reopen)
    GTEST_SKIP() << "backend keeps no data outside the object";
  {
    auto s = fresh();
    ASSERT_TRUE(s);
    ASSERT_EQ(learn(*s, req(kUser, "m1", Class::kSpam, {1, 2})), LearnOutcome::kLearned);
    ASSERT_EQ(learn(*s, req(kUser, "m2", Class::kHam, {2, 3})), LearnOutcome::kLearned);
    ASSERT_TRUE(s->fuzzy_add(kUser, record("f", {5, 6}, "r")).ok());
  }
  auto s = reopen();
  ASSERT_TRUE(s);
  EXPECT_EQ(counts(*s, kUser, {1, 2, 3}), (std::vector<TokenCounts>{{0, 1}, {1, 1}, {1, 0}}));
  EXPECT_EQ(totals(*s, kUser), (ClassTotals{1, 1}));
  EXPECT_EQ(learn(*s, req(kUser, "m1", Class::kSpam, {1, 2})), LearnOutcome::kAlreadyLearned);
  EXPECT_EQ(unlearn(*s, kUser, "m2", Class::kHam), LearnOutcome::kUnlearned);
  EXPECT_EQ(counts(*s, kUser, {1, 2, 3}), (std::vector<TokenCounts>{{0, 1}, {0, 1}, {0, 0}}));
  EXPECT_EQ(candidate_ids(*s, kUser, {6}), std::vector<std::string>{"f/r"});
}

TEST_P(StoreConformance, SecondConnectionSeesWrites) {
  if (!GetParam().reopen)
    GTEST_SKIP() << "backend has a single connection";
  auto a = fresh();
  ASSERT_TRUE(a);
  auto b = reopen();
  ASSERT_TRUE(b);
  const Scope g = Scope::global();
  // Warm b's view of the scope first, so a stale cache would show.
  ASSERT_EQ(learn(*a, req(g, "m0", Class::kHam, {1})), LearnOutcome::kLearned);
  EXPECT_EQ(counts(*b, g, {1, 2}), (std::vector<TokenCounts>{{1, 0}, {0, 0}}));
  EXPECT_EQ(totals(*b, g), (ClassTotals{1, 0}));
  EXPECT_EQ(counts(*b, kUser, {1}), std::vector<TokenCounts>(1));  // scope unknown so far

  ASSERT_EQ(learn(*a, req(g, "m1", Class::kSpam, {1, 2})), LearnOutcome::kLearned);
  ASSERT_EQ(learn(*a, req(kUser, "m1", Class::kSpam, {1})), LearnOutcome::kLearned);
  EXPECT_EQ(counts(*b, g, {1, 2}), (std::vector<TokenCounts>{{1, 1}, {0, 1}}));
  EXPECT_EQ(totals(*b, g), (ClassTotals{1, 1}));
  EXPECT_EQ(count1(*b, kUser, 1), (TokenCounts{0, 1}));

  // b writes; a (warm) sees it; b's own snapshot is patched too.
  EXPECT_EQ(learn(*b, req(g, "m1", Class::kSpam, {1, 2})), LearnOutcome::kAlreadyLearned);
  EXPECT_EQ(unlearn(*b, g, "m1", Class::kSpam), LearnOutcome::kUnlearned);
  EXPECT_EQ(counts(*a, g, {1, 2}), (std::vector<TokenCounts>{{1, 0}, {0, 0}}));
  EXPECT_EQ(counts(*b, g, {1, 2}), (std::vector<TokenCounts>{{1, 0}, {0, 0}}));
  EXPECT_EQ(totals(*a, g), (ClassTotals{1, 0}));

  // Interleaved writers keep both views exact.
  for (int i = 0; i < 30; ++i) {
    Store& w = i % 2 ? *a : *b;
    ASSERT_EQ(learn(w, req(g, "x" + std::to_string(i), Class::kSpam, {7, uint64_t(8 + i % 3)})),
              LearnOutcome::kLearned);
  }
  for (Store* s : {a.get(), b.get()}) {
    EXPECT_EQ(counts(*s, g, {7, 8, 9, 10}),
              (std::vector<TokenCounts>{{0, 30}, {0, 10}, {0, 10}, {0, 10}}));
    EXPECT_EQ(totals(*s, g), (ClassTotals{1, 30}));
  }

  // Fuzzy memory is shared the same way.
  EXPECT_EQ(candidate_ids(*b, g, {5}), std::vector<std::string>{});
  ASSERT_TRUE(a->fuzzy_add(g, record("f", {5})).ok());
  EXPECT_EQ(candidate_ids(*b, g, {5}), std::vector<std::string>{"f/"});
  ASSERT_TRUE(b->fuzzy_remove(g, "f").ok());
  EXPECT_EQ(candidate_ids(*a, g, {5}), std::vector<std::string>{});
}

}  // namespace
}  // namespace mailsift::store::testing
