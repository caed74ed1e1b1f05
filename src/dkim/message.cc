// Raw message split, tag lists, canonicalisation and header selection (RFC 6376 §3.2, §3.4,
// §5.4.2). Everything works on the exact received bytes: no MIME decoding, no header unfolding
// except where relaxed canonicalisation asks for it.
#include <algorithm>
#include <cctype>
#include <set>

#include "core/ascii.h"
#include "dkim/internal.h"

namespace mailsift::dkim::detail {
namespace {

bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}
bool is_fws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// True if some LF is not preceded by CR.
bool has_bare_lf(std::string_view s) {
  for (size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1)) {
    if (i == 0 || s[i - 1] != '\r')
      return true;
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view trim_fws(std::string_view s) {
  while (!s.empty() && is_fws(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string remove_fws(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (!is_fws(c))
      out.push_back(c);
  }
  return out;
}

Message parse_message(std::string_view raw) {
  Message msg;
  if (has_bare_lf(raw)) {
    msg.owned = std::make_unique<std::string>();
    msg.owned->reserve(raw.size() + raw.size() / 32);
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
        msg.owned->push_back('\r');
      msg.owned->push_back(raw[i]);
    }
    raw = *msg.owned;
  }
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find("\r\n", pos);
    size_t line_end = eol == std::string_view::npos ? raw.size() : eol + 2;
    if (eol == pos) {  // the empty line: the body follows
      msg.body = raw.substr(pos + 2);
      return msg;
    }
    if (is_wsp(raw[pos])) {
      // A continuation line without a field to continue: not a header field. Skipped, so a
      // broken first line cannot shift the body.
      pos = line_end;
      continue;
    }
    // The field runs while following lines start with WSP.
    size_t end = line_end;
    while (end < raw.size() && is_wsp(raw[end])) {
      size_t e = raw.find("\r\n", end);
      end = e == std::string_view::npos ? raw.size() : e + 2;
    }
    std::string_view field = raw.substr(pos, end - pos);
    size_t colon = field.find(':');
    std::string_view name =
        colon == std::string_view::npos ? std::string_view() : field.substr(0, colon);
    while (!name.empty() && is_wsp(name.back()))
      name.remove_suffix(1);
    msg.headers.push_back({name, field});
    pos = end;
  }
  return msg;
}

// ---- tag lists -----------------------------------------------------------------------------

Result<std::vector<Tag>> parse_tag_list(std::string_view text) {
  std::vector<Tag> tags;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t semi = text.find(';', pos);
    std::string_view spec =
        text.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    std::string_view trimmed = trim_fws(spec);
    if (trimmed.empty()) {
      // Only a trailing ";" (and FWS) is allowed to leave an empty spec.
      if (semi == std::string_view::npos)
        break;
      if (!trim_fws(text.substr(semi + 1)).empty() || tags.empty())
        return Error::malformed("empty tag-spec");
      break;
    }
    size_t eq = trimmed.find('=');
    if (eq == std::string_view::npos)
      return Error::malformed("tag without '='");
    std::string_view name = trim_fws(trimmed.substr(0, eq));
    std::string_view value = trim_fws(trimmed.substr(eq + 1));
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0])))
      return Error::malformed("bad tag name");
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
        return Error::malformed("bad tag name");
    }
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && !is_fws(c)) || u == 0x7f)
        return Error::malformed("control character in tag value");
    }
    for (const auto& t : tags) {
      if (t.name == name)
        return Error::malformed("duplicate tag " + std::string(name));
    }
    tags.push_back({name, value});
    if (semi == std::string_view::npos)
      break;
    pos = semi + 1;
  }
  return tags;
}

const Tag* find_tag(const std::vector<Tag>& tags, std::string_view name) {
  for (const auto& t : tags) {
    if (t.name == name)
      return &t;
  }
  return nullptr;
}

std::vector<std::string> split_colon_list(std::string_view text) {
  std::vector<std::string> out;
  if (trim_fws(text).empty())
    return out;
  size_t pos = 0;
  while (true) {
    size_t c = text.find(':', pos);
    out.push_back(
        ascii_lower(remove_fws(text.substr(pos, c == std::string_view::npos ? c : c - pos))));
    if (c == std::string_view::npos)
      break;
    pos = c + 1;
  }
  return out;
}

// ---- canonicalisation ------------------------------------------------------------------------

void append_canon_header(std::string& out, std::string_view raw, Canon canon, bool with_crlf) {
  if (canon == Canon::kSimple) {
    if (!with_crlf && raw.ends_with("\r\n"))
      raw.remove_suffix(2);
    out.append(raw);
    // A field at the very end of a header-only message lacks its CRLF; hash it as if present.
    if (with_crlf && !raw.ends_with("\r\n"))
      out.append("\r\n");
    return;
  }
  size_t colon = raw.find(':');
  std::string_view name = raw.substr(0, colon);
  while (!name.empty() && is_wsp(name.back()))
    name.remove_suffix(1);
  out.append(ascii_lower(name));
  out.push_back(':');
  if (colon != std::string_view::npos) {
    std::string_view value = raw.substr(colon + 1);
    size_t start = out.size();
    bool pending_space = false;
    for (char c : value) {
      if (c == '\r' || c == '\n')
        continue;  // unfold
      if (is_wsp(c)) {
        pending_space = true;
        continue;
      }
      if (pending_space && out.size() > start)
        out.push_back(' ');  // WSP runs become one SP; leading WSP after the colon is dropped
      pending_space = false;
      out.push_back(c);
    }
  }
  if (with_crlf)
    out.append("\r\n");
}

