// mailsift::server raw header scan — the top-level header fields of a message as bytes.
//
// Owns: a small, bounded scan of the header block (up to the first empty line) for the few
// fields the service needs verbatim: Subject (to prefix a tag without re-encoding it),
// Message-ID (for the decision log) and our own header names (forged copies). Full MIME
// parsing stays in src/mime.
//
// Failure semantics: never fails; a line without a colon ends nothing and is skipped, a header
// block without an end is read to the end of the input.
// SECURITY: reads untrusted bytes; output is bounded by the input size.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsift::server {

struct RawHeader {
  std::string name;
  // Value without the leading white space; folds kept as "\n" + the fold's white space (never
  // CR), so it can be sent back to the MTA as a header value.
  std::string value;
};

std::vector<RawHeader> raw_headers(std::string_view message);
// First field with that name (case-insensitive), or nullptr.
const RawHeader* find_raw_header(const std::vector<RawHeader>& headers, std::string_view name);

}  // namespace mailsift::server
