#include "scan/verdict_json.h"

#include <charconv>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace mailsift::scan {
namespace {

using json = nlohmann::json;

// The validity nlohmann's dump() enforces: well-formed UTF-8, no overlong forms, no surrogates,
// nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0)
        lo = 0xA0;  // overlong
      if (c == 0xED)
        hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0)
        lo = 0x90;  // overlong
      if (c == 0xF4)
        hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
      return false;
    for (size_t k = 2; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80)
        return false;
    i += len;
  }
  return true;
}

bool all_valid(std::string_view path, const Verdict& v) {
  if (!valid_utf8(path) || !valid_utf8(v.digest))
    return false;
  for (const Symbol& s : v.symbols)
    if (!valid_utf8(s.name) || !valid_utf8(s.description) || !valid_utf8(s.detail))
      return false;
  for (const std::string& f : v.facts)
    if (!valid_utf8(f))
      return false;
  for (const Error& e : v.errors)
    if (!valid_utf8(e.message))
      return false;
  return true;
}

// Escaped as nlohmann's serializer does with ensure_ascii off: the two-character escapes,
// \u00xx (lower-case hex) for the other control characters, every other byte as is.
void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out.push_back('\\');
    switch (c) {
      case '\b':
        out.push_back('b');
        break;
      case '\t':
        out.push_back('t');
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\f':
        out.push_back('f');
        break;
      case '\r':
        out.push_back('r');
        break;
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      default:
        out.append("u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

// nlohmann's own float formatting (Grisu2, "null" for NaN/inf), so scores print as before.
void append_double(std::string& out, double d) {
  out += json(d).dump();
}

void append_int(std::string& out, int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_key(std::string& out, std::string_view key) {
  out.push_back('"');
  out.append(key);
  out.append("\":");
}

// The nlohmann tree, for the rare verdict with a string that is not UTF-8: dump() throws.
json verdict_tree(std::string_view path, const Verdict& v) {
  json symbols(json::value_t::array);
  for (const auto& s : v.symbols) {
    json& j = symbols.emplace_back(json::value_t::object);
    j["name"] = s.name;
    j["score"] = s.score;
    j["description"] = s.description;
    if (!s.detail.empty())
      j["detail"] = s.detail;
  }
  json errors(json::value_t::array);
  for (const auto& e : v.errors) {
    json& j = errors.emplace_back(json::value_t::object);
    j["kind"] = to_string(e.kind);
    j["message"] = e.message;
  }
  json out(json::value_t::object);
  out["path"] = path;
  out["score"] = v.score;
  out["required_score"] = v.required_score;
  out["action"] = to_string(v.action);
  out["is_spam"] = v.is_spam();
  out["spam_probability"] = v.spam_probability ? json(*v.spam_probability) : json(nullptr);
  out["symbols"] = std::move(symbols);
  out["facts"] = v.facts;
  out["errors"] = std::move(errors);
  out["digest"] = v.digest;
  out["elapsed_us"] = v.elapsed_us;
  return out;
}

}  // namespace

void append_verdict_json(std::string& out, std::string_view path, const Verdict& v) {
  if (!all_valid(path, v)) {
    out += verdict_tree(path, v).dump();
    return;
  }
  // Keys in the byte order nlohmann's std::map keeps them in.
  out.push_back('{');
  append_key(out, "action");
  append_string(out, to_string(v.action));
  out.push_back(',');
  append_key(out, "digest");
  append_string(out, v.digest);
  out.push_back(',');
  append_key(out, "elapsed_us");
  append_int(out, v.elapsed_us);
  out.push_back(',');
  append_key(out, "errors");
  out.push_back('[');
  for (size_t i = 0; i < v.errors.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    out.push_back('{');
    append_key(out, "kind");
    append_string(out, to_string(v.errors[i].kind));
    out.push_back(',');
    append_key(out, "message");
    append_string(out, v.errors[i].message);
    out.push_back('}');
  }
  out.append("],");
  append_key(out, "facts");
  out.push_back('[');
  for (size_t i = 0; i < v.facts.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    append_string(out, v.facts[i]);
  }
  out.append("],");
  append_key(out, "is_spam");
  out.append(v.is_spam() ? "true" : "false");
  out.push_back(',');
  append_key(out, "path");
  append_string(out, path);
  out.push_back(',');
  append_key(out, "required_score");
  append_double(out, v.required_score);
  out.push_back(',');
  append_key(out, "score");
  append_double(out, v.score);
  out.push_back(',');
  append_key(out, "spam_probability");
  if (v.spam_probability)
    append_double(out, *v.spam_probability);
  else
    out.append("null");
  out.push_back(',');
  append_key(out, "symbols");
  out.push_back('[');
  for (size_t i = 0; i < v.symbols.size(); ++i) {
    const Symbol& s = v.symbols[i];
    if (i > 0)
      out.push_back(',');
    out.push_back('{');
    append_key(out, "description");
    append_string(out, s.description);
    out.push_back(',');
    if (!s.detail.empty()) {
      append_key(out, "detail");
      append_string(out, s.detail);
      out.push_back(',');
    }
    append_key(out, "name");
    append_string(out, s.name);
    out.push_back(',');
    append_key(out, "score");
    append_double(out, s.score);
    out.push_back('}');
  }
  out.append("]}");
}

}  // namespace mailsift::scan
