#include "mime/message.h"

#include <openssl/evp.h>
#include <string.h>

#include <algorithm>
#include <bitset>
#include <exception>
#include <unordered_map>
#include <unordered_set>

#include "core/ascii.h"
#include "mime/charset.h"
#include "mime/codec.h"
#include "mime/extract.h"
#include "mime/facts.h"
#include "mime/text.h"

namespace mailsift::mime {
namespace {

using namespace detail;

// Recursion guard independent of caller-supplied limits.
constexpr size_t kHardMaxDepth = 64;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i]))
      return false;
  }
  return true;
}

bool istarts(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size())
    return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    if (ascii_lower(s[i]) != lower_prefix[i])
      return false;
  }
  return true;
}

struct Line {
  size_t end;   // index of the line break (or size)
  size_t next;  // start of the next line
  bool bare_cr;
};

Line line_at(std::string_view s, size_t pos) {
  const char* p = s.data();
  size_t n = s.size(), i = pos;
  while (i < n && p[i] != '\n' && p[i] != '\r')
    ++i;
  if (i >= n)
    return {n, n, false};
  if (p[i] == '\n')
    return {i, i + 1, false};
  if (i + 1 < n && p[i + 1] == '\n')
    return {i, i + 2, false};
  return {i, i + 1, true};
}

// Field-name characters (RFC 5322 ftext: printable ASCII except ':').
bool name_char(char c) {
  return c > 32 && c < 127 && c != ':';
}

// Stricter test for the very first line: "Name:" with a conventional name.
bool plausible_first_header(std::string_view s, size_t pos) {
  Line l = line_at(s, pos);
  size_t k = pos;
  while (k < l.end && k - pos < 100) {
    char c = s[k];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok)
      break;
    ++k;
  }
  if (k == pos)
    return false;
  while (k < l.end && (s[k] == ' ' || s[k] == '\t'))
    ++k;
  return k < l.end && s[k] == ':';
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

bool valid_media_type(std::string_view t) {
  size_t slash = t.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= t.size())
    return false;
  if (t.find('/', slash + 1) != std::string_view::npos)
    return false;
  for (char c : t) {
    if (c <= 32 || c >= 127 || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
        c == ';' || c == '<' || c == '>' || c == '@' || c == '[' || c == ']' || c == '\\' ||
        c == '?' || c == '=') {
      return false;
    }
  }
  return true;
}

// charset=... inside the first bytes of an HTML document (<meta charset> / http-equiv).
std::string html_meta_charset(std::string_view html) {
  std::string_view head = html.substr(0, 4096);
  size_t pos = 0;
  while (true) {
    size_t h = head.find("harset", pos);
    if (h == std::string_view::npos || h == 0)
      return {};
    pos = h + 6;
    if (ascii_lower(head[h - 1]) != 'c')
      continue;
    size_t i = h + 6;
    while (i < head.size() &&
           (head[i] == ' ' || head[i] == '=' || head[i] == '"' || head[i] == '\'')) {
      ++i;
    }
    size_t s = i;
    while (i < head.size() &&
           (std::isalnum(static_cast<unsigned char>(head[i])) || head[i] == '-' || head[i] == '_' ||
            head[i] == '.' || head[i] == ':')) {
      ++i;
    }
    if (i > s && i - s < 40)
      return ascii_lower(head.substr(s, i - s));
  }
}

class Parser {
 public:
  Parser(std::string_view raw, const Limits& limits, Message& msg)
      : raw_(raw), limits_(limits), msg_(msg) {
    max_depth_ = std::min(limits.max_depth, kHardMaxDepth);
  }

  void run(size_t start) {
    msg_.parts.reserve(8);
    parse_entity(raw_.substr(start), -1, 0, "text/plain", true);
    finish();
  }

 private:
  void fact(Fact f) {
    size_t i = static_cast<size_t>(f);
    if (facts_.test(i))
      return;
    facts_.set(i);
    msg_.facts.emplace_back(fact_name(f));
  }

  // --- headers -------------------------------------------------------------------------------

  struct Span {
    size_t name_begin, name_end, value_begin, value_end;
  };

