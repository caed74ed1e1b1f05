// mailsift configuration: every parameter is declared once, in the table in config_params.cc.
//
// Owns: the parameter table (name, type, default, bounds, description), loading a TOML file
// against it, typed access, and rendering the table as TOML (--dump-config) and Markdown
// (docs/config.md is generated from it and a test keeps the two equal).
//
// Failure semantics: Config::load returns a kConfig error naming the offending key for an
// unknown key, a value of the wrong type, or a value outside its bounds. Typed getters on an
// undeclared name are programming bugs and abort (caught by tests, never by mail).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift {

enum class ParamType { kInt, kDouble, kBool, kString };

struct ParamSpec {
  std::string_view name;  // dotted, e.g. "scan.threshold.add_header"; TOML table path
  ParamType type;
  std::string_view default_value;  // as text, parsed with the same rules as a file value
  double min;                      // bounds for kInt/kDouble (inclusive); ignored otherwise
  double max;
  std::string_view description;  // one line, shown by --dump-config and in docs/config.md
};

// The one table. Order is documentation order.
const std::vector<ParamSpec>& all_params();
const ParamSpec* find_param(std::string_view name);

class Config {
 public:
  // All defaults.
  Config();
  // Defaults overridden by a TOML file (nested tables or dotted keys both work).
  static Result<Config> load_file(const std::string& path);
  static Result<Config> load_string(std::string_view toml_text);

  // Override one value from text ("--set name=value" style); validated like file values.
  Status set(std::string_view name, std::string_view value_text);

  int64_t get_int(std::string_view name) const;
  double get_double(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  const std::string& get_string(std::string_view name) const;

  // TOML of every parameter with its current value and description as a comment.
  std::string dump_toml() const;

 private:
  std::map<std::string, std::string, std::less<>> values_;  // canonical text per name
};

// Markdown reference of the table (docs/config.md).
std::string render_config_markdown();

// server.threads resolved: 0 means one per CPU core (at least 1). Shared by mailsiftd and the
// pools sized after its threads (redis.pool_size = 0).
int server_threads(const Config& config);

}  // namespace mailsift
