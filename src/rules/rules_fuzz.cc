// Fuzzes the rule-file parser and compiler (RuleSet::load_string): any input must either load or
// return a kConfig error — never crash, hang or leak. A loaded set is also run once over a small
// fixed message so the meta evaluator and database plumbing see fuzzed rule shapes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024)
    return 0;  // bigger files add compile time, not parser coverage
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = mailsift::rules::RuleSet::load_string(text, "fuzz.rules");
  if (!set.ok()) {
    if (set.error().kind != mailsift::ErrorKind::kConfig)
      std::abort();
    return 0;
  }
  static const std::string_view kRaw = "Subject: hello\r\nFrom: a@b.example\r\n\r\nclick here\r\n";
  mailsift::mime::Message msg;
  msg.raw = kRaw;
  msg.parts.emplace_back();
  msg.parts[0].headers.push_back({kRaw.substr(0, 7), kRaw.substr(8, 6), "hello"});
  msg.parts[0].headers.push_back({kRaw.substr(16, 4), kRaw.substr(22, 11), "a@b.example"});
  msg.parts[0].raw_body = kRaw.substr(37);
  msg.texts.push_back({0, false, "click here", ""});
  msg.urls.push_back({"http://192.0.2.1/x", "192.0.2.1", "", false, false});
  msg.facts.push_back("HTML_ONLY");
  mailsift::rules::Matcher matcher(*set);
  auto hits = matcher.match(msg);
  if (!hits.ok())
    std::abort();
  for (const auto& h : *hits) {
    if ((*set)->find(h.name) == nullptr)
      std::abort();
  }
  return 0;
}