  // Parses the header block at s[pos..]; returns where the body starts.
  size_t parse_headers(std::string_view s, size_t pos, int idx) {
    size_t n = s.size();
    size_t block_start = pos;
    std::vector<Span>& spans = spans_;
    spans.clear();
    bool have_current = false;
    bool collecting = true;
    size_t body = n;
    while (pos < n) {
      Line l = line_at(s, pos);
      if (l.bare_cr)
        fact(Fact::kMimeBareCr);
      if (l.end == pos) {
        body = l.next;
        break;
      }
      if (collecting && l.end - block_start > limits_.max_header_bytes) {
        fact(Fact::kHeaderTooBig);
        collecting = false;
        have_current = false;
      }
      char c = s[pos];
      if (c == ' ' || c == '\t') {
        if (have_current) {
          spans.back().value_end = l.end;
        } else if (collecting && spans.empty()) {
          fact(Fact::kHeaderMalformed);  // continuation with nothing to continue
        }
        pos = l.next;
        continue;
      }
      size_t k = pos;
      while (k < l.end && name_char(s[k]))
        ++k;
      size_t name_end = k;
      while (k < l.end && (s[k] == ' ' || s[k] == '\t'))
        ++k;
      if (name_end == pos || k >= l.end || s[k] != ':') {
        // Not a field: the header block ended without a blank line; the body starts here.
        fact(Fact::kHeaderMalformed);
        body = pos;
        break;
      }
      if (collecting && spans.size() >= limits_.max_headers) {
        fact(Fact::kHeaderTooMany);
        collecting = false;
      }
      if (collecting) {
        spans.push_back({pos, name_end, k + 1, l.end});
        have_current = true;
      } else {
        have_current = false;
      }
      pos = l.next;
    }
    std::vector<Header>& headers = msg_.parts[idx].headers;
    headers.reserve(spans.size());
    for (const Span& sp : spans) {
      Header h;
      h.name = s.substr(sp.name_begin, sp.name_end - sp.name_begin);
      h.raw_value = s.substr(sp.value_begin, sp.value_end - sp.value_begin);
      decode_value(h.raw_value, h.value);
      headers.push_back(std::move(h));
    }
    return body;
  }

  void decode_value(std::string_view raw, std::string& out) {
    bool folded = false, complex = false;
    for (char c : raw) {
      if (c == '\r' || c == '\n')
        folded = true;
      if (static_cast<unsigned char>(c) >= 0x80 || c == '?')
        complex = true;
    }
    std::string unfolded_buf;
    std::string_view v = raw;
    if (folded) {
      unfolded_buf = unfold(raw);
      v = unfolded_buf;
    }
    v = trim(v);
    if (!complex) {
      out.assign(v);
      return;
    }
    HeaderTextFlags flags;
    decode_header_text(v, out, flags);
    header_flags(flags);
  }

  void header_flags(const HeaderTextFlags& f) {
    if (f.broken_word)
      fact(Fact::kEncodedWordBroken);
    if (f.raw_8bit)
      fact(Fact::kHeader8BitRaw);
    if (f.unknown_charset)
      fact(Fact::kMimeUnknownCharset);
  }

  // --- entities ------------------------------------------------------------------------------

