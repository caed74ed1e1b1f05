// mailsift::learn classifier — count-based statistical spam classifier over feature hashes.
//
// Owns: turning per-token ham/spam counts (summed over a scope chain, DSPAM "merged groups"
// style) into a calibrated spam probability, and learn / unlearn requests on one scope.
//
// Math (details and the reasons in src/learn/README.md):
//   per token:  p(w) = b/(b+g), b = spam(w)/S, g = ham(w)/H          (Graham/Robinson)
//               f(w) = (s*x + n*p(w)) / (s + n), n = ham(w)+spam(w)    (Robinson smoothing)
//   tokens with |f-0.5| < min_dev are ignored; the max_tokens most extreme are used;
//   raw score (kFisherIndicator, default): the SpamBayes/bogofilter indicator
//   I = Q_h - Q_s, Q_h = chi2Q(-2 Σ ln f, 2N), Q_s = chi2Q(-2 Σ ln(1-f), 2N), through the monotone
//   map -ln(1-I) / ln(1+I) computed in log space, so it never saturates; strong evidence both
//   ways gives ≈0 ("unsure"). kFisher (old default): ln Q_h - ln Q_s;
//   probability = 1 / (1 + exp(-(platt_a * raw + platt_b)))   (Platt scaling fitted by 5-fold
//   cross-validation on the train split of the SpamAssassin corpus; see bench/learn_cv.cc).
//
// Scopes: classify() sums counts and totals over every scope in the chain; learn()/unlearn()
// touch exactly one scope, so training a user changes only that user's scope.
//
// Failure semantics: store errors are returned unchanged (kTemporary → caller tempfails). Too
// little training in the chain (fewer than min_ham_learned ham or min_spam_learned spam) gives
// Classification{trained=false, spam_probability=0.5}: "no opinion", never a fake probability.
// No exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace mailsift::learn {

enum class Combining {
  kFisher,           // Robinson-Fisher chi-square pair, log-ratio (default)
  kLogOdds,          // sum of ln(f/(1-f)) over the selected tokens (naive-Bayes-like)
  kFisherIndicator,  // bogofilter's (S - H) indicator, non-saturating monotone map (esf ignored)
};

// Every constant of the classifier. Defaults chosen by 5-fold CV on the train split only.
struct ClassifierParams {
  double robs = 0.3;       // Robinson s: weight of the prior x against the token's own evidence
                           // (CV grid 0.0178, 0.1, 0.2, 0.3, 0.5, 1.0)
  double robx = 0.5;       // Robinson x: assumed probability of a token never/rarely seen
  double min_dev = 0.375;  // tokens with |f - 0.5| < min_dev are skipped (grid 0.05..0.42;
                           // bogofilter's default too)
  size_t max_tokens = 0;   // use only the most extreme tokens (0 = all that pass min_dev);
                           // CV: all > 300 > 150 for the Fisher combination
  double min_prob = 1e-4;  // f is clamped to [min_prob, 1-min_prob] so one token cannot veto
  Combining combining = Combining::kFisherIndicator;
  double esf = 1.0;  // Fisher only: effective size factor in (0,1]; N tokens count as esf*N
                     // independent ones (bogofilter's ESF correction for token dependence)
  // Platt calibration fitted on the out-of-fold raw scores of 5-fold CV (learn_cv), train split,
  // with the defaults above. The intercept reflects that split's class mix (31% spam).
  double platt_a = 0.21517;       // slope on raw score (must be > 0: keeps it monotonic)
  double platt_b = 0.9415;        // intercept
  uint64_t min_ham_learned = 10;  // below this in the summed chain: trained = false
  uint64_t min_spam_learned = 10;
};

// One token's contribution, for explanations. The hash is all the store knows; callers that kept
// extract_named_features() can map it back to text and fill family_or_hint themselves.
struct TokenEvidence {
  uint64_t hash = 0;
  std::string family_or_hint;  // hex hash unless filled by the caller
  double prob = 0.5;           // f(w)
  uint32_t ham = 0, spam = 0;  // summed over the chain
};

struct Classification {
  bool trained = false;
  double spam_probability = 0.5;  // calibrated; 0.5 when !trained
  double raw_score = 0.0;         // uncalibrated combined score (>0 leans spam)
  size_t tokens_used = 0;
  uint64_t ham_learned = 0, spam_learned = 0;  // summed over the chain
};

// Pure calibration step, exposed for tests and tools.
double calibrate(const ClassifierParams& params, double raw_score);

class Classifier {
 public:
  explicit Classifier(store::Store& store, ClassifierParams params = {});

  const ClassifierParams& params() const { return params_; }

  // chain: e.g. {global, reseller R, domain D, user U}. features: sorted unique (from
  // extract_features). evidence, if given, receives the tokens used, most extreme first.
  Result<Classification> classify(std::span<const store::Scope> chain,
                                  const std::vector<uint64_t>& features,
                                  std::vector<TokenEvidence>* evidence = nullptr);

  // Classification from counts already summed over a chain (no store access). Used by
  // classify() and by tools that aggregate counts themselves.
  Classification combine(const std::vector<store::TokenCounts>& counts, uint64_t ham_learned,
                         uint64_t spam_learned, const std::vector<uint64_t>* features = nullptr,
                         std::vector<TokenEvidence>* evidence = nullptr) const;

  // Counts `features` (sorted unique; sorted here if not) as cls in `scope` only.
  Result<store::LearnOutcome> learn(const store::Scope& scope, const std::string& digest,
                                    store::Class cls, const std::vector<uint64_t>& features);
  // Exactly reverses a previous learn of digest as cls in scope (the store kept the tokens).
  Result<store::LearnOutcome> unlearn(const store::Scope& scope, const std::string& digest,
                                      store::Class cls);

 private:
  store::Store& store_;
  ClassifierParams params_;
};

}  // namespace mailsift::learn
