#include "scan/verdict_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace mailsift::scan {
namespace {

using json = nlohmann::json;

// The object as the CLI built it before append_verdict_json, kept here as the reference.
std::string reference(const std::string& path, const Verdict& v) {
  json symbols = json::array();
  for (const auto& s : v.symbols) {
    json j = {{"name", s.name}, {"score", s.score}, {"description", s.description}};
    if (!s.detail.empty())
      j["detail"] = s.detail;
    symbols.push_back(std::move(j));
  }
  json errors = json::array();
  for (const auto& e : v.errors)
    errors.push_back({{"kind", mailsift::to_string(e.kind)}, {"message", e.message}});
  return json{{"path", path},
              {"score", v.score},
              {"required_score", v.required_score},
              {"action", to_string(v.action)},
              {"is_spam", v.is_spam()},
              {"spam_probability", v.spam_probability ? json(*v.spam_probability) : json(nullptr)},
              {"symbols", std::move(symbols)},
              {"facts", v.facts},
              {"errors", std::move(errors)},
              {"digest", v.digest},
              {"elapsed_us", v.elapsed_us}}
      .dump();
}

std::string written(const std::string& path, const Verdict& v) {
  std::string out = "prefix:";  // appends, never replaces
  append_verdict_json(out, path, v);
  EXPECT_EQ(out.substr(0, 7), "prefix:");
  return out.substr(7);
}

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  // Valid UTF-8 with every control character, quotes, backslashes and multi-byte sequences.
  std::string text() {
    static const char* const kPieces[] = {"\"", "\\", "/", "\x7f", "é", "€", "😀", " ", "abc"};
    std::string s;
    size_t n = rng_() % 12;
    for (size_t i = 0; i < n; ++i) {
      if (rng_() % 2)
        s.push_back(static_cast<char>(rng_() % 0x80));
      else
        s += kPieces[rng_() % std::size(kPieces)];
    }
    return s;
  }
  double number() {
    static const double kSpecial[] = {0.0,
                                      -0.0,
                                      1.0,
                                      6.0,
                                      -60.0,
                                      0.1,
                                      -0.15,
                                      1e15,
                                      1e16,
                                      1e-4,
                                      1e-5,
                                      1e21,
                                      1e-300,
                                      12.5,
                                      NAN,
                                      INFINITY,
                                      -INFINITY,
                                      3.016374213722379e-26,
                                      std::numeric_limits<double>::denorm_min(),
                                      std::numeric_limits<double>::max()};
    switch (rng_() % 3) {
      case 0:
        return kSpecial[rng_() % std::size(kSpecial)];
      case 1:
        return static_cast<double>(static_cast<int64_t>(rng_() % 4001) - 2000) / 100.0;
      default: {  // any bit pattern, NaNs and infinities included
        uint64_t bits = rng_();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
      }
    }
  }
  Verdict verdict() {
    Verdict v;
    v.score = number();
    v.required_score = number();
    v.action = static_cast<Action>(rng_() % 5);
    if (rng_() % 4)
      v.spam_probability = number();
    for (size_t i = rng_() % 6; i > 0; --i)
      v.symbols.push_back({text(), number(), text(), rng_() % 2 ? text() : ""});
    for (size_t i = rng_() % 3; i > 0; --i)
      v.facts.push_back(text());
    for (size_t i = rng_() % 3; i > 0; --i)
      v.errors.push_back({static_cast<ErrorKind>(rng_() % 4), text()});
    v.digest = text();
    v.elapsed_us = static_cast<int64_t>(rng_()) >> (rng_() % 64);
    return v;
  }
  uint64_t operator()() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

TEST(VerdictJson, ByteIdenticalToTheNlohmannObject) {
  Gen g(42);
  for (int i = 0; i < 5000; ++i) {
    const std::string path = g.text();
    const Verdict v = g.verdict();
    ASSERT_EQ(written(path, v), reference(path, v)) << "case " << i;
  }
}

TEST(VerdictJson, EmptyVerdict) {
  Verdict v;
  EXPECT_EQ(written("m.eml", v), reference("m.eml", v));
  EXPECT_EQ(written("m.eml", v),
            R"({"action":"no action","digest":"","elapsed_us":0,"errors":[],"facts":[],)"
            R"("is_spam":false,"path":"m.eml","required_score":0.0,"score":0.0,)"
            R"("spam_probability":null,"symbols":[]})");
}

// Where nlohmann rejects a string as invalid UTF-8 (and throws), so does the writer; everywhere
// else both print the same text. Random short byte strings, biased to the bytes that matter.
TEST(VerdictJson, InvalidUtf8ThrowsExactlyWhereNlohmannDoes) {
  Gen g(7);
  static const unsigned char kBytes[] = {'a',  0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xA0,
                                         0x9F, 0xED, 0xEF, 0xF0, 0x90, 0x8F, 0xF4, 0xF5, 0xFF};
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (size_t n = g() % 5; n > 0; --n)
      s.push_back(static_cast<char>(kBytes[g() % std::size(kBytes)]));
    Verdict v;
    v.symbols.push_back({"NAME", 1.5, "description", s});
    std::string want;
    bool want_throw = false;
    try {
      want = reference("p", v);
    } catch (const json::type_error&) {
      want_throw = true;
    }
    if (want_throw) {
      ++rejected;
      std::string out;
      EXPECT_THROW(append_verdict_json(out, "p", v), json::type_error) << i;
    } else {
      EXPECT_EQ(written("p", v), want) << i;
    }
  }
  EXPECT_GT(rejected, 1000);  // the generator does reach the rejecting path
}

}  // namespace
}  // namespace mailsift::scan