  int parse_entity(std::string_view s, int parent, size_t depth, std::string_view default_type,
                   bool top) {
    if (msg_.parts.size() >= limits_.max_parts) {
      fact(Fact::kMimeTooManyParts);
      return -1;
    }
    int idx = static_cast<int>(msg_.parts.size());
    msg_.parts.emplace_back();
    msg_.parts[idx].parent = parent;
    msg_.parts[idx].depth = static_cast<int>(depth);
    size_t body_pos = parse_headers(s, 0, idx);
    interpret_headers(idx, default_type, top);
    std::string_view body = body_pos < s.size() ? s.substr(body_pos) : std::string_view();
    msg_.parts[idx].raw_body = body;

    const std::string ct = msg_.parts[idx].content_type;
    if (ct.compare(0, 10, "multipart/") == 0) {
      if (msg_.parts[idx].boundary.empty()) {
        fact(Fact::kMimeBadBoundary);
        leaf(idx, "text/plain");
      } else if (depth + 1 > max_depth_) {
        fact(Fact::kMimeTooDeep);
        msg_.parts[idx].is_multipart = true;
      } else if (!split_multipart(idx, body, depth, ct == "multipart/digest")) {
        fact(Fact::kMimeBadBoundary);
        leaf(idx, "text/plain");
      }
      return idx;
    }
    if (ct == "message/rfc822" || ct == "message/global") {
      msg_.parts[idx].is_message = true;
      if (depth + 1 > max_depth_) {
        fact(Fact::kMimeTooDeep);
        return idx;
      }
      std::string_view inner = body;
      const std::string& cte = msg_.parts[idx].transfer_encoding;
      if (cte == "base64" || cte == "quoted-printable") {
        auto buf = std::make_shared<std::string>();
        bool ok = cte == "base64" ? decode_base64(body, *buf) : decode_qp(body, *buf);
        if (!ok)
          fact(cte == "base64" ? Fact::kMimeBadBase64 : Fact::kMimeBadQp);
        msg_.owned.push_back(buf);
        inner = *buf;
      }
      if (!inner.empty())
        parse_entity(inner, idx, depth + 1, "text/plain", false);
      return idx;
    }
    leaf(idx, ct);
    return idx;
  }

  void interpret_headers(int idx, std::string_view default_type, bool top) {
    Part& p = msg_.parts[idx];
    const Header* ctype = nullptr;
    const Header* cdisp = nullptr;
    const Header* cte = nullptr;
    for (const Header& h : p.headers) {
      std::string_view n = h.name;
      if (n.size() >= 8 && istarts(n, "content-")) {
        std::string_view rest = n.substr(8);
        if (!ctype && iequals(rest, "type"))
          ctype = &h;
        if (!cdisp && iequals(rest, "disposition"))
          cdisp = &h;
        if (!cte && iequals(rest, "transfer-encoding"))
          cte = &h;
      }
      if (top)
        count_top_header(n);
    }
    p.content_type.assign(default_type);
    std::string name_param;
    if (ctype) {
      HeaderTextFlags flags;
      StructuredField f = parse_structured(unfold(ctype->raw_value), flags);
      header_flags(flags);
      if (valid_media_type(f.value)) {
        p.content_type = std::move(f.value);
      } else {
        fact(Fact::kMimeBadContentType);
        p.content_type = "text/plain";
      }
      if (const std::string* v = f.get("charset"))
        p.charset = ascii_lower(trim(*v));
      if (const std::string* v = f.get("boundary"))
        p.boundary = *v;
      if (const std::string* v = f.get("name"))
        name_param = *v;
    }
    if (cdisp) {
      HeaderTextFlags flags;
      StructuredField f = parse_structured(unfold(cdisp->raw_value), flags);
      header_flags(flags);
      if (f.value == "inline" || f.value == "attachment")
        p.disposition = f.value;
      if (const std::string* v = f.get("filename"))
        p.filename = *v;
    }
    if (p.filename.empty())
      p.filename = std::move(name_param);
    if (p.filename.find("=?") != std::string::npos) {
      std::string decoded;
      HeaderTextFlags flags;
      decode_header_text(p.filename, decoded, flags);
      if (flags.unknown_charset)
        fact(Fact::kMimeUnknownCharset);
      p.filename = std::move(decoded);
    }
    if (cte) {
      std::string_view v = trim(cte->value);
      size_t cut = v.find_first_of(" \t;(");
      if (cut != std::string_view::npos)
        v = v.substr(0, cut);
      p.transfer_encoding = ascii_lower(v);
    }
  }

  void count_top_header(std::string_view n) {
    struct Tracked {
      std::string_view name;
      int slot;
    };
    static constexpr Tracked kTracked[] = {
        {"from", 0},         {"date", 1},   {"message-id", 2}, {"subject", 3}, {"to", 4},
        {"mime-version", 5}, {"sender", 6}, {"reply-to", 7},   {"cc", 8},      {"in-reply-to", 9},
    };
    if (n.size() < 2 || n.size() > 12)
      return;
    for (const auto& t : kTracked) {
      if (iequals(n, t.name)) {
        ++top_counts_[t.slot];
        return;
      }
    }
  }

