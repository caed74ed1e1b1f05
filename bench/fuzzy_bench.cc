// Fingerprint cost and false-match rate on the SpamAssassin corpus (train split only).
//
//   fuzzy_bench            Google Benchmark: fingerprint() per parsed message
// Before the benchmarks it prints, for the train split, how many message pairs reach the match
// threshold (within ham, within spam, across classes): near-duplicate campaigns should show up
// within spam, and cross-class pairs are false matches.
#include <openssl/sha.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "fuzzy/fingerprint.h"
#include "mime/message.h"

namespace {

struct Loaded {
  std::string raw;
  bool spam;
};

std::vector<Loaded>& train_messages() {
  static std::vector<Loaded> all = [] {
    std::vector<Loaded> out;
    const std::string root = "/root/.cache/mailsift-corpus/package/data/";
    for (const char* group : {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(root + group, ec)) {
        if (e.path().extension() != ".txt")
          continue;
        std::string stem = e.path().stem().string();  // <id>.<md5>
        std::string name = std::string(group) + "." + stem + ".eml";
        unsigned char sha[SHA_DIGEST_LENGTH];
        SHA1(reinterpret_cast<const unsigned char*>(name.data()), name.size(), sha);
        if (sha[0] % 2 != 0)
          continue;  // test split: never looked at
        std::ifstream f(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        out.push_back({ss.str(), std::string(group).rfind("spam", 0) == 0});
      }
    }
    return out;
  }();
  return all;
}

void report_pairs() {
  auto& msgs = train_messages();
  std::vector<mailsift::fuzzy::Fingerprint> fps;
  std::vector<bool> spam;
  for (const auto& m : msgs) {
    auto parsed = mailsift::mime::parse(m.raw);
    if (!parsed)
      continue;
    auto fp = mailsift::fuzzy::fingerprint(*parsed);
    if (!fp.usable())
      continue;
    fps.push_back(std::move(fp));
    spam.push_back(m.spam);
  }
  size_t hh = 0, ss = 0, hs = 0;
  const double t = mailsift::fuzzy::Params{}.match_threshold;
  for (size_t i = 0; i < fps.size(); ++i) {
    for (size_t j = i + 1; j < fps.size(); ++j) {
      if (mailsift::fuzzy::similarity(fps[i], fps[j]) < t)
        continue;
      if (spam[i] != spam[j]) {
        ++hs;
      } else {
        ++(spam[i] ? ss : hh);
      }
    }
  }
  std::fprintf(stderr,
               "train split: %zu messages, %zu usable fingerprints; pairs >= %.2f: ham-ham %zu, "
               "spam-spam %zu, ham-spam %zu\n",
               msgs.size(), fps.size(), t, hh, ss, hs);
}

void BM_FingerprintMessage(benchmark::State& state) {
  auto& msgs = train_messages();
  std::vector<mailsift::mime::Message> parsed;
  for (size_t i = 0; i < msgs.size() && parsed.size() < 500; i += 5) {
    auto p = mailsift::mime::parse(msgs[i].raw);
    if (p)
      parsed.push_back(std::move(p).value());
  }
  size_t i = 0;
  for (auto _ : state) {
    auto fp = mailsift::fuzzy::fingerprint(parsed[i++ % parsed.size()]);
    benchmark::DoNotOptimize(fp);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FingerprintMessage)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  report_pairs();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
}
