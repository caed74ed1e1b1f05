// mailsift::mime text helpers (internal): whitespace-collapsing text builder, HTML to text.
//
// Owns: turning decoded UTF-8 plain text or HTML into the visible text a reader would see, the
// text a reader would not see (hidden HTML), and the links of an HTML document.
//
// Never fails; output is bounded by max_bytes (truncation is reported) and links by max_links.
// SECURITY: reads untrusted HTML with a hand-written single-pass scanner: no recursion, element
// stack capped, every loop advances.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::mime::detail {

// Appends text with whitespace collapsed; zero-width characters are dropped (and reported).
class TextBuilder {
 public:
  TextBuilder(std::string& out, size_t max_bytes) : out_(out), max_(max_bytes) {}
  // keep_newlines: plain text keeps line structure (runs of blank lines collapse to one).
  void append(std::string_view utf8, bool keep_newlines);
  void space() {
    if (!pending_space_ && pending_newlines_ == 0)
      pending_space_ = true;
  }
  void newline(int count = 1);
  bool truncated() const { return truncated_; }
  bool saw_zero_width() const { return zero_width_; }

 private:
  void flush_pending();
  void emit(const char* p, size_t n);
  std::string& out_;
  size_t max_;
  bool pending_space_ = false;
  int pending_newlines_ = 0;
  bool truncated_ = false;
  bool zero_width_ = false;
};

struct HtmlLink {
  std::string url;          // attribute value, entities decoded, trimmed
  std::string anchor_text;  // visible text inside <a>, collapsed; "" for images
  bool image = false;       // img src / background
};

struct HtmlText {
  std::string text;
  std::string hidden;
  std::vector<HtmlLink> links;
  bool truncated = false;
  bool zero_width = false;
};

void html_to_text(std::string_view html, size_t max_bytes, size_t max_links, HtmlText& out);

// Decodes one entity starting at s[0] == '&'. Returns bytes consumed (0 if not an entity).
size_t decode_entity(std::string_view s, std::string& out);

}  // namespace mailsift::mime::detail