  bool split_multipart(int idx, std::string_view body, size_t depth, bool digest) {
    const std::string delim = "--" + msg_.parts[idx].boundary;
    const size_t n = body.size();
    size_t pos = 0;
    bool found = false, closed = false;
    size_t content_start = 0;
    std::vector<std::pair<size_t, size_t>> segments;
    while (pos < n) {
      const void* hit = memmem(body.data() + pos, n - pos, delim.data(), delim.size());
      if (!hit)
        break;
      size_t d = static_cast<size_t>(static_cast<const char*>(hit) - body.data());
      pos = d + 1;
      if (d > 0 && body[d - 1] != '\n' && body[d - 1] != '\r')
        continue;
      size_t after = d + delim.size();
      bool is_close = body.substr(after, 2) == "--";
      Line l = line_at(body, after);
      if (!is_close) {
        bool ws_only = true;
        for (size_t k = after; k < l.end; ++k) {
          if (body[k] != ' ' && body[k] != '\t') {
            ws_only = false;
            break;
          }
        }
        if (!ws_only)
          continue;  // a longer boundary sharing this prefix
      }
      // The line break before a delimiter belongs to the delimiter.
      size_t cend = d;
      if (cend > 0 && body[cend - 1] == '\n') {
        --cend;
        if (cend > 0 && body[cend - 1] == '\r')
          --cend;
      } else if (cend > 0 && body[cend - 1] == '\r') {
        --cend;
      }
      if (!found) {
        msg_.parts[idx].preamble = body.substr(0, cend);
      } else {
        segments.emplace_back(content_start, std::max(cend, content_start));
      }
      found = true;
      if (is_close) {
        closed = true;
        msg_.parts[idx].epilogue = body.substr(l.next);
        break;
      }
      content_start = l.next;
      pos = l.next;
      if (segments.size() >= limits_.max_parts)
        break;
    }
    if (!found)
      return false;
    if (!closed) {
      fact(Fact::kMimeMissingEndBoundary);
      if (content_start <= n)
        segments.emplace_back(content_start, n);
    }
    msg_.parts[idx].is_multipart = true;
    std::string_view child_default = digest ? "message/rfc822" : "text/plain";
    for (const auto& seg : segments) {
      if (parse_entity(body.substr(seg.first, seg.second - seg.first), idx, depth + 1,
                       child_default, false) < 0) {
        break;
      }
    }
    return true;
  }

  // --- leaves --------------------------------------------------------------------------------

  void transfer_decode(Part& p) {
    const std::string& cte = p.transfer_encoding;
    if (cte.empty() || cte == "7bit" || cte == "8bit" || cte == "binary") {
      p.decoded.assign(p.raw_body);
    } else if (cte == "base64") {
      if (!decode_base64(p.raw_body, p.decoded))
        fact(Fact::kMimeBadBase64);
    } else if (cte == "quoted-printable") {
      if (!decode_qp(p.raw_body, p.decoded))
        fact(Fact::kMimeBadQp);
    } else if (cte == "x-uuencode" || cte == "uuencode" || cte == "x-uue") {
      if (!decode_uu(p.raw_body, p.decoded))
        p.decoded.assign(p.raw_body);
    } else {
      fact(Fact::kMimeUnknownEncoding);
      p.decoded.assign(p.raw_body);
    }
  }

  void leaf(int idx, std::string_view type) {
    Part& p = msg_.parts[idx];
    transfer_decode(p);
    bool attachment_disp = p.disposition == "attachment";
    bool textual = type.compare(0, 5, "text/") == 0 || type == "message/delivery-status" ||
                   type == "message/disposition-notification";
    if (textual && !attachment_disp) {
      extract_text(idx, type == "text/html");
    }
    if (attachment_disp || !msg_.parts[idx].filename.empty() || !textual) {
      add_attachment(idx);
    }
  }

