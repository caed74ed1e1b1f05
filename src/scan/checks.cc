#include "scan/checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "fuzzy/fingerprint.h"
#include "learn/classifier.h"

namespace mailsift::scan {
namespace {

class BayesCheck final : public Check {
 public:
  BayesCheck(const Config& config, store::Store& store)
      : classifier_(store),
        per_decade_(config.get_double("bayes.score_per_decade")),
        max_score_(config.get_double("bayes.max_score")),
        min_learned_(static_cast<uint64_t>(config.get_int("bayes.min_learned"))) {}

  std::string_view name() const override { return "bayes"; }
  Phase phase() const override { return Phase::kFilter; }
  CheckScope scope() const override { return CheckScope::kRecipient; }
  std::vector<SymbolInfo> symbols() const override {
    return {{"BAYES_SPAM", "Statistical classifier says spam (learned from reports)"},
            {"BAYES_HAM", "Statistical classifier says ham (learned from reports)"},
            {"BAYES_UNTRAINED", "Classifier has too little training for this recipient to vote"}};
  }

  Status run(ScanTask& task, std::vector<Symbol>& out) override {
    auto result = classifier_.classify(task.chain, task.features);
    if (!result) return result.error();
    const learn::Classification& c = *result;
    if (!c.trained || c.ham_learned < min_learned_ || c.spam_learned < min_learned_) {
      out.push_back({"BAYES_UNTRAINED", 0, std::string(symbols()[2].description),
                     fmt::format("learned {} ham, {} spam; need {} of each", c.ham_learned,
                                 c.spam_learned, min_learned_)});
      return Ok{};
    }
    task.spam_probability = c.spam_probability;
    // Log-odds keep the ordering of very confident verdicts (0.999 vs 0.99999) in the score.
    // They are taken from the calibrated raw score, not from the probability: a probability
    // rounds to 1.0 near 1e-16 odds, which would tie every confident spam at the cap.
    const learn::ClassifierParams& cp = classifier_.params();
    const double log10_odds = (cp.platt_a * c.raw_score + cp.platt_b) / std::log(10.0);
    const double score = std::clamp(per_decade_ * log10_odds, -max_score_, max_score_);
    const bool spam = score >= 0;
    out.push_back({spam ? "BAYES_SPAM" : "BAYES_HAM", score,
                   std::string(symbols()[spam ? 0 : 1].description),
                   fmt::format("probability {:.6f} from {} tokens", c.spam_probability,
                               c.tokens_used)});
    return Ok{};
  }

 private:
  learn::Classifier classifier_;
  double per_decade_;
  double max_score_;
  uint64_t min_learned_;
};

class FuzzyCheck final : public Check {
 public:
  FuzzyCheck(const Config& config, store::Store& store)
      : memory_(store, params(config)),
        spam_score_(config.get_double("fuzzy.spam_score")),
        ham_score_(config.get_double("fuzzy.ham_score")) {}

  static fuzzy::Params params(const Config& config) {
    fuzzy::Params p;
    p.match_threshold = config.get_double("fuzzy.threshold");
    return p;
  }

  std::string_view name() const override { return "fuzzy"; }
  Phase phase() const override { return Phase::kFilter; }
  CheckScope scope() const override { return CheckScope::kRecipient; }
  std::vector<SymbolInfo> symbols() const override {
    return {{"FUZZY_SPAM", "Near-duplicate of a message reported or learned as spam"},
            {"FUZZY_HAM", "Near-duplicate of a message reported or learned as not spam"}};
  }

  Status run(ScanTask& task, std::vector<Symbol>& out) override {
    if (!task.fingerprint.usable()) return Ok{};
    auto match = memory_.best_match(task.chain, task.fingerprint);
    if (!match) return match.error();
    if (!match->has_value()) return Ok{};
    const fuzzy::Match& m = **match;
    const bool spam = m.cls == store::Class::kSpam;
    out.push_back({spam ? "FUZZY_SPAM" : "FUZZY_HAM",
                   (spam ? spam_score_ : ham_score_) * m.similarity,
                   std::string(symbols()[spam ? 0 : 1].description),
                   fmt::format("similarity {:.2f} to {} in scope {}", m.similarity,
                               m.message_digest.substr(0, 12), m.scope.key())});
    return Ok{};
  }

 private:
  fuzzy::FuzzyMemory memory_;
  double spam_score_;
  double ham_score_;
};

class RulesCheck final : public Check {
 public:
  explicit RulesCheck(std::shared_ptr<const rules::RuleSet> rules)
      : rules_(rules), matcher_(std::move(rules)) {}

  std::string_view name() const override { return "rules"; }
  Phase phase() const override { return Phase::kFilter; }
  std::vector<SymbolInfo> symbols() const override {
    std::vector<SymbolInfo> out;
    for (const auto& r : rules_->rules()) out.push_back({r.name, r.description});
    return out;
  }

  Status run(ScanTask& task, std::vector<Symbol>& out) override {
    auto hits = matcher_.match(task.message);
    if (!hits) return hits.error();
    for (auto& h : *hits) out.push_back({h.name, h.score, h.description, ""});
    return Ok{};
  }

 private:
  std::shared_ptr<const rules::RuleSet> rules_;
  rules::Matcher matcher_;
};

}  // namespace

std::unique_ptr<Check> make_bayes_check(const Config& config, store::Store& store) {
  return std::make_unique<BayesCheck>(config, store);
}
std::unique_ptr<Check> make_fuzzy_check(const Config& config, store::Store& store) {
  return std::make_unique<FuzzyCheck>(config, store);
}
std::unique_ptr<Check> make_rules_check(std::shared_ptr<const rules::RuleSet> rules) {
  return std::make_unique<RulesCheck>(std::move(rules));
}

}  // namespace mailsift::scan