std::string strip_b_value(std::string_view raw) {
  // Walk the tag list after the colon; find the tag named exactly "b" and drop its value.
  size_t colon = raw.find(':');
  if (colon == std::string_view::npos)
    return std::string(raw);
  size_t pos = colon + 1;
  while (pos < raw.size()) {
    size_t semi = raw.find(';', pos);
    size_t spec_end = semi == std::string_view::npos ? raw.size() : semi;
    std::string_view spec = raw.substr(pos, spec_end - pos);
    size_t eq = spec.find('=');
    if (eq != std::string_view::npos && trim_fws(spec.substr(0, eq)) == "b") {
      std::string out(raw.substr(0, pos + eq + 1));
      // Keep a trailing CRLF of the field (the value's FWS goes with the value).
      std::string_view rest = raw.substr(spec_end);
      if (semi == std::string_view::npos && raw.ends_with("\r\n"))
        rest = "\r\n";
      out.append(rest);
      return out;
    }
    if (semi == std::string_view::npos)
      break;
    pos = semi + 1;
  }
  return std::string(raw);
}

std::string canon_body(std::string_view body, Canon canon) {
  std::string out;
  if (canon == Canon::kSimple) {
    out.assign(body);
    if (!out.empty() && !out.ends_with("\r\n"))
      out.append("\r\n");
    while (out.ends_with("\r\n\r\n"))
      out.resize(out.size() - 2);
    if (out.empty())
      out = "\r\n";
    return out;
  }
  out.reserve(body.size());
  size_t pos = 0;
  while (pos < body.size()) {
    size_t eol = body.find("\r\n", pos);
    std::string_view line =
        body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    bool pending_space = false;
    for (char c : line) {
      if (is_wsp(c)) {
        pending_space = true;
        continue;
      }
      if (pending_space)
        out.push_back(' ');
      pending_space = false;
      out.push_back(c);
    }
    out.append("\r\n");  // trailing WSP dropped; a last line without CRLF gets one
    if (eol == std::string_view::npos)
      break;
    pos = eol + 2;
  }
  while (out.ends_with("\r\n\r\n"))
    out.resize(out.size() - 2);
  if (out == "\r\n")
    out.clear();
  return out;
}

std::vector<const HeaderField*> select_headers(const Message& msg,
                                               const std::vector<std::string>& names) {
  std::vector<const HeaderField*> out;
  out.reserve(names.size());
  std::vector<bool> used(msg.headers.size(), false);
  for (const auto& name : names) {
    const HeaderField* found = nullptr;
    if (name.empty()) {  // "h=from::to": an empty name matches nothing
      out.push_back(nullptr);
      continue;
    }
    for (size_t i = msg.headers.size(); i-- > 0;) {
      if (!used[i] && iequals(msg.headers[i].name, name)) {
        used[i] = true;
        found = &msg.headers[i];
        break;
      }
    }
    out.push_back(found);
  }
  return out;
}

std::string header_hash_input(const Message& msg, const std::vector<std::string>& names,
                              Canon canon, std::string_view sig_field_raw) {
  std::string data;
  for (const HeaderField* h : select_headers(msg, names)) {
    if (h != nullptr)  // names in h= without a field (over-signing) contribute nothing
      append_canon_header(data, h->raw, canon, true);
  }
  append_canon_header(data, strip_b_value(sig_field_raw), canon, false);
  return data;
}

std::string fold_tags(std::string_view field_name, const std::vector<std::string>& tags,
                      bool break_values) {
  std::string out(field_name);
  out.append(":");
  size_t col = out.size();
  for (size_t i = 0; i < tags.size(); ++i) {
    std::string tag = tags[i] + (i + 1 < tags.size() ? ";" : "");
    if (col + 1 + tag.size() > 76 && col > field_name.size() + 1) {
      out.append("\r\n\t");
      col = 8;
    } else {
      out.push_back(' ');
      ++col;
    }
    // Long b= and h= values are broken into pieces when asked: verifiers ignore FWS inside b=,
    // and h= allows FWS around ':'.
    bool is_h = break_values && tag.starts_with("h=");
    bool breakable = break_values && (tag.starts_with("b=") || is_h);
    while (breakable && col + tag.size() > 76 && tag.size() > 8) {
      size_t take = col < 76 ? 76 - col : 1;
      if (is_h) {  // break before a ':' only, never inside a name
        size_t c = tag.rfind(':', take);
        if (c == std::string::npos || c == 0)
          break;
        take = c;
      }
      out.append(tag, 0, take);
      out.append("\r\n\t");
      tag.erase(0, take);
      col = 8;
    }
    out.append(tag);
    col += tag.size();
  }
  out.append("\r\n");
  return out;
}

}  // namespace mailsift::dkim::detail