  void extract_text(int idx, bool html) {
    Part& p = msg_.parts[idx];
    std::string_view bytes = p.decoded;
    bool truncated = false;
    // Bound the work: more raw bytes than this can never fit the output anyway.
    size_t max_in = limits_.max_text_bytes * (html ? 4 : 1) + 16;
    if (bytes.size() > max_in) {
      bytes = bytes.substr(0, max_in);
      truncated = true;
    }
    std::string charset = p.charset;
    bool declared = !charset.empty();
    if (html && !declared)
      charset = html_meta_charset(bytes);
    std::string utf8;
    ConvertStatus st = to_utf8(bytes, charset, utf8);
    if (st.unknown_charset && html && declared) {
      // A junk declared charset ("DEFAULT"): the document's own <meta> may know better.
      std::string meta = html_meta_charset(bytes);
      if (!meta.empty() && canonical_charset(meta) != canonical_charset(charset)) {
        std::string retry;
        ConvertStatus st2 = to_utf8(bytes, meta, retry);
        if (!st2.unknown_charset) {
          utf8 = std::move(retry);
          st.invalid = st2.invalid;
        }
      }
    }
    if (st.unknown_charset)
      fact(Fact::kMimeUnknownCharset);
    if (st.invalid)
      fact(declared || !charset.empty() ? Fact::kMimeCharsetLie : Fact::kMime8BitNoCharset);

    TextPart tp;
    tp.part = idx;
    tp.from_html = html;
    if (html) {
      HtmlText ht;
      html_to_text(utf8, limits_.max_text_bytes, limits_.max_urls, ht);
      tp.text = std::move(ht.text);
      tp.hidden_text = std::move(ht.hidden);
      truncated |= ht.truncated;
      if (ht.zero_width)
        fact(Fact::kTextZeroWidth);
      for (HtmlLink& link : ht.links)
        add_html_link(link);
      if (!trim(tp.hidden_text).empty())
        fact(Fact::kHtmlHiddenText);
    } else {
      TextBuilder b(tp.text, limits_.max_text_bytes);
      b.append(utf8, true);
      truncated |= b.truncated();
      if (b.saw_zero_width())
        fact(Fact::kTextZeroWidth);
    }
    if (truncated)
      fact(Fact::kTextTruncated);
    scan_text(tp.text, html);
    msg_.texts.push_back(std::move(tp));
  }

  void scan_text(std::string_view text, bool html) {
    if (msg_.urls.size() < limits_.max_urls) {
      scan_urls(text, [&](std::string_view u) {
        add_url(std::string(u), url_host(u), {}, html, false);
        return msg_.urls.size() < limits_.max_urls;
      });
    }
    if (msg_.emails.size() < limits_.max_emails) {
      scan_emails(text, [&](std::string_view e) {
        add_email(e);
        return msg_.emails.size() < limits_.max_emails;
      });
    }
  }

  void add_email(std::string_view e) {
    if (msg_.emails.size() >= limits_.max_emails)
      return;
    std::string addr = ascii_lower(e);
    if (email_seen_.insert(addr).second)
      msg_.emails.push_back(std::move(addr));
  }

  void add_url(std::string url, std::string host, std::string anchor, bool html, bool mismatch) {
    // Lower-case the scheme only.
    size_t colon = url.find("://");
    if (colon != std::string::npos && colon < 10) {
      for (size_t i = 0; i < colon; ++i)
        url[i] = ascii_lower(url[i]);
    }
    auto it = url_index_.find(url);
    if (it != url_index_.end()) {
      Url& u = msg_.urls[it->second];
      if (u.anchor_text.empty() && !anchor.empty())
        u.anchor_text = std::move(anchor);
      u.from_html |= html;
      u.text_mismatch |= mismatch;
      return;
    }
    if (msg_.urls.size() >= limits_.max_urls)
      return;
    url_index_.emplace(url, msg_.urls.size());
    Url u;
    u.url = std::move(url);
    u.host = std::move(host);
    u.anchor_text = std::move(anchor);
    u.from_html = html;
    u.text_mismatch = mismatch;
    msg_.urls.push_back(std::move(u));
  }

