#include "core/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace mailsift {
namespace {

const char* type_name(ParamType t) {
  switch (t) {
    case ParamType::kInt:
      return "int";
    case ParamType::kDouble:
      return "float";
    case ParamType::kBool:
      return "bool";
    case ParamType::kString:
      return "string";
  }
  return "?";
}

// Validates `text` against `spec` and returns its canonical text form.
Result<std::string> canonical_value(const ParamSpec& spec, std::string_view text) {
  std::string s(text);
  switch (spec.type) {
    case ParamType::kInt: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || p != s.data() + s.size()) {
        return Error::config(fmt::format("{}: '{}' is not an integer", spec.name, s));
      }
      if (static_cast<double>(v) < spec.min || static_cast<double>(v) > spec.max) {
        return Error::config(
            fmt::format("{}: {} is outside [{}, {}]", spec.name, v, spec.min, spec.max));
      }
      return std::to_string(v);
    }
    case ParamType::kDouble: {
      char* end = nullptr;
      double v = std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
        return Error::config(fmt::format("{}: '{}' is not a number", spec.name, s));
      }
      if (v < spec.min || v > spec.max) {
        return Error::config(
            fmt::format("{}: {} is outside [{}, {}]", spec.name, v, spec.min, spec.max));
      }
      return fmt::format("{}", v);
    }
    case ParamType::kBool:
      if (s == "true" || s == "1" || s == "yes" || s == "on")
        return std::string("true");
      if (s == "false" || s == "0" || s == "no" || s == "off")
        return std::string("false");
      return Error::config(fmt::format("{}: '{}' is not a boolean", spec.name, s));
    case ParamType::kString:
      return s;
  }
  return Error::config("unreachable");
}

const ParamSpec& require(std::string_view name) {
  const ParamSpec* spec = find_param(name);
  if (spec == nullptr) {
    // An undeclared name in code is our bug, not the operator's: fail loudly in tests.
    std::fprintf(stderr, "mailsift: undeclared config parameter '%.*s'\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return *spec;
}

// Flattens a TOML table into dotted keys, converting leaves to text.
Status flatten(const toml::table& table, const std::string& prefix, Config& out) {
  for (const auto& [key, node] : table) {
    std::string name =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      Status st = flatten(*sub, name, out);
      if (!st)
        return st;
      continue;
    }
    std::string text;
    if (auto v = node.value<std::string>(); v && node.is_string()) {
      text = *v;
    } else if (node.is_integer()) {
      text = std::to_string(*node.value<int64_t>());
    } else if (node.is_floating_point()) {
      text = fmt::format("{}", *node.value<double>());
    } else if (node.is_boolean()) {
      text = *node.value<bool>() ? "true" : "false";
    } else {
      return Error::config(fmt::format("{}: unsupported value type", name));
    }
    const ParamSpec* spec = find_param(name);
    if (spec == nullptr)
      return Error::config(fmt::format("unknown parameter '{}'", name));
    if (spec->type == ParamType::kString && !node.is_string()) {
      return Error::config(fmt::format("{}: expected a string", name));
    }
    if (spec->type != ParamType::kString && node.is_string()) {
      return Error::config(
          fmt::format("{}: expected a {}, got a string", name, type_name(spec->type)));
    }
    Status st = out.set(name, text);
    if (!st)
      return st;
  }
  return Ok{};
}

std::string toml_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

const ParamSpec* find_param(std::string_view name) {
  for (const auto& p : all_params()) {
    if (p.name == name)
      return &p;
  }
  return nullptr;
}

Config::Config() {
  for (const auto& p : all_params()) {
    auto canon = canonical_value(p, p.default_value);
    if (!canon) {
      std::fprintf(stderr, "mailsift: bad default for %s\n", std::string(p.name).c_str());
      std::abort();
    }
    values_.emplace(std::string(p.name), canon.value());
  }
}

Status Config::set(std::string_view name, std::string_view value_text) {
  const ParamSpec* spec = find_param(name);
  if (spec == nullptr)
    return Error::config(fmt::format("unknown parameter '{}'", name));
  auto canon = canonical_value(*spec, value_text);
  if (!canon)
    return canon.error();
  values_[std::string(name)] = std::move(canon).value();
  return Ok{};
}

Result<Config> Config::load_string(std::string_view toml_text) {
  Config cfg;
  try {
    toml::table table = toml::parse(toml_text);
    Status st = flatten(table, "", cfg);
    if (!st)
      return st.error();
  } catch (const toml::parse_error& e) {
    return Error::config(
        fmt::format("TOML error at line {}: {}", e.source().begin.line, e.description()));
  }
  return cfg;
}

Result<Config> Config::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::config(fmt::format("cannot read config file '{}'", path));
  std::stringstream ss;
  ss << in.rdbuf();
  auto cfg = load_string(ss.str());
  if (!cfg)
    return Error::config(fmt::format("{}: {}", path, cfg.error().message));
  return cfg;
}

int64_t Config::get_int(std::string_view name) const {
  const auto& spec = require(name);
  if (spec.type != ParamType::kInt)
    std::abort();
  return std::stoll(values_.find(name)->second);
}

double Config::get_double(std::string_view name) const {
  const auto& spec = require(name);
  if (spec.type != ParamType::kDouble)
    std::abort();
  return std::strtod(values_.find(name)->second.c_str(), nullptr);
}

bool Config::get_bool(std::string_view name) const {
  const auto& spec = require(name);
  if (spec.type != ParamType::kBool)
    std::abort();
  return values_.find(name)->second == "true";
}

const std::string& Config::get_string(std::string_view name) const {
  const auto& spec = require(name);
  if (spec.type != ParamType::kString)
    std::abort();
  return values_.find(name)->second;
}

std::string Config::dump_toml() const {
  // Dotted keys at top level keep the dump flat and greppable; TOML accepts them.
  std::string out = "# mailsift configuration (every parameter, current values)\n";
  for (const auto& p : all_params()) {
    const std::string& v = values_.find(p.name)->second;
    out += fmt::format("\n# {} ({}", p.description, type_name(p.type));
    if (p.type == ParamType::kInt || p.type == ParamType::kDouble) {
      out += fmt::format(", {} .. {}", p.min, p.max);
    }
    out +=
        fmt::format(", default {})\n", p.type == ParamType::kString ? toml_quote(p.default_value)
                                                                    : std::string(p.default_value));
    out += fmt::format("{} = {}\n", p.name, p.type == ParamType::kString ? toml_quote(v) : v);
  }
  return out;
}

std::string render_config_markdown() {
  std::string out =
      "# Configuration reference\n\n"
      "Generated from the parameter table in `src/core/config_params.cc` by\n"
      "`mailsift config-doc`; a test fails when this file and the table disagree.\n"
      "Values are set in a TOML file (`--config FILE`, dotted keys or tables) or with\n"
      "`--set name=value`; `mailsift --dump-config` prints the effective values.\n\n"
      "| name | type | default | bounds | description |\n|---|---|---|---|---|\n";
  for (const auto& p : all_params()) {
    std::string bounds = (p.type == ParamType::kInt || p.type == ParamType::kDouble)
                             ? fmt::format("{} .. {}", p.min, p.max)
                             : "";
    out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", p.name, type_name(p.type),
                       p.default_value, bounds, p.description);
  }
  return out;
}

int server_threads(const Config& config) {
  const int64_t configured = config.get_int("server.threads");
  if (configured > 0)
    return static_cast<int>(configured);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace mailsift
