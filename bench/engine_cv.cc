// engine_cv — k-fold cross-validation of the WHOLE scan engine (classifier + rules + fuzzy) on
// the TRAIN split of the SpamAssassin public corpus. It never reads the test split (split rule:
// first byte of SHA-1("<group>.<id>.<md5>.eml") even → train).
//
// For each fold it builds a fresh memory store and one scan::Engine, learns every message of the
// other folds with Engine::learn (which, like `mailsift learn`, also remembers a fuzzy
// fingerprint), then scans the held-out fold with Engine::scan. Reported, over all out-of-fold
// scores: ROC AUC, spam recall at ham FPR <= 0.1% and <= 1%, and recall / FPR at the configured
// add-header threshold — for the engine total and for each component alone (bayes symbol,
// classifier raw score, rules sum, fuzzy sum). Per-fold AUC and recall@1% show the spread.
//
// Usage: engine_cv [DATA_DIR] [--folds 5] [--set name=value]... [--rules-weight 0.5,1,2]
//                  [--errors N] [--dump FILE.tsv]
// --set overrides engine config (Config::set), e.g. --set bayes.max_score=40.
// --rules-weight re-combines the recorded component scores offline as
//   bayes + w * rules + fuzzy (exact: the engine total is that sum with w = 1), to fit one global
//   rules weight without re-running the scans.
// --errors N lists the N worst-ranked ham and spam (relative to the 1% FPR threshold).
// --dump writes one TSV row per message (name, class, fold, total, components, symbols hit).
#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "learn/classifier.h"
#include "learn/tokenizer.h"
#include "mime/message.h"
#include "scan/engine.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace mailsift;

namespace {

// Thread CPU time in µs: the machine is shared, so wall time would measure other people's jobs.
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Sample {
  std::string name;
  bool spam = false;
  int fold = 0;
  std::string raw;
  // Out-of-fold results.
  bool scanned = false;
  double total = 0, bayes = 0, rules = 0, fuzzy = 0, raw_score = 0;
  std::vector<double> grid_raw;  // classifier raw score per --robs/... grid point
  std::string symbols;           // "NAME=score,..." for --dump / --errors
};

std::vector<double> parse_list(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    out.push_back(std::atof(item.c_str()));
  return out;
}

double auc(const std::vector<double>& ham, const std::vector<double>& spam) {
  // Mann-Whitney U with ties counted half.
  std::vector<std::pair<double, int>> all;
  for (double h : ham)
    all.push_back({h, 0});
  for (double s : spam)
    all.push_back({s, 1});
  std::sort(all.begin(), all.end());
  double rank_sum = 0;
  size_t i = 0;
  while (i < all.size()) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first)
      ++j;
    double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k)
      if (all[k].second)
        rank_sum += avg_rank;
    i = j;
  }
  double ns = static_cast<double>(spam.size()), nh = static_cast<double>(ham.size());
  return (rank_sum - ns * (ns + 1) / 2) / (ns * nh);
}

// Spam recall at the strictest threshold that lets at most floor(fpr * #ham) ham through (spam
// must score strictly above the highest ham still counted as a false positive's neighbour).
double recall_at_fpr(std::vector<double> ham, const std::vector<double>& spam, double fpr,
                     double* threshold_out = nullptr) {
  std::sort(ham.begin(), ham.end(), std::greater<>());
  size_t allowed = static_cast<size_t>(std::floor(fpr * static_cast<double>(ham.size())));
  double threshold = allowed < ham.size() ? ham[allowed] : -INFINITY;
  size_t caught = 0;
  for (double s : spam)
    if (s > threshold)
      ++caught;
  if (threshold_out)
    *threshold_out = threshold;
  return static_cast<double>(caught) / static_cast<double>(spam.size());
}

struct Metrics {
  double auc = 0, r01 = 0, r1 = 0, recall_at_thr = 0, fpr_at_thr = 0;
  size_t ham_fp = 0, spam_fn = 0;
};

Metrics metrics(const std::vector<double>& ham, const std::vector<double>& spam, double threshold) {
  Metrics m;
  m.auc = auc(ham, spam);
  m.r01 = recall_at_fpr(ham, spam, 0.001);
  m.r1 = recall_at_fpr(ham, spam, 0.01);
  for (double h : ham)
    if (h >= threshold)
      ++m.ham_fp;
  for (double s : spam)
    if (s < threshold)
      ++m.spam_fn;
  m.fpr_at_thr = static_cast<double>(m.ham_fp) / static_cast<double>(ham.size());
  m.recall_at_thr = 1.0 - static_cast<double>(m.spam_fn) / static_cast<double>(spam.size());
  return m;
}