  void add_html_link(HtmlLink& link) {
    std::string_view url = trim(link.url);
    if (istarts(url, "mailto:")) {
      std::string_view addr = url.substr(7);
      size_t q = addr.find('?');
      if (q != std::string_view::npos)
        addr = addr.substr(0, q);
      addr = trim(addr);
      if (addr.find('@') != std::string_view::npos && addr.size() < 320)
        add_email(addr);
      return;
    }
    if (!(istarts(url, "http://") || istarts(url, "https://") || istarts(url, "ftp://") ||
          istarts(url, "www."))) {
      return;  // relative, cid:, javascript:, data: ...
    }
    std::string host = url_host(url);
    bool mismatch = false;
    if (!link.image && !link.anchor_text.empty() && !host.empty()) {
      std::string shown = displayed_host(link.anchor_text);
      if (!shown.empty() && hosts_differ(shown, host)) {
        mismatch = true;
        fact(Fact::kHtmlLinkMismatch);
      }
    }
    add_url(std::string(url), std::move(host), std::move(link.anchor_text), true, mismatch);
  }

  void add_attachment(int idx) {
    const Part& p = msg_.parts[idx];
    Attachment a;
    a.part = idx;
    a.filename = p.filename;
    a.declared_type = p.content_type;
    a.sniffed_type = sniff_type(p.decoded);
    a.size = p.decoded.size();
    a.sha256 = sha256_hex(p.decoded);
    bool exec = is_executable_type(a.sniffed_type) || is_executable_extension(a.filename);
    if (exec)
      fact(Fact::kAttachmentExecutable);
    std::string_view sniffed_cls = type_class(a.sniffed_type);
    if (a.sniffed_type.find("openxmlformats") != std::string::npos)
      sniffed_cls = "zip";
    if (a.sniffed_type == "application/x-mach-binary")
      sniffed_cls = "exe";
    if (!sniffed_cls.empty()) {
      std::string_view ext_cls = extension_class(a.filename);
      std::string_view decl_cls = type_class(a.declared_type);
      bool bad_ext = !ext_cls.empty() && ext_cls != sniffed_cls;
      bool bad_decl = !decl_cls.empty() && decl_cls != sniffed_cls;
      bool has_ext = a.filename.find('.') != std::string::npos;
      bool exe_in_disguise = (sniffed_cls == "exe" || sniffed_cls == "elf") && has_ext &&
                             !is_executable_extension(a.filename);
      if (bad_ext || bad_decl || exe_in_disguise)
        fact(Fact::kAttachmentTypeMismatch);
    }
    msg_.attachments.push_back(std::move(a));
  }

  // --- whole-message facts -------------------------------------------------------------------

  void finish() {
    if (top_counts_[0] == 0)
      fact(Fact::kMissingFrom);
    if (top_counts_[1] == 0)
      fact(Fact::kMissingDate);
    if (top_counts_[2] == 0)
      fact(Fact::kMissingMessageId);
    if (top_counts_[3] == 0)
      fact(Fact::kMissingSubject);
    if (top_counts_[4] == 0)
      fact(Fact::kMissingTo);
    for (int slot : {0, 1, 2, 3, 4, 6, 7, 9}) {
      if (top_counts_[slot] > 1)
        fact(Fact::kHeaderDuplicate);
    }
    if (top_counts_[5] == 0 && !msg_.parts.empty()) {
      const Part& root = msg_.parts[0];
      bool has_ctype = false;
      for (const Header& h : root.headers) {
        if (iequals(h.name, "content-type"))
          has_ctype = true;
      }
      bool mime_used = root.is_multipart || root.is_message || root.transfer_encoding == "base64" ||
                       root.transfer_encoding == "quoted-printable" ||
                       (has_ctype && root.content_type != "text/plain");
      if (mime_used)
        fact(Fact::kMimeMissingMimeVersion);
    }
    bool html = false, plain = false;
    for (const TextPart& t : msg_.texts) {
      if (t.from_html) {
        html = true;
      } else if (!trim(t.text).empty()) {
        plain = true;
      }
    }
    if (html && !plain)
      fact(Fact::kHtmlOnly);
  }

  std::string_view raw_;
  const Limits& limits_;
  Message& msg_;
  size_t max_depth_;
  std::bitset<static_cast<size_t>(Fact::kCount)> facts_;
  int top_counts_[10] = {};
  std::vector<Span> spans_;
  std::unordered_map<std::string, size_t> url_index_;
  std::unordered_set<std::string> email_seen_;
};

}  // namespace

