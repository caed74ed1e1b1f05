// Parse speed of mailsift::mime::parse over real mail.
//
// Loads every *.txt under $MAILSIFT_CORPUS_DIR (default: the cached SpamAssassin corpus,
// /root/.cache/mailsift-corpus/package/data) into memory once, then parses them all per
// iteration. Reports us_per_msg (wall time per message) and MB/s. Skips if no corpus is found.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mime/message.h"

namespace {

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> kFiles = [] {
    std::vector<std::string> files;
    const char* env = std::getenv("MAILSIFT_CORPUS_DIR");
    std::filesystem::path dir = env ? env : "/root/.cache/mailsift-corpus/package/data";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      return files;
    std::vector<std::filesystem::path> paths;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".txt")
        paths.push_back(e.path());
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      std::ifstream in(p, std::ios::binary);
      files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return files;
  }();
  return kFiles;
}

void BM_ParseCorpus(benchmark::State& state) {
  const auto& files = corpus();
  if (files.empty()) {
    state.SkipWithError("no corpus (set MAILSIFT_CORPUS_DIR)");
    return;
  }
  size_t bytes = 0;
  for (const auto& f : files)
    bytes += f.size();
  size_t failures = 0;
  for (auto _ : state) {
    for (const auto& f : files) {
      auto r = mailsift::mime::parse(f);
      if (!r.ok())
        ++failures;
      benchmark::DoNotOptimize(r);
    }
  }
  double msgs = static_cast<double>(files.size()) * static_cast<double>(state.iterations());
  state.counters["msgs"] = static_cast<double>(files.size());
  state.counters["failures"] = static_cast<double>(failures);
  state.counters["time_per_msg"] =
      benchmark::Counter(msgs, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_ParseCorpus)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// A typical ~5 KB multipart/alternative message, for a corpus-independent number.
void BM_ParseSynthetic(benchmark::State& state) {
  std::string msg =
      "From: \"Sender\" <sender@example.com>\r\nTo: rcpt@example.org\r\n"
      "Subject: =?utf-8?q?Hello_w=C3=B6rld?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
      "Message-ID: <x@y>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
      "\r\n";
  for (int i = 0; i < 30; ++i) {
    msg += "Some plain text line with a link http://www.example.com/p?i=3D" + std::to_string(i) +
           " and more words=\r\n here.\r\n";
  }
  msg += "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>";
  for (int i = 0; i < 30; ++i) {
    msg += "<p style=\"color:#333\">Paragraph <b>" + std::to_string(i) +
           "</b> &amp; <a href=\"http://www.example.com/p?i=" + std::to_string(i) +
           "\">link</a></p>\r\n";
  }
  msg += "</body></html>\r\n--b1--\r\n";
  for (auto _ : state) {
    auto r = mailsift::mime::parse(msg);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(msg.size()) * state.iterations());
}
BENCHMARK(BM_ParseSynthetic)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
