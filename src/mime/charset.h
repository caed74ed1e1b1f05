// mailsift::mime charset conversion (internal to the MIME parser).
//
// Owns: conversion of text bytes in a declared charset to UTF-8. us-ascii, UTF-8, latin1 and
// windows-1252 are handled in-house (the common case, no iconv call); everything else goes
// through glibc iconv with one cached iconv_t per charset per thread.
//
// Never fails: invalid bytes become U+FFFD and are reported, an unknown charset falls back to
// UTF-8 (if the bytes are valid UTF-8) or windows-1252 and is reported.
// SECURITY: reads untrusted bytes; output size is bounded by a small multiple of the input.
#pragma once

#include <string>
#include <string_view>

namespace mailsift::mime::detail {

struct ConvertStatus {
  bool invalid = false;          // bytes not valid in the declared charset (a "charset lie")
  bool unknown_charset = false;  // charset name not recognised
  bool eight_bit = false;        // input contained bytes >= 0x80
};

// Appends the UTF-8 form of `in`, declared as `charset` (any case, may be empty = us-ascii).
ConvertStatus to_utf8(std::string_view in, std::string_view charset, std::string& out);

// Canonical lower-case name after aliasing ("latin1" -> "windows-1252", "gb2312" -> "gb18030").
std::string canonical_charset(std::string_view charset);

// True when every byte is < 0x80.
bool is_ascii(std::string_view s);
// Appends s with invalid UTF-8 sequences replaced by U+FFFD; returns false if any were invalid.
bool append_utf8_sanitized(std::string_view s, std::string& out);
bool is_valid_utf8(std::string_view s);
void append_cp1252(std::string_view s, std::string& out);
void append_codepoint(uint32_t cp, std::string& out);
// 8-bit text of unknown origin: UTF-8 if valid, else windows-1252.
void append_guess(std::string_view s, std::string& out);

}  // namespace mailsift::mime::detail
