// rules_bench: cost of Matcher::match with rules/default.rules.
//   BM_MatchSynthetic  — a fixed ~5 KB multi-header HTML+text message built by hand.
//   BM_MatchCorpus     — (with the mime library) every message of the SpamAssassin corpus cache,
//                        parsed once up front; reports time per message. Parsing is not timed.
// Run: rules_bench [--benchmark_filter=...]. MAILSIFT_CORPUS_DIR overrides the corpus path.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "rules/rules.h"
#ifdef MAILSIFT_BENCH_WITH_MIME
#include "mime/message.h"
#endif

namespace {

using mailsift::rules::Matcher;
using mailsift::rules::RuleSet;

std::shared_ptr<const RuleSet> default_rules() {
  static std::shared_ptr<const RuleSet> set = [] {
    auto r = RuleSet::load_file(MAILSIFT_SOURCE_DIR "/rules/default.rules");
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      std::abort();
    }
    return *r;
  }();
  return set;
}

struct Synthetic {
  std::deque<std::string> bytes;  // views in msg point here
  mailsift::mime::Message msg;

  std::string_view keep(std::string s) { return bytes.emplace_back(std::move(s)); }

  Synthetic() {
    std::string raw;
    auto add = [&](std::string name, std::string value) {
      raw += name + ": " + value + "\r\n";
      mailsift::mime::Header h;
      h.name = keep(name);
      h.raw_value = keep(" " + value);
      h.value = value;
      headers.push_back(std::move(h));
    };
    for (int i = 0; i < 4; ++i) {
      add("Received", "from mx" + std::to_string(i) + ".example.net (mx.example.net [192.0.2." +
                          std::to_string(i) + "]) by mail.example.org with ESMTPS id abc" +
                          std::to_string(i) + "; Tue, 2 Jan 2024 10:00:0" + std::to_string(i) +
                          " +0100");
    }
    add("From", "\"Example Newsletter\" <news@example.com>");
    add("To", "reader@example.org");
    add("Subject", "Your weekly digest: 12 new articles");
    add("Date", "Tue, 2 Jan 2024 10:00:00 +0100");
    add("Message-ID", "<20240102100000.12345@example.com>");
    add("MIME-Version", "1.0");
    add("Content-Type", "multipart/alternative; boundary=\"b1\"");
    add("X-Mailer", "ExampleMailer 2.1");
    add("List-Unsubscribe", "<https://example.com/unsub?id=123>");
    raw += "\r\n";
    std::string text;
    const char* words[] = {"the",      "weekly",  "digest", "contains", "articles",  "about",
                           "software", "release", "notes",  "and",      "community", "news"};
    for (int i = 0; i < 600; ++i)
      text += std::string(words[(i * 7) % 12]) + (i % 15 ? " " : ".\n");
    std::string body = "--b1\r\nContent-Type: text/plain\r\n\r\n" + text +
                       "\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>" + text +
                       "</p>\r\n--b1--\r\n";
    raw += body;
    msg.raw = keep(raw);
    msg.parts.emplace_back();
    msg.parts[0].headers = std::move(headers);
    msg.parts[0].raw_body = msg.raw.substr(msg.raw.find("\r\n\r\n") + 4);
    msg.texts.push_back({1, false, text, ""});
    msg.texts.push_back({2, true, text, ""});
    for (int i = 0; i < 8; ++i) {
      msg.urls.push_back({"https://example.com/articles/" + std::to_string(i) + "?utm_source=mail",
                          "example.com", "", true, false});
    }
  }
  std::vector<mailsift::mime::Header> headers;
};

void BM_MatchSynthetic(benchmark::State& state) {
  static Synthetic s;
  Matcher m(default_rules());
  for (auto _ : state) {
    auto hits = m.match(s.msg);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(s.msg.raw.size());
}
BENCHMARK(BM_MatchSynthetic)->Unit(benchmark::kMicrosecond);

#ifdef MAILSIFT_BENCH_WITH_MIME
struct Corpus {
  std::deque<std::string> raw;
  std::vector<mailsift::mime::Message> msgs;
  Corpus() {
    const char* env = std::getenv("MAILSIFT_CORPUS_DIR");
    std::filesystem::path dir = env ? env : "/root/.cache/mailsift-corpus/package/data";
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file() || it->path().extension() != ".txt")
        continue;
      std::ifstream in(it->path(), std::ios::binary);
      raw.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto m = mailsift::mime::parse(raw.back());
      if (m.ok())
        msgs.push_back(std::move(m).value());
    }
  }
};

void BM_MatchCorpus(benchmark::State& state) {
  static Corpus c;
  if (c.msgs.empty()) {
    state.SkipWithError("no corpus messages");
    return;
  }
  Matcher m(default_rules());
  size_t i = 0;
  for (auto _ : state) {
    auto hits = m.match(c.msgs[i]);
    benchmark::DoNotOptimize(hits);
    if (++i == c.msgs.size())
      i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["messages"] = static_cast<double>(c.msgs.size());
}
BENCHMARK(BM_MatchCorpus)->Unit(benchmark::kMicrosecond)->MinTime(3.0);
#endif

}  // namespace

BENCHMARK_MAIN();