void print_row(const char* label, const Metrics& m, bool with_threshold) {
  std::printf("%-26s AUC %.6f  R@0.1%% %6.2f%%  R@1%% %6.2f%%", label, m.auc, 100 * m.r01,
              100 * m.r1);
  if (with_threshold)
    std::printf("  | at threshold: recall %6.2f%% FPR %.3f%% (%zu FP, %zu FN)",
                100 * m.recall_at_thr, 100 * m.fpr_at_thr, m.ham_fp, m.spam_fn);
  std::printf("\n");
}

template <typename Get>
void split_scores(const std::vector<Sample>& samples, int fold, Get get, std::vector<double>* ham,
                  std::vector<double>* spam) {
  for (const Sample& s : samples) {
    if (!s.scanned || (fold >= 0 && s.fold != fold))
      continue;
    (s.spam ? spam : ham)->push_back(get(s));
  }
}

// Per-fold AUC and recall@1% (per fold only ~410 ham, so 1% allows 4 ham; 0.1% allows none and
// is not shown per fold).
template <typename Get>
void print_folds(const std::vector<Sample>& samples, int folds, Get get) {
  std::printf("    per fold AUC / R@1%%:");
  double lo_auc = 1, hi_auc = 0;
  for (int f = 0; f < folds; ++f) {
    std::vector<double> ham, spam;
    split_scores(samples, f, get, &ham, &spam);
    double a = auc(ham, spam), r = recall_at_fpr(ham, spam, 0.01);
    lo_auc = std::min(lo_auc, a);
    hi_auc = std::max(hi_auc, a);
    std::printf("  %.5f/%.1f%%", a, 100 * r);
  }
  std::printf("   (AUC range %.5f)\n", hi_auc - lo_auc);
}

// Platt scaling: fit p = 1/(1+exp(-(a*x+b))) by damped Newton on the log-loss with Platt's
// smoothed targets (avoids infinite slopes on separable data). x is standardised first so the
// Hessian is well conditioned, and each step is halved until the loss decreases.
void fit_platt(const std::vector<double>& x_in, const std::vector<int>& y, double* a, double* b) {
  double n_pos = 0, n_neg = 0, mean = 0, var = 0;
  for (int v : y)
    (v ? n_pos : n_neg) += 1;
  for (double v : x_in)
    mean += v;
  mean /= static_cast<double>(x_in.size());
  for (double v : x_in)
    var += (v - mean) * (v - mean);
  const double sd = std::max(std::sqrt(var / static_cast<double>(x_in.size())), 1e-12);
  std::vector<double> x;
  for (double v : x_in)
    x.push_back((v - mean) / sd);
  const double t_pos = (n_pos + 1) / (n_pos + 2), t_neg = 1 / (n_neg + 2);
  auto loss = [&](double A, double B) {
    double l = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double z = A * x[i] + B, t = y[i] ? t_pos : t_neg;
      // -[t log p + (1-t) log(1-p)] written stably
      l += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) - t * z;
    }
    return l;
  };
  double A = 1, B = std::log((n_pos + 1) / (n_neg + 1));
  double cur = loss(A, B);
  for (int iter = 0; iter < 100; ++iter) {
    double g_a = 0, g_b = 0, h_aa = 1e-9, h_ab = 0, h_bb = 1e-9;
    for (size_t i = 0; i < x.size(); ++i) {
      double z = A * x[i] + B;
      double p = 1 / (1 + std::exp(-std::clamp(z, -700.0, 700.0)));
      double t = y[i] ? t_pos : t_neg;
      double d = p - t, w = std::max(p * (1 - p), 1e-12);
      g_a += d * x[i];
      g_b += d;
      h_aa += w * x[i] * x[i];
      h_ab += w * x[i];
      h_bb += w;
    }
    double det = h_aa * h_bb - h_ab * h_ab;
    if (std::fabs(det) < 1e-18)
      break;
    double da = (h_bb * g_a - h_ab * g_b) / det, db = (h_aa * g_b - h_ab * g_a) / det;
    double step = 1;
    bool improved = false;
    for (int k = 0; k < 30; ++k, step /= 2) {
      double l = loss(A - step * da, B - step * db);
      if (l < cur) {
        A -= step * da;
        B -= step * db;
        improved = cur - l > 1e-12;
        cur = l;
        break;
      }
    }
    if (!improved)
      break;
  }
  // Undo the standardisation: A*(x-mean)/sd + B.
  *a = A / sd;
  *b = B - A * mean / sd;
}

