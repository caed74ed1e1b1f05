// mailsift::mime codecs (internal to the MIME parser).
//
// Owns: transfer decoders (base64, quoted-printable, uuencode), header unfolding, RFC 2047
// encoded-word decoding and structured-field parameter parsing with RFC 2231.
//
// Never fails: every decoder is tolerant, decodes what it can and reports problems in flags.
// SECURITY: reads untrusted bytes; output is never larger than the input (decoders) or a small
// multiple of it (charset conversion); parameter counts are capped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsift::mime::detail {

// Returns false if junk characters or a dangling quantum were seen.
bool decode_base64(std::string_view in, std::string& out);
// Returns false if a '=' was not followed by two hex digits or a line break.
bool decode_qp(std::string_view in, std::string& out);
// Decodes the first "begin ... end" block; returns false if none was found.
bool decode_uu(std::string_view in, std::string& out);

// Removes folding line breaks (CRLF, LF or CR followed by whitespace keeps the whitespace).
std::string unfold(std::string_view raw);
std::string_view trim(std::string_view s);

struct HeaderTextFlags {
  bool broken_word = false;      // malformed RFC 2047 word left literal
  bool unknown_charset = false;  // an encoded word used an unknown charset
  bool raw_8bit = false;         // raw 8-bit bytes outside encoded words
};
// Unfolded header text -> UTF-8 (RFC 2047 words decoded, raw 8-bit read as UTF-8/cp1252).
void decode_header_text(std::string_view unfolded, std::string& out, HeaderTextFlags& flags);

struct Param {
  std::string name;   // lower-case, without RFC 2231 "*N*" suffixes
  std::string value;  // RFC 2231 segments joined and decoded to UTF-8; quotes removed
};
struct StructuredField {
  std::string value;          // lower-case main value, comments removed ("text/html")
  std::vector<Param> params;  // in order of first appearance
  const std::string* get(std::string_view name) const;
};
// Parses "value; a=b; c*0*=utf-8''%41; d=\"q\"" (input already unfolded). Garbage tolerated.
StructuredField parse_structured(std::string_view unfolded, HeaderTextFlags& flags);

}  // namespace mailsift::mime::detail
