#include "learn/classifier.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mailsift::learn {
namespace {

// ln of the chi-square survival function Q(x2 | 2n) for even degrees of freedom:
//   Q = e^-m * Σ_{i<n} m^i / i!,  m = x2/2.
// Summed in log space from the largest term outwards (terms are unimodal in i), stopping once
// terms are e^-40 below the peak, so it costs O(sqrt(m)) and never underflows to -inf the way
// the plain product form used by SpamBayes/bogofilter saturates at 0 or 1.
double log_chi2q(double x2, size_t n) {
  if (n == 0 || x2 <= 0.0)
    return 0.0;
  const double m = x2 / 2.0;
  const double ln_m = std::log(m);
  size_t peak = static_cast<size_t>(m);
  if (peak > n - 1)
    peak = n - 1;
  const double ln_peak =
      static_cast<double>(peak) * ln_m - std::lgamma(static_cast<double>(peak) + 1);
  double sum = 1.0;  // peak term relative to itself
  double lt = ln_peak;
  for (size_t i = peak; i > 0; --i) {  // term i-1 = term i * i / m
    lt += std::log(static_cast<double>(i)) - ln_m;
    if (lt - ln_peak < -40.0)
      break;
    sum += std::exp(lt - ln_peak);
  }
  lt = ln_peak;
  for (size_t i = peak + 1; i < n; ++i) {  // term i = term i-1 * m / i
    lt += ln_m - std::log(static_cast<double>(i));
    if (lt - ln_peak < -40.0)
      break;
    sum += std::exp(lt - ln_peak);
  }
  double r = -m + ln_peak + std::log(sum);
  return std::min(r, 0.0);
}

// ln of Σ_{i=lo}^{hi} e^-m m^i / i! (Poisson(m) probability mass on [lo, hi]; hi may be
// SIZE_MAX). Terms are unimodal in i, so the sum starts at the largest term in the range and walks
// outwards until terms fall e^-40 below it: O(sqrt(m)) and no underflow.
double log_poisson_range(double m, size_t lo, size_t hi) {
  const double ln_m = std::log(m);
  size_t peak = static_cast<size_t>(m);
  peak = std::clamp(peak, lo, hi);
  const double ln_peak =
      -m + static_cast<double>(peak) * ln_m - std::lgamma(static_cast<double>(peak) + 1);
  double sum = 1.0;
  double lt = ln_peak;
  for (size_t i = peak; i > lo; --i) {  // term i-1 = term i * i / m
    lt += std::log(static_cast<double>(i)) - ln_m;
    if (lt - ln_peak < -40.0)
      break;
    sum += std::exp(lt - ln_peak);
  }
  lt = ln_peak;
  for (size_t i = peak + 1; i <= hi && i != 0; ++i) {  // term i = term i-1 * m / i
    lt += ln_m - std::log(static_cast<double>(i));
    if (lt - ln_peak < -40.0)
      break;
    sum += std::exp(lt - ln_peak);
  }
  return std::min(ln_peak + std::log(sum), 0.0);
}

// ln(e^a + e^b) without overflow.
double log_add(double a, double b) {
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log1p(std::exp(lo - hi));
}

// The classic Fisher indicator I = (S - H) of SpamBayes / bogofilter, with S = 1 - Q_s and
// H = 1 - Q_h, i.e. I = Q_h - Q_s, mapped through the monotone g(I) = -ln(1 - I) for I >= 0 and
// ln(1 + I) below. 1 - I = P_h + Q_s (P = 1 - Q, the chi-square CDF) is computed in log space,
// so g never saturates although I itself rounds to exactly ±1 for long messages. Unlike the
// log-ratio ln Q_h - ln Q_s, a message with strong evidence both ways (both Q tiny) lands near
// 0, "unsure", as in bogofilter.
double fisher_indicator_score(double sum_ln_f, double sum_ln_1mf, size_t n) {
  const double m_h = -sum_ln_f, m_s = -sum_ln_1mf;  // chi2 statistic / 2
  auto ln_q = [n](double m) { return m <= 0 ? 0.0 : log_poisson_range(m, 0, n - 1); };
  auto ln_p = [n](double m) {
    return m <= 0 ? -INFINITY : log_poisson_range(m, n, static_cast<size_t>(-1));
  };
  const double lq_h = ln_q(m_h), lq_s = ln_q(m_s);
  if (lq_h >= lq_s)  // I >= 0: spam side
    return -log_add(ln_p(m_h), lq_s);
  return log_add(ln_p(m_s), lq_h);
}

// ln Q(a, x) for real a > 0: the regularized upper incomplete gamma function, which is the
// chi-square survival function with 2a degrees of freedom at 2x. Used when the effective size
// factor makes the degrees of freedom non-integer. Series for P below a+1 (Q is not small there,
// so 1-P keeps its precision), Lentz continued fraction above (Q may be tiny: kept in log
// space). Both converge in O(sqrt(a)) steps at worst; capped at 10000.
double log_gamma_q(double a, double x) {
  if (x <= 0.0)
    return 0.0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1.0) {
    double ap = a, term = 1.0 / a, sum = term;
    for (int i = 0; i < 10000; ++i) {
      ap += 1.0;
      term *= x / ap;
      sum += term;
      if (term < sum * 1e-15)
        break;
    }
    const double p = std::exp(log_prefix + std::log(sum));
    return std::log1p(-std::min(p, 1.0 - 1e-300));
  }
  const double tiny = 1e-300;
  double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -static_cast<double>(i) * (static_cast<double>(i) - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny)
      d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny)
      c = tiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-15)
      break;
  }
  return std::min(log_prefix + std::log(h), 0.0);
}