const Header* Message::header(std::string_view name) const {
  if (parts.empty())
    return nullptr;
  for (const Header& h : parts[0].headers) {
    if (iequals(h.name, name))
      return &h;
  }
  return nullptr;
}

std::vector<const Header*> Message::headers(std::string_view name) const {
  std::vector<const Header*> out;
  if (parts.empty())
    return out;
  for (const Header& h : parts[0].headers) {
    if (iequals(h.name, name))
      out.push_back(&h);
  }
  return out;
}

std::string Message::subject() const {
  const Header* h = header("Subject");
  return h ? h->value : std::string();
}

bool Message::has_fact(std::string_view fact) const {
  return std::find(facts.begin(), facts.end(), fact) != facts.end();
}

Result<Message> parse(std::string_view raw, const Limits& limits) {
  if (raw.empty())
    return Error::malformed("empty input");
  if (raw.size() > limits.max_message_bytes) {
    return Error::malformed("message larger than max_message_bytes");
  }
  size_t start = 0;
  if (raw.substr(0, 5) == "From ")
    start = line_at(raw, 0).next;  // mbox separator line
  if (!plausible_first_header(raw, start)) {
    return Error::malformed("no RFC 5322 header block");
  }
  try {
    Message msg;
    msg.raw = raw;
    Parser parser(raw, limits, msg);
    parser.run(start);
    return msg;
  } catch (const std::exception& e) {  // only std::bad_alloc is expected here
    return Error::malformed(std::string("parse failed: ") + e.what());
  }
}

std::string extract_address(std::string_view v) {
  auto clean = [](std::string_view a) {
    a = trim(a);
    if (istarts(a, "mailto:"))
      a.remove_prefix(7);
    while (!a.empty() && (a.front() == '<' || a.front() == '"' || a.front() == '\'')) {
      a.remove_prefix(1);
    }
    while (!a.empty() && (a.back() == '>' || a.back() == '"' || a.back() == '\'' ||
                          a.back() == ',' || a.back() == ';' || a.back() == '.')) {
      a.remove_suffix(1);
    }
    return ascii_lower(trim(a));
  };
  // Pass 1: first <addr-spec> outside quotes and comments.
  std::string plain;  // the value with quoted strings and comments removed
  plain.reserve(v.size());
  bool in_quote = false;
  int comment = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && (in_quote || comment) && i + 1 < v.size()) {
      ++i;
      continue;
    }
    if (comment) {
      if (c == '(')
        ++comment;
      if (c == ')')
        --comment;
      continue;
    }
    if (c == '"') {
      in_quote = !in_quote;
      plain.push_back(' ');
      continue;
    }
    if (in_quote)
      continue;
    if (c == '(') {
      comment = 1;
      plain.push_back(' ');
      continue;
    }
    if (c == '<') {
      size_t close = v.find('>', i + 1);
      std::string_view inside =
          v.substr(i + 1, close == std::string_view::npos ? std::string_view::npos : close - i - 1);
      if (inside.find('@') != std::string_view::npos) {
        // Source routes "<@a,@b:user@host>" keep only the mailbox.
        size_t route = inside.rfind(':');
        if (!inside.empty() && inside[0] == '@' && route != std::string_view::npos) {
          inside = inside.substr(route + 1);
        }
        return clean(inside);
      }
    }
    plain.push_back(c);
  }
  // Pass 2: first bare token containing '@'.
  std::string_view p = plain;
  size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && (p[i] == ' ' || p[i] == '\t' || p[i] == ',' || p[i] == ';'))
      ++i;
    size_t s = i;
    while (i < p.size() && p[i] != ' ' && p[i] != '\t' && p[i] != ',' && p[i] != ';')
      ++i;
    std::string_view tok = p.substr(s, i - s);
    size_t at = tok.find('@');
    if (at != std::string_view::npos && at > 0 && at + 1 < tok.size())
      return clean(tok);
  }
  return {};
}

std::string_view address_domain(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos)
    return {};
  std::string_view d = address.substr(at + 1);
  while (!d.empty() &&
         (d.back() == '>' || d.back() == ' ' || d.back() == '.' || d.back() == '\t')) {
    d.remove_suffix(1);
  }
  return d;
}

}  // namespace mailsift::mime
