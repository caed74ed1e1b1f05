#include "mime/facts.h"

namespace mailsift::mime {

const std::vector<FactInfo>& all_facts() {
  static const std::vector<FactInfo> kFacts = {
      {"MISSING_FROM", "top-level header block has no From field"},
      {"MISSING_DATE", "top-level header block has no Date field"},
      {"MISSING_MESSAGE_ID", "top-level header block has no Message-ID field"},
      {"MISSING_SUBJECT", "top-level header block has no Subject field"},
      {"MISSING_TO", "top-level header block has no To field"},
      {"HEADER_TOO_BIG", "a header block exceeded Limits::max_header_bytes; the rest was skipped"},
      {"HEADER_TOO_MANY", "a header block exceeded Limits::max_headers; the rest was skipped"},
      {"HEADER_MALFORMED",
       "a line in a header block is neither a field nor a continuation (header block ended "
       "there)"},
      {"HEADER_DUPLICATE", "a field that RFC 5322 allows once (From, Date, Subject, ...) repeats"},
      {"HEADER_8BIT_RAW", "raw 8-bit bytes in a header (read as UTF-8 if valid, else cp1252)"},
      {"ENCODED_WORD_BROKEN", "an RFC 2047 encoded word is malformed (left as literal text)"},
      {"MIME_MISSING_MIME_VERSION", "MIME structure or encoding used without MIME-Version"},
      {"MIME_BAD_CONTENT_TYPE", "Content-Type is not type/subtype; treated as text/plain"},
      {"MIME_BAD_BOUNDARY",
       "multipart without a boundary parameter, or its boundary never occurs in the body"},
      {"MIME_MISSING_END_BOUNDARY", "multipart body ends without its close delimiter"},
      {"MIME_TOO_DEEP", "nesting exceeded Limits::max_depth; deeper entities were not parsed"},
      {"MIME_TOO_MANY_PARTS", "entities exceeded Limits::max_parts; the rest were not parsed"},
      {"MIME_UNKNOWN_ENCODING", "unknown Content-Transfer-Encoding; body taken as is"},
      {"MIME_BAD_BASE64", "base64 body contains junk characters or a truncated quantum"},
      {"MIME_BAD_QP", "quoted-printable body contains '=' not followed by two hex digits"},
      {"MIME_CHARSET_LIE", "text bytes are not valid in the declared charset"},
      {"MIME_UNKNOWN_CHARSET", "declared charset is unknown; decoded as windows-1252"},
      {"MIME_8BIT_NO_CHARSET", "8-bit text in a part that declares no charset"},
      {"MIME_BARE_CR", "bare CR line endings in the header block"},
      {"TEXT_TRUNCATED", "decoded text exceeded Limits::max_text_bytes and was cut"},
      {"TEXT_ZERO_WIDTH", "zero-width or soft-hyphen characters inside text (removed)"},
      {"HTML_ONLY", "HTML text without a text/plain alternative"},
      {"HTML_HIDDEN_TEXT",
       "HTML text the reader would not see (display:none, visibility:hidden, tiny font, text "
       "colour equal to background)"},
      {"HTML_LINK_MISMATCH", "anchor text shows a host different from the link target host"},
      {"ATTACHMENT_TYPE_MISMATCH",
       "attachment bytes do not match its file name extension or declared type"},
      {"ATTACHMENT_EXECUTABLE",
       "attachment is an executable or script (by magic bytes or file name extension)"},
  };
  return kFacts;
}

std::string_view fact_name(Fact fact) {
  return all_facts()[static_cast<size_t>(fact)].name;
}

bool is_known_fact(std::string_view name) {
  for (const auto& f : all_facts()) {
    if (f.name == name)
      return true;
  }
  return false;
}

}  // namespace mailsift::mime
