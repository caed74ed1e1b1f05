// In-process Store: the reference semantics every backend must match (see the conformance
// suite). Thread-safe: one mutex around everything; it is meant for tests and small setups.
#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "store/store.h"

namespace mailsift::store {
namespace {

uint32_t add_saturating(uint32_t a, uint32_t b) {
  uint64_t s = uint64_t{a} + b;
  return s > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                  : static_cast<uint32_t>(s);
}
uint32_t sub_saturating(uint32_t a, uint32_t b) {
  return a > b ? a - b : 0;
}

std::vector<uint64_t> sorted_unique(std::span<const uint64_t> tokens) {
  std::vector<uint64_t> v(tokens.begin(), tokens.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

class MemoryStore final : public Store {
 public:
  Result<std::vector<TokenCounts>> token_counts(const Scope& scope,
                                                std::span<const uint64_t> tokens) override {
    std::lock_guard lock(mu_);
    std::vector<TokenCounts> out(tokens.size());
    auto it = scopes_.find(scope.key());
    if (it == scopes_.end())
      return out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto t = it->second.tokens.find(tokens[i]);
      if (t != it->second.tokens.end())
        out[i] = t->second;
    }
    return out;
  }

  Result<ClassTotals> totals(const Scope& scope) override {
    std::lock_guard lock(mu_);
    auto it = scopes_.find(scope.key());
    return it == scopes_.end() ? ClassTotals{} : it->second.totals;
  }

  Result<LearnOutcome> learn(const LearnRequest& request) override {
    std::lock_guard lock(mu_);
    ScopeData& data = scopes_[request.scope.key()];
    auto it = data.learned.find(request.message_digest);
    LearnOutcome outcome = LearnOutcome::kLearned;
    if (it != data.learned.end()) {
      if (it->second.cls == request.cls)
        return LearnOutcome::kAlreadyLearned;
      remove_contribution(data, it->second.cls, it->second.tokens);
      outcome = LearnOutcome::kRelearned;
    }
    Learned record{request.cls, sorted_unique(request.tokens)};
    for (uint64_t t : record.tokens) {
      TokenCounts& c = data.tokens[t];
      if (request.cls == Class::kHam) {
        c.ham = add_saturating(c.ham, 1);
      } else {
        c.spam = add_saturating(c.spam, 1);
      }
    }
    (request.cls == Class::kHam ? data.totals.ham_messages : data.totals.spam_messages) += 1;
    data.learned[request.message_digest] = std::move(record);
    return outcome;
  }

  Result<LearnOutcome> unlearn(const Scope& scope, const std::string& message_digest,
                               Class cls) override {
    std::lock_guard lock(mu_);
    auto sit = scopes_.find(scope.key());
    if (sit == scopes_.end())
      return LearnOutcome::kNotLearned;
    ScopeData& data = sit->second;
    auto it = data.learned.find(message_digest);
    if (it == data.learned.end() || it->second.cls != cls)
      return LearnOutcome::kNotLearned;
    remove_contribution(data, cls, it->second.tokens);
    data.learned.erase(it);
    return LearnOutcome::kUnlearned;
  }

  Status fuzzy_add(const Scope& scope, const FuzzyRecord& record) override {
    std::lock_guard lock(mu_);
    ScopeData& data = scopes_[scope.key()];
    auto [it, inserted] = data.fuzzy.try_emplace({record.message_digest, record.reporter}, record);
    if (!inserted) {  // replace: the old record's bands leave the index first
      unindex(data, it);
      it->second = record;
    }
    for (uint64_t band : sorted_unique(record.bands))
      data.band_index[band].push_back(it);
    return Ok{};
  }

  Status fuzzy_remove(const Scope& scope, const std::string& message_digest) override {
    std::lock_guard lock(mu_);
    auto sit = scopes_.find(scope.key());
    if (sit == scopes_.end())
      return Ok{};
    ScopeData& data = sit->second;
    auto& fuzzy = data.fuzzy;
    for (auto it = fuzzy.lower_bound({message_digest, ""});
         it != fuzzy.end() && it->first.first == message_digest;) {
      unindex(data, it);
      it = fuzzy.erase(it);
    }
    return Ok{};
  }

  // Uses the band index (band -> records), like the SQLite backend's cache: cost is the number
  // of records sharing a band, not the number of records in the scope.
  Result<std::vector<FuzzyRecord>> fuzzy_candidates(const Scope& scope,
                                                    std::span<const uint64_t> bands,
                                                    size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<FuzzyRecord> out;
    auto sit = scopes_.find(scope.key());
    if (sit == scopes_.end() || limit == 0)
      return out;
    const ScopeData& data = sit->second;
    // Shared band count per record: each wanted band once, each record indexed once per band.
    std::unordered_map<const FuzzyMap::value_type*, size_t> shared;
    for (uint64_t band : sorted_unique(bands)) {
      auto b = data.band_index.find(band);
      if (b == data.band_index.end())
        continue;
      for (FuzzyMap::const_iterator rec : b->second)
        ++shared[&*rec];
    }
    // Most shared bands first, then (digest, reporter) — the SQLite backend's order.
    std::vector<std::pair<size_t, const FuzzyMap::value_type*>> hits;
    hits.reserve(shared.size());
    for (const auto& [record, count] : shared)
      hits.emplace_back(count, record);
    std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second->first < b.second->first;
    });
    for (size_t i = 0; i < hits.size() && i < limit; ++i)
      out.push_back(hits[i].second->second);
    return out;
  }

 private:
  struct Learned {
    Class cls;
    std::vector<uint64_t> tokens;
  };
  // Keyed (digest, reporter); std::map so iteration order is deterministic and iterators stay
  // valid until their own element is erased (the band index holds them).
  using FuzzyMap = std::map<std::pair<std::string, std::string>, FuzzyRecord>;
  struct ScopeData {
    std::unordered_map<uint64_t, TokenCounts> tokens;
    ClassTotals totals;
    std::unordered_map<std::string, Learned> learned;
    FuzzyMap fuzzy;
    // band -> records holding it (each record once per distinct band).
    std::unordered_map<uint64_t, std::vector<FuzzyMap::iterator>> band_index;
  };

  static void unindex(ScopeData& data, FuzzyMap::iterator it) {
    for (uint64_t band : sorted_unique(it->second.bands)) {
      auto b = data.band_index.find(band);
      if (b == data.band_index.end())
        continue;
      auto& recs = b->second;
      recs.erase(std::remove(recs.begin(), recs.end(), it), recs.end());
      if (recs.empty())
        data.band_index.erase(b);
    }
  }

  static void remove_contribution(ScopeData& data, Class cls, const std::vector<uint64_t>& tokens) {
    for (uint64_t t : tokens) {
      auto it = data.tokens.find(t);
      if (it == data.tokens.end())
        continue;
      TokenCounts& c = it->second;
      if (cls == Class::kHam) {
        c.ham = sub_saturating(c.ham, 1);
      } else {
        c.spam = sub_saturating(c.spam, 1);
      }
      if (c.ham == 0 && c.spam == 0)
        data.tokens.erase(it);
    }
    uint64_t& total = cls == Class::kHam ? data.totals.ham_messages : data.totals.spam_messages;
    if (total > 0)
      --total;
  }

  std::mutex mu_;
  std::unordered_map<std::string, ScopeData> scopes_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store() {
  return std::make_unique<MemoryStore>();
}

}  // namespace mailsift::store
