// mailsift::mime — the RFC 5322 / MIME model of one message, built for a filter.
//
// Owns: parsing raw message bytes into headers, a part tree, decoded UTF-8 text, HTML-derived
// text, URLs, e-mail addresses, attachment metadata and named anomaly facts.
//
// Zero-copy where it can: Header::name / raw_value and Part::raw_body are views into the input
// buffer, which the caller must keep alive as long as the Message. Decoded content is owned.
//
// Bounded: every limit in Limits is enforced; hitting one stops descent/collection and records a
// fact (e.g. MIME_TOO_MANY_PARTS) — it never fails the parse. Tolerant: broken mail yields a
// Message plus facts. parse() returns an error only for input that is not mail at all (empty, or
// no header block that looks like RFC 5322) or over max_message_bytes; then kind is kMalformed.
//
// SECURITY: reads untrusted bytes. Fuzzed by mime_fuzz.cc (seeds in corpus/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::mime {

struct Limits {
  size_t max_message_bytes = 64u << 20;  // larger input is refused (kMalformed)
  size_t max_header_bytes = 1u << 20;    // whole header block of one entity
  size_t max_headers = 2000;             // per entity
  size_t max_depth = 16;                 // multipart / message/rfc822 nesting
  size_t max_parts = 1000;               // entities in the whole tree
  size_t max_text_bytes = 4u << 20;      // decoded text kept per part (rest truncated + fact)
  size_t max_urls = 2000;
  size_t max_emails = 1000;  // addresses collected from bodies
};

struct Header {
  std::string_view name;       // as written, e.g. "Content-Type" (view into input)
  std::string_view raw_value;  // after the colon, folded, undecoded (view into input)
  std::string value;           // unfolded, RFC 2047 decoded to UTF-8, trimmed
};

// One entity in the tree. Index 0 is the top-level message.
struct Part {
  int parent = -1;  // index into Message::parts, -1 for the root
  int depth = 0;
  std::vector<Header> headers;
  std::string content_type;       // lower-case "type/subtype"; "text/plain" when absent
  std::string charset;            // lower-case declared charset, "" if none
  std::string boundary;           // for multipart
  std::string transfer_encoding;  // lower-case, "" if none
  std::string disposition;        // "inline", "attachment" or ""
  std::string filename;           // RFC 2231 / RFC 2047 decoded, UTF-8
  std::string_view raw_body;      // undecoded body bytes (view into input)
  std::string decoded;            // transfer-decoded bytes (leaves only; may be binary)
  bool is_multipart = false;
  bool is_message = false;    // message/rfc822 container
  std::string_view preamble;  // multipart only: text before the first delimiter (view)
  std::string_view epilogue;  // multipart only: text after the close delimiter (view)
};

struct TextPart {
  int part = -1;            // index into Message::parts
  bool from_html = false;   // text extracted from text/html
  std::string text;         // UTF-8 visible text, whitespace collapsed
  std::string hidden_text;  // HTML text the reader would not see (display:none, tiny/same-colour)
};

struct Url {
  std::string url;          // as found, trimmed; scheme lower-cased
  std::string host;         // lower-case host (IDN left as is), "" if none
  std::string anchor_text;  // visible link text for <a href>, "" otherwise
  bool from_html = false;
  bool text_mismatch = false;  // anchor text shows a different host than the target
};

struct Attachment {
  int part = -1;
  std::string filename;
  std::string declared_type;  // from Content-Type
  std::string sniffed_type;   // from magic bytes, "" if unknown
  size_t size = 0;            // decoded size
  std::string sha256;         // hex of decoded bytes
};

struct Message {
  std::string_view raw;             // the whole input (view)
  std::vector<Part> parts;          // parts[0] is the message itself
  std::vector<TextPart> texts;      // readable text, in document order
  std::vector<Url> urls;            // de-duplicated by url text, document order
  std::vector<std::string> emails;  // addresses seen in bodies, lower-case, de-duplicated
  std::vector<Attachment> attachments;
  std::vector<std::string> facts;  // anomaly names, e.g. "MIME_BAD_BOUNDARY"; each at most once
                                   // (the full list is in mime/facts.h)
  // Buffers owned by the message that Part views may point into (a base64-encoded
  // message/rfc822 is decoded here before its inner entity is parsed). Shared so copies of a
  // Message stay valid.
  std::vector<std::shared_ptr<const std::string>> owned;

  // Convenience over parts[0].headers.
  const Header* header(std::string_view name) const;                // first, case-insensitive
  std::vector<const Header*> headers(std::string_view name) const;  // all, in order
  std::string subject() const;                                      // decoded, "" if absent
  bool has_fact(std::string_view fact) const;
};

// Never throws. See file comment for when it returns an error.
Result<Message> parse(std::string_view raw, const Limits& limits = {});

// Address-spec from a header such as From/To/Reply-To ("Name <a@b>" → "a@b"), lower-case,
// "" if none found. Tolerates garbage.
std::string extract_address(std::string_view header_value);
// Domain part of an address ("" if none): a view into `address`, so it is lower-case when the
// address came from extract_address().
std::string_view address_domain(std::string_view address);

}  // namespace mailsift::mime
