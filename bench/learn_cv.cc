// learn_cv — k-fold cross-validation of the statistical classifier on the TRAIN split of the
// SpamAssassin public corpus. This is the only tool used to choose ClassifierParams /
// FeatureOptions defaults; it never reads the test split (split rule: first byte of
// SHA-1("<group>.<id>.<md5>.eml") even → train).
//
// Usage: learn_cv [DATA_DIR] [--folds 5] [--robs 0.1,0.3] [--robx 0.5] [--min-dev 0.1,0.2]
//                 [--max-tokens 0,150] [--combining indicator,fisher,logodds] [--esf 1,0.5]
//                 [--window 5] [--max-words 600] [--max-received N] [--no-received]
//                 [--no-header-names] [--html-tags] [--attr-values] [--comments] [--no-tags]
//                 [--no-caps] [--transit] [--no-stats] [--no-facts] [--errors N]
// (--attr-values / --comments only act with --html-tags.)
// Every combination of the comma lists is evaluated on the same folds. For each it prints ROC
// AUC, spam recall at ham FPR <= 0.1% and <= 1%, a Platt calibration fitted on the out-of-fold
// raw scores (the shipped platt_a/platt_b come from here) and the log-loss of that calibration.
// It also prints µs per message for feature extraction and for classification, and per fold
// AUC / recall@1% so that a change can be checked for consistency across folds.
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
#include <unordered_map>
#include <vector>

#include "learn/classifier.h"
#include "learn/tokenizer.h"
#include "mime/message.h"
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
  std::string digest;
  std::vector<uint64_t> features;
  std::string raw;  // kept for --errors explanations
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

// Spam recall at the strictest threshold that lets at most floor(fpr * #ham) ham through.
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