struct Scored {
  double f;
  size_t index;
};

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

double calibrate(const ClassifierParams& params, double raw_score) {
  double z = params.platt_a * raw_score + params.platt_b;
  if (z > 700)
    z = 700;
  if (z < -700)
    z = -700;
  return 1.0 / (1.0 + std::exp(-z));
}

Classifier::Classifier(store::Store& store, ClassifierParams params)
    : store_(store), params_(params) {}

Classification Classifier::combine(const std::vector<store::TokenCounts>& counts,
                                   uint64_t ham_learned, uint64_t spam_learned,
                                   const std::vector<uint64_t>* features,
                                   std::vector<TokenEvidence>* evidence) const {
  const ClassifierParams& p = params_;
  Classification out;
  out.ham_learned = ham_learned;
  out.spam_learned = spam_learned;
  if (ham_learned < p.min_ham_learned || spam_learned < p.min_spam_learned || ham_learned == 0 ||
      spam_learned == 0) {
    return out;  // trained = false, probability 0.5
  }
  out.trained = true;
  const double inv_h = 1.0 / static_cast<double>(ham_learned);
  const double inv_s = 1.0 / static_cast<double>(spam_learned);
  const double prior_weight = p.robs * p.robx;

  std::vector<Scored> scored;
  scored.reserve(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    const double h = counts[i].ham, s = counts[i].spam;
    const double n = h + s;
    double f;
    if (n == 0) {
      f = p.robx;
    } else {
      // Rates, not raw counts, so unequal class sizes do not bias the token.
      const double b = std::min(1.0, s * inv_s), g = std::min(1.0, h * inv_h);
      const double pw = b / (b + g);
      f = (prior_weight + n * pw) / (p.robs + n);
    }
    if (std::fabs(f - 0.5) < p.min_dev)
      continue;
    f = std::clamp(f, p.min_prob, 1.0 - p.min_prob);
    scored.push_back({f, i});
  }
  auto more_extreme = [](const Scored& a, const Scored& b) {
    double da = std::fabs(a.f - 0.5), db = std::fabs(b.f - 0.5);
    return da != db ? da > db : a.index < b.index;  // index tie-break keeps it deterministic
  };
  if (p.max_tokens > 0 && scored.size() > p.max_tokens) {
    std::nth_element(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(p.max_tokens),
                     scored.end(), more_extreme);
    scored.resize(p.max_tokens);
  }
  out.tokens_used = scored.size();

  double raw = 0.0;
  if (!scored.empty()) {
    if (p.combining == Combining::kFisher || p.combining == Combining::kFisherIndicator) {
      double sum_ln_f = 0.0, sum_ln_1mf = 0.0;
      for (const Scored& t : scored) {
        sum_ln_f += std::log(t.f);
        sum_ln_1mf += std::log1p(-t.f);
      }
      // Small Q for the "ham side" test means the tokens are too spammy to be chance.
      if (p.combining == Combining::kFisherIndicator) {
        raw = fisher_indicator_score(sum_ln_f, sum_ln_1mf, scored.size());
      } else if (p.esf == 1.0) {
        raw =
            log_chi2q(-2.0 * sum_ln_f, scored.size()) - log_chi2q(-2.0 * sum_ln_1mf, scored.size());
      } else {
        // Effective size factor (bogofilter): the tokens of a message are not independent, so
        // both the evidence and the degrees of freedom count esf * N tokens, not N.
        const double k = p.esf * static_cast<double>(scored.size());
        raw = log_gamma_q(k, -p.esf * sum_ln_f) - log_gamma_q(k, -p.esf * sum_ln_1mf);
      }
    } else {
      for (const Scored& t : scored)
        raw += std::log(t.f) - std::log1p(-t.f);
    }
  }
  out.raw_score = raw;
  out.spam_probability = calibrate(p, raw);

  if (evidence) {
    std::sort(scored.begin(), scored.end(), more_extreme);
    evidence->clear();
    evidence->reserve(scored.size());
    for (const Scored& t : scored) {
      TokenEvidence e;
      e.hash = features && t.index < features->size() ? (*features)[t.index] : 0;
      e.family_or_hint = hex64(e.hash);
      e.prob = t.f;
      e.ham = counts[t.index].ham;
      e.spam = counts[t.index].spam;
      evidence->push_back(std::move(e));
    }
  }
  return out;
}

