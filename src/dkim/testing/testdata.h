// Test helpers for the DKIM and ARC tests: paths into ../shared/testdata and the stalwart
// "DNS lines, empty line, message" file format. Tests only.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "dns/testing/fake_resolver.h"

namespace mailsift::dkim::testing {

// ${MAILSIFT_SOURCE_DIR}/../shared/testdata/<rel>
inline std::string shared(const std::string& rel) {
  const char* env = std::getenv("MAILSIFT_SOURCE_DIR");
  return std::string(env ? env : MAILSIFT_SOURCE_DIR) + "/../shared/testdata/" + rel;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// First line of a one-record file, without its line end.
inline std::string read_line(const std::string& path) {
  std::string s = read_file(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
    s.pop_back();
  return s;
}

// stalwart-mail-auth resources: "name TXT-value" lines, an empty line, then the message (LF line
// ends, which dkim reads as CRLF). Serves the lines from `dns`; returns the message.
inline std::string load_stalwart(const std::string& path, dns::testing::FakeResolver& dns) {
  std::string text = read_file(path);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    if (line.empty())
      break;
    size_t sp = line.find(' ');
    dns.add(line.substr(0, sp), dns::RType::kTXT, line.substr(sp + 1));
  }
  return text.substr(pos);
}

}  // namespace mailsift::dkim::testing
