#include "core/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace mailsift {
namespace {

TEST(Config, DefaultsComeFromTheTable) {
  Config cfg;
  EXPECT_DOUBLE_EQ(cfg.get_double("actions.add_header"),
                   std::stod(std::string(find_param("actions.add_header")->default_value)));
  EXPECT_FALSE(cfg.get_bool("actions.reject_enabled"));  // reject is opt-in
  EXPECT_EQ(cfg.get_int("mime.max_depth"), 16);
}

TEST(Config, TableIsWellFormed) {
  std::set<std::string_view> names;
  for (const auto& p : all_params()) {
    EXPECT_TRUE(names.insert(p.name).second) << "duplicate " << p.name;
    EXPECT_FALSE(p.description.empty()) << p.name;
  }
}

TEST(Config, LoadsNestedAndDottedToml) {
  auto cfg = Config::load_string(
      "mime.max_depth = 4\n"
      "[actions]\nadd_header = 5.5\nreject_enabled = true\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_DOUBLE_EQ(cfg->get_double("actions.add_header"), 5.5);
  EXPECT_TRUE(cfg->get_bool("actions.reject_enabled"));
  EXPECT_EQ(cfg->get_int("mime.max_depth"), 4);
}

TEST(Config, IntegerAcceptedForFloat) {
  auto cfg = Config::load_string("actions.add_header = 7\n");
  ASSERT_TRUE(cfg.ok());
  EXPECT_DOUBLE_EQ(cfg->get_double("actions.add_header"), 7.0);
}

TEST(Config, RejectsUnknownWrongTypeOutOfBoundsAndSyntax) {
  struct Case {
    const char* toml;
    const char* expect_in_message;
  } cases[] = {
      {"actions.nope = 1\n", "unknown parameter 'actions.nope'"},
      {"mime.max_depth = \"deep\"\n", "expected a int"},
      {"mime.max_depth = 0\n", "outside"},
      {"fuzzy.threshold = 2.0\n", "outside"},
      {"actions.reject_enabled = 3\n", "not a boolean"},
      {"rules.file = 3\n", "expected a string"},
      {"[actions\n", "TOML error"},
  };
  for (const auto& c : cases) {
    auto cfg = Config::load_string(c.toml);
    ASSERT_FALSE(cfg.ok()) << c.toml;
    EXPECT_EQ(cfg.error().kind, ErrorKind::kConfig);
    EXPECT_NE(cfg.error().message.find(c.expect_in_message), std::string::npos)
        << c.toml << " -> " << cfg.error().message;
  }
}

TEST(Config, SetValidates) {
  Config cfg;
  EXPECT_TRUE(cfg.set("actions.reject", "20").ok());
  EXPECT_DOUBLE_EQ(cfg.get_double("actions.reject"), 20.0);
  EXPECT_FALSE(cfg.set("actions.reject", "lots").ok());
  EXPECT_FALSE(cfg.set("no.such", "1").ok());
}

TEST(Config, DumpRoundTrips) {
  Config cfg;
  ASSERT_TRUE(cfg.set("actions.subject_tag", "[spam \"x\"] ").ok());
  auto again = Config::load_string(cfg.dump_toml());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->dump_toml(), cfg.dump_toml());
  EXPECT_EQ(again->get_string("actions.subject_tag"), "[spam \"x\"] ");
}

// docs/config.md is generated from the table; this keeps the two from drifting apart.
TEST(Config, DocsMatchTheTable) {
  std::ifstream in(std::string(MAILSIFT_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in) << "docs/config.md missing: run `mailsift config-doc > docs/config.md`";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), render_config_markdown())
      << "docs/config.md is stale: run `mailsift config-doc > docs/config.md`";
}

}  // namespace
}  // namespace mailsift
