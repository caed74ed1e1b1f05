// mailsift ASCII case folding — the one lower-casing every protocol field uses.
//
// Owns: ascii_lower for a byte and for a string. Mail's case-insensitivity (header names, domain
// names, SMTP verbs, DNS, tags) is ASCII's; bytes >= 0x80 are left as they are, independent of the
// process locale, so every node and every backend agree. Failure semantics: none.
#pragma once

#include <string>
#include <string_view>

namespace mailsift {

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = ascii_lower(c);
  return out;
}

}  // namespace mailsift