std::string sha1_hex_first_byte_parity(const std::string& name, bool* even) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(name.data()), name.size(), md);
  *even = (md[0] % 2) == 0;
  return std::string(reinterpret_cast<char*>(md), SHA_DIGEST_LENGTH);
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = "/root/.cache/mailsift-corpus/package/data";
  int folds = 5;
  const learn::ClassifierParams defaults;
  std::vector<double> robs{defaults.robs}, robx{defaults.robx}, min_dev{defaults.min_dev},
      max_tokens{static_cast<double>(defaults.max_tokens)}, esf{defaults.esf};
  std::vector<learn::Combining> combinings{defaults.combining};
  learn::FeatureOptions fopt;
  size_t show_errors = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--folds")
      folds = std::atoi(next().c_str());
    else if (a == "--robs")
      robs = parse_list(next());
    else if (a == "--robx")
      robx = parse_list(next());
    else if (a == "--min-dev")
      min_dev = parse_list(next());
    else if (a == "--max-tokens")
      max_tokens = parse_list(next());
    else if (a == "--combining") {
      combinings.clear();
      std::stringstream ss(next());
      std::string c;
      while (std::getline(ss, c, ','))
        combinings.push_back(c == "logodds"     ? learn::Combining::kLogOdds
                             : c == "indicator" ? learn::Combining::kFisherIndicator
                                                : learn::Combining::kFisher);
    } else if (a == "--window")
      fopt.osb_window = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--max-words")
      fopt.max_body_words = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--no-received")
      fopt.received_words = false;
    else if (a == "--no-header-names")
      fopt.header_names = false;
    else if (a == "--no-tags")
      fopt.html_tags = false;
    else if (a == "--no-caps")
      fopt.caps_signal = false;
    else if (a == "--html-tags")
      fopt.html_tags = true;
    else if (a == "--attr-values")
      fopt.html_attr_values = true;
    else if (a == "--comments")
      fopt.html_comments = true;
    else if (a == "--transit")
      fopt.transit_headers = true;
    else if (a == "--no-stats")
      fopt.size_buckets = false;
    else if (a == "--no-facts")
      fopt.parser_facts = false;
    else if (a == "--max-received")
      fopt.max_received = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--esf")
      esf = parse_list(next());
    else if (a == "--errors")
      show_errors = std::strtoul(next().c_str(), nullptr, 10);
    else if (!a.empty() && a[0] != '-')
      data_dir = a;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }

  // ---- load the train split only
  const std::vector<std::pair<std::string, bool>> groups{{"easy-ham-1", false},
                                                         {"easy-ham-2", false},
                                                         {"hard-ham-1", false},
                                                         {"spam-1", true},
                                                         {"spam-2", true}};
  std::vector<Sample> samples;
  double extract_us = 0, parse_us = 0;
  size_t parse_failures = 0;
  for (auto& [group, is_spam] : groups) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(fs::path(data_dir) / group, ec))
      if (e.path().extension() == ".txt")
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& path : files) {
      std::string stem = path.stem().string();  // "<id>.<md5>"
      std::string name = group + "." + stem + ".eml";
      bool even = false;
      std::string sha = sha1_hex_first_byte_parity(name, &even);
      if (!even)
        continue;  // test split: never touched
      std::ifstream in(path, std::ios::binary);
      std::stringstream buf;
      buf << in.rdbuf();
      Sample s;
      s.name = name;
      s.spam = is_spam;
      s.fold = static_cast<unsigned char>(sha[1]) % folds;
      s.raw = buf.str();
      // The corpus stores mbox-style files; an MTA never hands us the "From " line.
      if (s.raw.rfind("From ", 0) == 0) {
        size_t nl = s.raw.find('\n');
        s.raw.erase(0, nl == std::string::npos ? s.raw.size() : nl + 1);
      }
      samples.push_back(std::move(s));
    }
  }
  for (Sample& s : samples) {
    auto t0 = cpu_now();
    auto msg = mime::parse(s.raw);
    auto t1 = cpu_now();
    if (!msg) {
      ++parse_failures;
      continue;
    }
    s.features = learn::extract_features(*msg, fopt);
    s.digest = learn::message_digest(*msg);
    auto t2 = cpu_now();
    parse_us += (t1 - t0);
    extract_us += (t2 - t1);
  }
  // Steadier extraction timing: re-run extraction over parsed messages, best of 3 passes (the
  // first pass above also pays for cold caches and page faults).
  {
    std::vector<mime::Message> parsed;
    parsed.reserve(samples.size());
    for (auto& s : samples) {
      auto m = mime::parse(s.raw);
      if (m)
        parsed.push_back(std::move(m.value()));
    }
    double best = 1e300;
    size_t sink = 0;
    for (int pass = 0; pass < 3; ++pass) {
      auto t0 = cpu_now();
      for (auto& m : parsed)
        sink += learn::extract_features(m, fopt).size();
      auto t1 = cpu_now();
      best = std::min(best, (t1 - t0));
    }
    double digest_us = 0;
    auto t0 = cpu_now();
    for (auto& m : parsed)
      sink += learn::message_digest(m).size();
    auto t1 = cpu_now();
    digest_us = (t1 - t0);
    std::printf("µs/msg CPU (warm, best of 3): extract_features %.1f, message_digest %.1f [%zu]\n",
                best / parsed.size(), digest_us / parsed.size(), sink % 7);
  }
  size_t n_ham = 0, n_spam = 0, n_feat = 0;
  for (auto& s : samples) {
    (s.spam ? n_spam : n_ham)++;
    n_feat += s.features.size();
  }
  std::printf("train split: %zu messages (%zu ham, %zu spam), %d folds, parse failures %zu\n",
              samples.size(), n_ham, n_spam, folds, parse_failures);
  std::printf("features/msg %.0f; µs/msg: parse %.1f, extract+digest %.1f\n",
              double(n_feat) / samples.size(), parse_us / samples.size(),
              extract_us / samples.size());

  // ---- parameter grid
  std::vector<learn::ClassifierParams> grid;
  for (double rs : robs)
    for (double rx : robx)
      for (double md : min_dev)
        for (double mt : max_tokens)
          for (auto cb : combinings)
            for (double e : esf) {
              learn::ClassifierParams p;
              p.esf = e;
              p.robs = rs;
              p.robx = rx;
              p.min_dev = md;
              p.max_tokens = static_cast<size_t>(mt);
              p.combining = cb;
              grid.push_back(p);
            }
  std::vector<std::vector<double>> raw(grid.size(), std::vector<double>(samples.size(), 0));
  double classify_us = 0;
  size_t classified = 0;
  const std::vector<store::Scope> chain{store::Scope::global()};
  for (int f = 0; f < folds; ++f) {
    auto st = store::make_memory_store();
    learn::Classifier trainer(*st);
    for (auto& s : samples)
      if (s.fold != f && !s.features.empty()) {
        auto r = trainer.learn(store::Scope::global(), s.digest,
                               s.spam ? store::Class::kSpam : store::Class::kHam, s.features);
        if (!r) {
          std::fprintf(stderr, "learn failed: %s\n", r.error().describe().c_str());
          return 1;
        }
      }
    for (size_t g = 0; g < grid.size(); ++g) {
      learn::Classifier c(*st, grid[g]);
      for (size_t i = 0; i < samples.size(); ++i) {
        if (samples[i].fold != f)
          continue;
        auto t0 = cpu_now();
        auto r = c.classify(chain, samples[i].features);
        auto t1 = cpu_now();
        if (g == 0) {
          classify_us += (t1 - t0);
          ++classified;
        }
        if (!r) {
          std::fprintf(stderr, "classify failed: %s\n", r.error().describe().c_str());
          return 1;
        }
        raw[g][i] = r->raw_score;
      }
    }
  }
  std::printf("µs/msg classify (memory store, chain of 1): %.1f\n", classify_us / classified);
  std::printf("%-8s %6s %5s %6s %5s %4s | %-9s %-8s %-8s | %-9s %-9s %-8s\n", "comb", "robs",
              "robx", "mindev", "maxtk", "esf", "AUC", "R@0.1%", "R@1%", "platt_a", "platt_b",
              "logloss");
  for (size_t g = 0; g < grid.size(); ++g) {
    std::vector<double> ham, spam, x;
    std::vector<int> y;
    for (size_t i = 0; i < samples.size(); ++i) {
      (samples[i].spam ? spam : ham).push_back(raw[g][i]);
      x.push_back(raw[g][i]);
      y.push_back(samples[i].spam);
    }
    double a, b;
    fit_platt(x, y, &a, &b);
    double logloss = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double p = 1 / (1 + std::exp(-std::clamp(a * x[i] + b, -700.0, 700.0)));
      p = std::clamp(p, 1e-15, 1 - 1e-15);
      logloss -= y[i] ? std::log(p) : std::log(1 - p);
    }
    const auto& p = grid[g];
    std::printf("%-8s %6.3f %5.2f %6.3f %5zu %4.2f | %.6f %7.2f%% %7.2f%% | %9.5f %9.4f %.5f\n",
                p.combining == learn::Combining::kFisher    ? "fisher"
                : p.combining == learn::Combining::kLogOdds ? "logodds"
                                                            : "indicat",
                p.robs, p.robx, p.min_dev, p.max_tokens, p.esf, auc(ham, spam),
                100 * recall_at_fpr(ham, spam, 0.001), 100 * recall_at_fpr(ham, spam, 0.01), a, b,
                logloss / x.size());
    // Per fold: AUC / recall@1% (each fold has only ~410 ham: 1% allows 4).
    std::printf("   folds:");
    for (int f = 0; f < folds; ++f) {
      std::vector<double> fh, fs;
      for (size_t i = 0; i < samples.size(); ++i)
        if (samples[i].fold == f)
          (samples[i].spam ? fs : fh).push_back(raw[g][i]);
      std::printf(" %.5f/%.1f%%", auc(fh, fs), 100 * recall_at_fpr(fh, fs, 0.01));
    }
    std::printf("\n");
    if (show_errors > 0 && g == 0) {
      double thr;
      recall_at_fpr(ham, spam, 0.01, &thr);
      std::vector<std::pair<double, size_t>> worst;
      for (size_t i = 0; i < samples.size(); ++i) {
        double m = samples[i].spam ? raw[g][i] - thr : thr - raw[g][i];
        worst.push_back({m, i});
      }
      std::sort(worst.begin(), worst.end());
      for (size_t k = 0; k < show_errors && k < worst.size(); ++k) {
        const Sample& s = samples[worst[k].second];
        std::printf("  %s %s raw=%.2f (threshold@1%% %.2f)\n", s.spam ? "SPAM" : "HAM ",
                    s.name.c_str(), raw[g][worst[k].second], thr);
      }
    }
  }
  return 0;
}