bool train_split_name(const std::string& name, int folds, int* fold) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(name.data()), name.size(), md);
  if (md[0] % 2 != 0)
    return false;  // test split: never touched
  *fold = md[1] % folds;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = "/root/.cache/mailsift-corpus/package/data";
  int folds = 5;
  Config config;
  std::vector<double> rules_weights;
  const learn::ClassifierParams cdef;
  std::vector<double> robs{cdef.robs}, robx{cdef.robx}, min_dev{cdef.min_dev},
      max_tokens{static_cast<double>(cdef.max_tokens)}, esf{cdef.esf}, caps;
  bool grid_given = false;
  size_t show_errors = 0;
  std::string dump_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--folds") {
      folds = std::atoi(next().c_str());
    } else if (a == "--set") {
      std::string kv = next();
      size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "--set needs name=value\n");
        return 2;
      }
      Status st = config.set(kv.substr(0, eq), kv.substr(eq + 1));
      if (!st) {
        std::fprintf(stderr, "--set %s: %s\n", kv.c_str(), st.error().describe().c_str());
        return 2;
      }
    } else if (a == "--robs") {
      robs = parse_list(next()), grid_given = true;
    } else if (a == "--robx") {
      robx = parse_list(next()), grid_given = true;
    } else if (a == "--min-dev") {
      min_dev = parse_list(next()), grid_given = true;
    } else if (a == "--max-tokens") {
      max_tokens = parse_list(next()), grid_given = true;
    } else if (a == "--esf") {
      esf = parse_list(next()), grid_given = true;
    } else if (a == "--caps") {
      caps = parse_list(next());
    } else if (a == "--rules-weight") {
      rules_weights = parse_list(next());
    } else if (a == "--errors") {
      show_errors = std::strtoul(next().c_str(), nullptr, 10);
    } else if (a == "--dump") {
      dump_path = next();
    } else if (!a.empty() && a[0] != '-') {
      data_dir = a;
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (folds < 2) {
    std::fprintf(stderr, "--folds must be >= 2\n");
    return 2;
  }

  // ---- load the train split only
  const std::vector<std::pair<std::string, bool>> groups{{"easy-ham-1", false},
                                                         {"easy-ham-2", false},
                                                         {"hard-ham-1", false},
                                                         {"spam-1", true},
                                                         {"spam-2", true}};
  std::vector<Sample> samples;
  for (auto& [group, is_spam] : groups) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(fs::path(data_dir) / group, ec))
      if (e.path().extension() == ".txt")
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& path : files) {
      std::string name = group + "." + path.stem().string() + ".eml";
      Sample s;
      if (!train_split_name(name, folds, &s.fold))
        continue;
      std::ifstream in(path, std::ios::binary);
      std::stringstream buf;
      buf << in.rdbuf();
      s.name = name;
      s.spam = is_spam;
      s.raw = buf.str();
      // The corpus stores mbox-style files; an MTA never hands us the "From " line.
      if (s.raw.rfind("From ", 0) == 0) {
        size_t nl = s.raw.find('\n');
        s.raw.erase(0, nl == std::string::npos ? s.raw.size() : nl + 1);
      }
      samples.push_back(std::move(s));
    }
  }
  size_t n_ham = 0, n_spam = 0;
  for (auto& s : samples)
    (s.spam ? n_spam : n_ham)++;
  std::printf("train split: %zu messages (%zu ham, %zu spam), %d folds\n", samples.size(), n_ham,
              n_spam, folds);
  if (n_ham == 0 || n_spam == 0) {
    std::fprintf(stderr, "no data under %s\n", data_dir.c_str());
    return 1;
  }

  auto rules = scan::Engine::load_rules(config);
  if (!rules && config.get_bool("rules.enabled")) {
    std::fprintf(stderr, "rules: %s\n", rules.error().describe().c_str());
    return 1;
  }
  std::shared_ptr<const rules::RuleSet> shared_rules = rules ? rules.value() : nullptr;

  std::vector<learn::ClassifierParams> grid;
  if (grid_given) {
    for (double rs : robs)
      for (double rx : robx)
        for (double md : min_dev)
          for (double mt : max_tokens)
            for (double e : esf) {
              learn::ClassifierParams p;
              p.robs = rs;
              p.robx = rx;
              p.min_dev = md;
              p.max_tokens = static_cast<size_t>(mt);
              p.esf = e;
              grid.push_back(p);
            }
  }

  const scan::Recipient rcpt;  // global scope, as `mailsift learn` / `mailsift scan` default
  const std::vector<store::Scope> chain{store::Scope::global()};
  double learn_us = 0, scan_us = 0;
  size_t learned = 0, scanned = 0, scan_failures = 0;
  for (int f = 0; f < folds; ++f) {
    auto st = store::make_memory_store();
    auto engine = scan::Engine::create(config, *st, shared_rules);
    if (!engine) {
      std::fprintf(stderr, "engine: %s\n", engine.error().describe().c_str());
      return 1;
    }
    for (auto& s : samples) {
      if (s.fold == f)
        continue;
      double t0 = cpu_now();
      auto r = (*engine)->learn(s.raw, s.spam ? store::Class::kSpam : store::Class::kHam, rcpt);
      learn_us += cpu_now() - t0;
      ++learned;
      if (!r) {
        std::fprintf(stderr, "learn %s: %s\n", s.name.c_str(), r.error().describe().c_str());
        return 1;
      }
    }
    // The classifier alone, on the same learned counts: its raw score does not saturate, so it
    // shows the ranking the bayes symbol could give with an unbounded mapping.
    learn::Classifier classifier(*st);
    std::vector<learn::Classifier> grid_classifiers;
    for (const auto& p : grid)
      grid_classifiers.emplace_back(*st, p);
    for (auto& s : samples) {
      if (s.fold != f)
        continue;
      double t0 = cpu_now();
      auto v = (*engine)->scan(s.raw, rcpt);
      scan_us += cpu_now() - t0;
      ++scanned;
      if (!v) {
        ++scan_failures;
        continue;
      }
      s.scanned = true;
      s.total = v->score;
      for (const auto& sym : v->symbols) {
        if (sym.name.rfind("BAYES_", 0) == 0)
          s.bayes += sym.score;
        else if (sym.name.rfind("FUZZY_", 0) == 0)
          s.fuzzy += sym.score;
        else
          s.rules += sym.score;
        if (sym.score != 0) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "=%.2f", sym.score);
          s.symbols += (s.symbols.empty() ? "" : ",") + sym.name + buf;
        }
      }
      auto msg = mime::parse(s.raw);
      if (msg) {
        const std::vector<uint64_t> features = learn::extract_features(*msg);
        auto c = classifier.classify(chain, features);
        if (c)
          s.raw_score = c->raw_score;
        for (auto& gc : grid_classifiers) {
          auto r = gc.classify(chain, features);
          s.grid_raw.push_back(r ? r->raw_score : 0.0);
        }
      }
    }
  }
  std::printf(
      "CPU µs/msg: Engine::learn %.1f, Engine::scan %.1f (%.0f msgs per CPU-second); "
      "scan failures %zu\n",
      learn_us / static_cast<double>(learned), scan_us / static_cast<double>(scanned),
      1e6 * static_cast<double>(scanned) / scan_us, scan_failures);

  const double threshold = config.get_double("actions.add_header");
  struct Component {
    const char* label;
    double (*get)(const Sample&);
    bool with_threshold;
  };
  const Component components[] = {
      {"engine total", [](const Sample& s) { return s.total; }, true},
      {"bayes symbol only", [](const Sample& s) { return s.bayes; }, true},
      {"classifier raw only", [](const Sample& s) { return s.raw_score; }, false},
      {"rules only", [](const Sample& s) { return s.rules; }, true},
      {"fuzzy only", [](const Sample& s) { return s.fuzzy; }, false},
      {"bayes+fuzzy (no rules)", [](const Sample& s) { return s.bayes + s.fuzzy; }, true},
      {"bayes+rules (no fuzzy)", [](const Sample& s) { return s.bayes + s.rules; }, true},
  };
  std::printf("add-header threshold %.2f\n", threshold);
  for (size_t k = 0; k < std::size(components); ++k) {
    const Component& c = components[k];
    std::vector<double> ham, spam;
    split_scores(samples, -1, c.get, &ham, &spam);
    print_row(c.label, metrics(ham, spam, threshold), c.with_threshold);
    if (k == 0 || k == 2)  // engine total, classifier raw
      print_folds(samples, folds, c.get);
  }

  // Fuzzy diagnostics: how often each fuzzy symbol fired, and on which class.
  size_t fs_ham = 0, fs_spam = 0, fh_ham = 0, fh_spam = 0;
  for (const Sample& s : samples) {
    if (s.fuzzy > 0)
      (s.spam ? fs_spam : fs_ham)++;
    if (s.fuzzy < 0)
      (s.spam ? fh_spam : fh_ham)++;
  }
  std::printf("fuzzy: FUZZY_SPAM on %zu spam / %zu ham; FUZZY_HAM on %zu ham / %zu spam\n", fs_spam,
              fs_ham, fh_ham, fh_spam);

  for (double w : rules_weights) {
    std::vector<double> ham, spam;
    for (const Sample& s : samples)
      if (s.scanned)
        (s.spam ? spam : ham).push_back(s.bayes + w * s.rules + s.fuzzy);
    char label[64];
    std::snprintf(label, sizeof label, "bayes+%.2f*rules+fuzzy", w);
    print_row(label, metrics(ham, spam, threshold), true);
  }

  // Classifier grid: each point's raw score alone, and re-combined like the engine does with a
  // Platt calibration fitted on its out-of-fold raw scores: bayes = clamp(per_decade * log10
  // odds, ±cap) + w * rules + fuzzy (w = 1 unless --rules-weight; caps = bayes.max_score unless
  // --caps).
  if (!grid.empty()) {
    const double per_decade = config.get_double("bayes.score_per_decade");
    if (caps.empty())
      caps.push_back(config.get_double("bayes.max_score"));
    if (rules_weights.empty())
      rules_weights.push_back(1.0);
    for (size_t g = 0; g < grid.size(); ++g) {
      const auto& p = grid[g];
      std::vector<double> x, ham, spam;
      std::vector<int> y;
      for (const Sample& s : samples)
        if (s.scanned) {
          x.push_back(s.grid_raw[g]);
          y.push_back(s.spam);
          (s.spam ? spam : ham).push_back(s.grid_raw[g]);
        }
      double pa, pb;
      fit_platt(x, y, &pa, &pb);
      char label[128];
      std::snprintf(label, sizeof label, "robs %.4g robx %.3g min_dev %.3g max_tk %zu esf %.3g",
                    p.robs, p.robx, p.min_dev, p.max_tokens, p.esf);
      std::printf("%s  platt a %.5f b %.4f\n", label, pa, pb);
      print_row("  classifier raw", metrics(ham, spam, 0), false);
      auto get_raw = [g](const Sample& s) { return s.grid_raw[g]; };
      print_folds(samples, folds, get_raw);
      for (double cap : caps)
        for (double w : rules_weights) {
          auto get_total = [&](const Sample& s) {
            double b =
                std::clamp(per_decade * (pa * s.grid_raw[g] + pb) / std::log(10.0), -cap, cap);
            return b + w * s.rules + s.fuzzy;
          };
          std::vector<double> th, ts;
          split_scores(samples, -1, get_total, &th, &ts);
          std::snprintf(label, sizeof label, "  total cap %g w %.2f", cap, w);
          print_row(label, metrics(th, ts, threshold), true);
        }
    }
  }

  if (show_errors > 0) {
    std::vector<double> ham, spam;
    split_scores(samples, -1, components[0].get, &ham, &spam);
    double thr;
    recall_at_fpr(ham, spam, 0.01, &thr);
    std::vector<std::pair<double, const Sample*>> worst;
    for (const Sample& s : samples)
      if (s.scanned)
        worst.push_back({s.spam ? s.total - thr : thr - s.total, &s});
    std::sort(worst.begin(), worst.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::printf("worst ranked (engine total; threshold@1%%FPR %.2f):\n", thr);
    for (size_t k = 0; k < show_errors && k < worst.size(); ++k) {
      const Sample& s = *worst[k].second;
      std::printf("  %s %-48s total %7.2f bayes %7.2f rules %6.2f fuzzy %5.2f raw %8.2f\n",
                  s.spam ? "SPAM" : "HAM ", s.name.c_str(), s.total, s.bayes, s.rules, s.fuzzy,
                  s.raw_score);
    }
  }

  if (!dump_path.empty()) {
    std::ofstream out(dump_path);
    out << "name\tspam\tfold\ttotal\tbayes\trules\tfuzzy\traw\tsymbols\n";
    for (const Sample& s : samples)
      if (s.scanned)
        out << s.name << '\t' << s.spam << '\t' << s.fold << '\t' << s.total << '\t' << s.bayes
            << '\t' << s.rules << '\t' << s.fuzzy << '\t' << s.raw_score << '\t' << s.symbols
            << '\n';
  }
  return 0;
}
