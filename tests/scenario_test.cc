// Runs every tests/scenarios/NAME.eml through the real engine with the envelope, policy,
// training and expectations of NAME.toml (format: tests/scenarios/README.md).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "scan/engine.h"

namespace mailsift {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = MAILSIFT_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename View>
std::vector<std::string> strings(View node) {
  std::vector<std::string> out;
  if (const auto* arr = node.as_array()) {
    for (const auto& v : *arr) {
      if (auto s = v.template value<std::string>())
        out.push_back(*s);
    }
  }
  return out;
}

std::string value_text(const toml::node& node) {
  if (node.is_string())
    return *node.value<std::string>();
  if (node.is_boolean())
    return *node.value<bool>() ? "true" : "false";
  if (node.is_integer())
    return std::to_string(*node.value<int64_t>());
  if (node.is_floating_point())
    return fmt::format("{}", *node.value<double>());
  return "";
}

std::shared_ptr<const rules::RuleSet> shipped_rules() {
  static auto rules = [] {
    auto r = scan::Engine::load_rules(Config{});
    return r ? *r : nullptr;
  }();
  return rules;
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, MatchesExpectations) {
  const fs::path eml = kRoot / "tests/scenarios" / (GetParam() + ".eml");
  const fs::path spec_path = kRoot / "tests/scenarios" / (GetParam() + ".toml");
  toml::table spec;
  try {
    spec = toml::parse_file(spec_path.string());
  } catch (const toml::parse_error& e) {
    FAIL() << spec_path << ": " << e.description();
  }

  Config config;
  if (const auto* overrides = spec["config"].as_table()) {
    for (const auto& [key, value] : *overrides) {
      Status st = config.set(key.str(), value_text(value));
      ASSERT_TRUE(st.ok()) << st.error().describe();
    }
  }
  scan::Recipient rcpt{spec["recipient"]["user"].value_or(std::string()),
                       spec["recipient"]["domain"].value_or(std::string()),
                       spec["recipient"]["reseller"].value_or(std::string())};

  auto store = store::make_memory_store();
  ASSERT_NE(shipped_rules(), nullptr);
  auto engine = scan::Engine::create(config, *store, shipped_rules());
  ASSERT_TRUE(engine.ok()) << engine.error().describe();

  for (auto [cls_name, cls] :
       {std::pair{"spam", store::Class::kSpam}, std::pair{"ham", store::Class::kHam}}) {
    for (const auto& dir : strings(spec["train"][cls_name])) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(kRoot / dir))
        files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::string raw = slurp(f);
        auto r = (*engine)->learn(raw, cls, {});  // training goes to the global scope
        ASSERT_TRUE(r.ok()) << f << ": " << r.error().describe();
      }
    }
  }

  const std::string raw = slurp(eml);
  auto verdict = (*engine)->scan(raw, rcpt);
  ASSERT_TRUE(verdict.ok()) << verdict.error().describe();
  const scan::Verdict& v = *verdict;
  const std::string why = v.explain();
  auto has = [&](const std::string& name) {
    return std::any_of(v.symbols.begin(), v.symbols.end(),
                       [&](const scan::Symbol& s) { return s.name == name; });
  };

  if (auto action = spec["expect"]["action"].value<std::string>()) {
    EXPECT_EQ(scan::to_string(v.action), *action) << why;
  }
  for (const auto& s : strings(spec["expect"]["symbols"]))
    EXPECT_TRUE(has(s)) << s << "\n" << why;
  for (const auto& s : strings(spec["expect"]["absent"]))
    EXPECT_FALSE(has(s)) << s << "\n" << why;
  for (const auto& f : strings(spec["expect"]["facts"])) {
    EXPECT_NE(std::find(v.facts.begin(), v.facts.end(), f), v.facts.end()) << f << "\n" << why;
  }
  if (auto min = spec["expect"]["min_score"].value<double>()) {
    EXPECT_GE(v.score, *min) << why;
  }
  if (auto max = spec["expect"]["max_score"].value<double>()) {
    EXPECT_LE(v.score, *max) << why;
  }
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kRoot / "tests/scenarios")) {
    if (e.path().extension() == ".toml")
      names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Scenario, ::testing::ValuesIn(scenario_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace mailsift