Result<Classification> Classifier::classify(std::span<const store::Scope> chain,
                                            const std::vector<uint64_t>& features,
                                            std::vector<TokenEvidence>* evidence) {
  uint64_t ham = 0, spam = 0;
  std::vector<bool> has_data(chain.size(), false);
  for (size_t i = 0; i < chain.size(); ++i) {
    auto totals = store_.totals(chain[i]);
    if (!totals)
      return totals.error();
    ham += totals->ham_messages;
    spam += totals->spam_messages;
    has_data[i] = totals->ham_messages + totals->spam_messages > 0;
  }
  if (ham < params_.min_ham_learned || spam < params_.min_spam_learned) {
    Classification untrained;
    untrained.ham_learned = ham;
    untrained.spam_learned = spam;
    return untrained;
  }
  std::vector<store::TokenCounts> sum(features.size());
  bool first = true;
  for (size_t i = 0; i < chain.size(); ++i) {
    if (!has_data[i])
      continue;  // an untrained scope cannot hold counts: skip the lookup
    auto counts = store_.token_counts(chain[i], features);
    if (!counts)
      return counts.error();
    if (counts->size() != features.size())
      return Error::temporary("store returned a token count vector of the wrong size");
    if (first) {
      sum = std::move(counts.value());
      first = false;
      continue;
    }
    for (size_t k = 0; k < sum.size(); ++k) {
      // Saturating add: a sum over scopes must not wrap.
      uint64_t h = uint64_t{sum[k].ham} + (*counts)[k].ham;
      uint64_t s = uint64_t{sum[k].spam} + (*counts)[k].spam;
      sum[k].ham = static_cast<uint32_t>(std::min<uint64_t>(h, UINT32_MAX));
      sum[k].spam = static_cast<uint32_t>(std::min<uint64_t>(s, UINT32_MAX));
    }
  }
  return combine(sum, ham, spam, &features, evidence);
}

Result<store::LearnOutcome> Classifier::learn(const store::Scope& scope, const std::string& digest,
                                              store::Class cls,
                                              const std::vector<uint64_t>& features) {
  store::LearnRequest req;
  req.scope = scope;
  req.message_digest = digest;
  req.cls = cls;
  req.tokens = features;
  if (!std::is_sorted(req.tokens.begin(), req.tokens.end()) ||
      std::adjacent_find(req.tokens.begin(), req.tokens.end()) != req.tokens.end()) {
    std::sort(req.tokens.begin(), req.tokens.end());
    req.tokens.erase(std::unique(req.tokens.begin(), req.tokens.end()), req.tokens.end());
  }
  return store_.learn(req);
}

Result<store::LearnOutcome> Classifier::unlearn(const store::Scope& scope,
                                                const std::string& digest, store::Class cls) {
  return store_.unlearn(scope, digest, cls);
}

}  // namespace mailsift::learn
