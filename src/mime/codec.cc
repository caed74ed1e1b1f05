#include "mime/codec.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/ascii.h"
#include "mime/charset.h"

namespace mailsift::mime::detail {
namespace {

constexpr uint8_t kB64Invalid = 0x80;
constexpr uint8_t kB64Space = 0x81;
constexpr uint8_t kB64Pad = 0x82;

struct B64Table {
  uint8_t v[256];
  constexpr B64Table() : v() {
    for (int i = 0; i < 256; ++i)
      v[i] = kB64Invalid;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
      v[static_cast<unsigned char>(a[i])] = static_cast<uint8_t>(i);
    v[static_cast<unsigned char>('-')] = 62;  // base64url, seen in broken mailers
    v[static_cast<unsigned char>('_')] = 63;
    v[static_cast<unsigned char>(' ')] = kB64Space;
    v[static_cast<unsigned char>('\t')] = kB64Space;
    v[static_cast<unsigned char>('\r')] = kB64Space;
    v[static_cast<unsigned char>('\n')] = kB64Space;
    v[static_cast<unsigned char>('\f')] = kB64Space;
    v[static_cast<unsigned char>('\v')] = kB64Space;
    v[static_cast<unsigned char>('=')] = kB64Pad;
  }
};
constexpr B64Table kB64;

int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void lower_inplace(std::string& s) {
  for (char& c : s)
    c = ascii_lower(c);
}

}  // namespace

bool decode_base64(std::string_view in, std::string& out) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size(), i = 0;
  size_t start = out.size();
  out.resize(start + n / 4 * 3 + 3);
  char* o = out.data() + start;
  uint32_t acc = 0;
  int have = 0;
  size_t junk = 0;
  bool padded = false;
  while (i < n) {
    // Fast path: four alphabet characters in a row (the bulk of any real body).
    if (have == 0) {
      while (i + 4 <= n) {
        uint8_t a = kB64.v[p[i]], b = kB64.v[p[i + 1]], c = kB64.v[p[i + 2]], d = kB64.v[p[i + 3]];
        if ((a | b | c | d) & 0x80)
          break;
        uint32_t w = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
        o[0] = static_cast<char>(w >> 16);
        o[1] = static_cast<char>(w >> 8);
        o[2] = static_cast<char>(w);
        o += 3;
        i += 4;
      }
      if (i >= n)
        break;
    }
    uint8_t v = kB64.v[p[i++]];
    if (v == kB64Space)
      continue;
    if (v == kB64Invalid) {
      ++junk;
      continue;
    }
    if (v == kB64Pad) {
      // Flush a partial quantum; concatenated base64 blobs continue after padding.
      if (have == 2) {
        *o++ = static_cast<char>(acc >> 4);
      } else if (have == 3) {
        *o++ = static_cast<char>(acc >> 10);
        *o++ = static_cast<char>(acc >> 2);
      } else if (have == 1) {
        ++junk;
      }
      acc = 0;
      have = 0;
      padded = true;
      continue;
    }
    if (padded)
      padded = false;
    acc = (acc << 6) | v;
    if (++have == 4) {
      o[0] = static_cast<char>(acc >> 16);
      o[1] = static_cast<char>(acc >> 8);
      o[2] = static_cast<char>(acc);
      o += 3;
      acc = 0;
      have = 0;
    }
  }
  // Missing padding is common and harmless; a lone leftover sextet is a broken body.
  if (have == 2) {
    *o++ = static_cast<char>(acc >> 4);
  } else if (have == 3) {
    *o++ = static_cast<char>(acc >> 10);
    *o++ = static_cast<char>(acc >> 2);
  } else if (have == 1) {
    ++junk;
  }
  out.resize(static_cast<size_t>(o - out.data()));
  return junk == 0;
}

bool decode_qp(std::string_view in, std::string& out) {
  bool ok = true;
  size_t n = in.size(), i = 0;
  out.reserve(out.size() + n);
  while (i < n) {
    const char* eq = static_cast<const char*>(std::memchr(in.data() + i, '=', n - i));
    size_t stop = eq ? static_cast<size_t>(eq - in.data()) : n;
    out.append(in.data() + i, stop - i);
    if (!eq)
      break;
    i = stop + 1;
    if (i + 1 < n) {
      int h = hexval(in[i]);
      int l = hexval(in[i + 1]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    // Soft line break: '=' then optional whitespace then a line break (or end of body).
    size_t j = i;
    while (j < n && (in[j] == ' ' || in[j] == '\t'))
      ++j;
    if (j >= n) {
      i = n;
      continue;
    }
    if (in[j] == '\r' || in[j] == '\n') {
      if (in[j] == '\r' && j + 1 < n && in[j + 1] == '\n')
        ++j;
      i = j + 1;
      continue;
    }
    out.push_back('=');  // bad escape: keep it literally
    ok = false;
  }
  return ok;
}

bool decode_uu(std::string_view in, std::string& out) {
  size_t pos = 0;
  // Find "begin " at a line start.
  for (;;) {
    size_t b = in.find("begin ", pos);
    if (b == std::string_view::npos)
      return false;
    if (b == 0 || in[b - 1] == '\n' || in[b - 1] == '\r') {
      pos = b;
      break;
    }
    pos = b + 6;
  }
  size_t eol = in.find_first_of("\r\n", pos);
  if (eol == std::string_view::npos)
    return false;
  pos = eol;
  while (pos < in.size()) {
    while (pos < in.size() && (in[pos] == '\r' || in[pos] == '\n'))
      ++pos;
    size_t end = in.find_first_of("\r\n", pos);
    if (end == std::string_view::npos)
      end = in.size();
    std::string_view line = in.substr(pos, end - pos);
    pos = end;
    if (line.empty())
      continue;
    if (line.substr(0, 3) == "end")
      break;
    int len = (line[0] - 32) & 63;
    if (len == 0)
      continue;
    size_t k = 1;
    int written = 0;
    while (written < len && k < line.size()) {
      auto sx = [&](size_t idx) -> uint32_t {
        return idx < line.size() ? static_cast<uint32_t>((line[idx] - 32) & 63) : 0;
      };
      uint32_t w = (sx(k) << 18) | (sx(k + 1) << 12) | (sx(k + 2) << 6) | sx(k + 3);
      for (int b = 0; b < 3 && written < len; ++b, ++written) {
        out.push_back(static_cast<char>(w >> (16 - 8 * b)));
      }
      k += 4;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_ws(s[b]))
    ++b;
  while (e > b && is_ws(s[e - 1]))
    --e;
  return s.substr(b, e - b);
}

std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t run = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\r' && c != '\n')
      continue;
    out.append(raw.data() + run, i - run);
    run = i + 1;
  }
  out.append(raw.data() + run, raw.size() - run);
  return out;
}

namespace {

// Appends literal (non-encoded) header text, handling raw 8-bit bytes.
void append_literal(std::string_view s, std::string& out, HeaderTextFlags& flags) {
  if (is_ascii(s)) {
    out.append(s);
    return;
  }
  flags.raw_8bit = true;
  append_guess(s, out);
}

struct PendingWord {
  std::string charset;  // canonical
  std::string bytes;
};

void flush_pending(PendingWord& p, std::string& out, HeaderTextFlags& flags) {
  if (p.bytes.empty())
    return;
  ConvertStatus st = to_utf8(p.bytes, p.charset, out);
  if (st.unknown_charset)
    flags.unknown_charset = true;
  p.bytes.clear();
}

bool all_ws(std::string_view s) {
  for (char c : s) {
    if (!is_ws(c))
      return false;
  }
  return true;
}

}  // namespace

void decode_header_text(std::string_view s, std::string& out, HeaderTextFlags& flags) {
  size_t first = s.find("=?");
  if (first == std::string_view::npos) {
    append_literal(s, out, flags);
    return;
  }
  PendingWord pending;
  size_t lit_start = 0;  // start of literal text not yet emitted
  bool after_word = false;
  size_t i = first;
  while (i != std::string_view::npos && i < s.size()) {
    size_t p = s.find("=?", i);
    if (p == std::string_view::npos)
      break;
    // =?charset?X?text?=
    size_t q1 = s.find('?', p + 2);
    if (q1 == std::string_view::npos || q1 - (p + 2) > 80 || q1 + 2 >= s.size() ||
        s[q1 + 2] != '?') {
      if (q1 != std::string_view::npos && q1 + 1 < s.size())
        flags.broken_word = true;
      i = p + 2;
      continue;
    }
    char enc = ascii_lower(s[q1 + 1]);
    size_t text_start = q1 + 3;
    size_t end = s.find("?=", text_start);
    std::string_view charset = s.substr(p + 2, q1 - (p + 2));
    if (end == std::string_view::npos || (enc != 'b' && enc != 'q') || charset.empty() ||
        charset.find_first_of(" \t") != std::string_view::npos) {
      flags.broken_word = true;
      if (end == std::string_view::npos)
        break;  // no later word can close either
      i = p + 2;
      continue;
    }
    std::string_view text = s.substr(text_start, end - text_start);
    // Literal text between words: dropped if only whitespace between two encoded words.
    std::string_view lit = s.substr(lit_start, p - lit_start);
    if (!(after_word && all_ws(lit))) {
      flush_pending(pending, out, flags);
      append_literal(lit, out, flags);
    }
    size_t star = charset.find('*');  // RFC 2231 language suffix
    if (star != std::string_view::npos)
      charset = charset.substr(0, star);
    std::string canon = canonical_charset(charset);
    if (canon != pending.charset) {
      flush_pending(pending, out, flags);
      pending.charset = canon;
    }
    if (enc == 'b') {
      if (!decode_base64(text, pending.bytes))
        flags.broken_word = true;
    } else {
      for (size_t k = 0; k < text.size(); ++k) {
        char c = text[k];
        if (c == '_') {
          pending.bytes.push_back(' ');
        } else if (c == '=' && k + 2 < text.size() && hexval(text[k + 1]) >= 0 &&
                   hexval(text[k + 2]) >= 0) {
          pending.bytes.push_back(
              static_cast<char>(hexval(text[k + 1]) * 16 + hexval(text[k + 2])));
          k += 2;
        } else if (c == '=') {
          pending.bytes.push_back('=');
          flags.broken_word = true;
        } else {
          pending.bytes.push_back(c);
        }
      }
    }
    after_word = true;
    lit_start = end + 2;
    i = lit_start;
  }
  flush_pending(pending, out, flags);
  if (lit_start < s.size())
    append_literal(s.substr(lit_start), out, flags);
}

const std::string* StructuredField::get(std::string_view name) const {
  for (const auto& p : params) {
    if (p.name == name)
      return &p.value;
  }
  return nullptr;
}

namespace {

struct RawParam {
  std::string base;
  int section = -1;
  bool extended = false;
  std::string value;
};

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int h = hexval(s[i + 1]);
      int l = hexval(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Skips an RFC 5322 comment starting at s[i] == '('; returns the index after it.
size_t skip_comment(std::string_view s, size_t i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '(') {
      ++depth;
    } else if (s[i] == ')') {
      if (--depth == 0)
        return i + 1;
    }
  }
  return s.size();
}

constexpr size_t kMaxParams = 64;
constexpr int kMaxSections = 128;

}  // namespace

StructuredField parse_structured(std::string_view s, HeaderTextFlags& flags) {
  StructuredField f;
  size_t i = 0, n = s.size();
  // Main value up to the first ';'.
  while (i < n && s[i] != ';') {
    if (s[i] == '(') {
      i = skip_comment(s, i);
      continue;
    }
    if (s[i] == '"') {  // quoted main value (broken but seen)
      ++i;
      continue;
    }
    if (!is_ws(s[i]))
      f.value.push_back(ascii_lower(s[i]));
    ++i;
  }
  std::vector<RawParam> raw;
  while (i < n && raw.size() < kMaxParams) {
    while (i < n && (s[i] == ';' || is_ws(s[i])))
      ++i;
    if (i >= n)
      break;
    if (s[i] == '(') {
      i = skip_comment(s, i);
      continue;
    }
    size_t name_start = i;
    while (i < n && s[i] != '=' && s[i] != ';')
      ++i;
    std::string_view name = trim(s.substr(name_start, i - name_start));
    if (i >= n || s[i] == ';')
      continue;  // attribute without value: garbage
    ++i;         // '='
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
      ++i;
    std::string value;
    if (i < n && s[i] == '"') {
      ++i;
      while (i < n && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < n)
          ++i;
        value.push_back(s[i]);
        ++i;
      }
      if (i < n)
        ++i;  // closing quote
      while (i < n && s[i] != ';')
        ++i;  // junk after the quoted string
    } else {
      size_t vs = i;
      while (i < n && s[i] != ';')
        ++i;
      std::string_view v = trim(s.substr(vs, i - vs));
      // Unquoted values end at whitespace or a comment (e.g. "us-ascii (Plain Text)").
      size_t cut = v.find_first_of(" \t(");
      if (cut != std::string_view::npos)
        v = v.substr(0, cut);
      value.assign(v);
    }
    if (name.empty())
      continue;
    RawParam rp;
    rp.base.assign(name);
    lower_inplace(rp.base);
    size_t star = rp.base.find('*');
    if (star != std::string::npos) {
      std::string suffix = rp.base.substr(star + 1);
      rp.base.resize(star);
      if (!suffix.empty() && suffix.back() == '*') {
        rp.extended = true;
        suffix.pop_back();
      } else if (suffix.empty()) {
        rp.extended = true;  // name*=charset'lang'value
      }
      if (!suffix.empty()) {
        int sec = 0;
        bool digits = suffix.size() <= 3;
        for (char c : suffix) {
          if (c < '0' || c > '9')
            digits = false;
        }
        if (!digits)
          continue;
        for (char c : suffix)
          sec = sec * 10 + (c - '0');
        if (sec >= kMaxSections)
          continue;
        rp.section = sec;
      }
    }
    rp.value = std::move(value);
    raw.push_back(std::move(rp));
  }
  // Assemble: RFC 2231 forms win over the plain one of the same name.
  std::vector<bool> done(raw.size(), false);
  for (size_t a = 0; a < raw.size(); ++a) {
    if (done[a])
      continue;
    const std::string& base = raw[a].base;
    bool has_2231 = false;
    for (size_t b = a; b < raw.size(); ++b) {
      if (raw[b].base == base && (raw[b].section >= 0 || raw[b].extended))
        has_2231 = true;
    }
    Param out;
    out.name = base;
    if (!has_2231) {
      for (size_t b = a; b < raw.size(); ++b) {
        if (raw[b].base == base)
          done[b] = true;
      }
      if (is_ascii(raw[a].value)) {
        out.value = std::move(raw[a].value);
      } else {
        flags.raw_8bit = true;
        append_guess(raw[a].value, out.value);
      }
    } else {
      std::vector<const RawParam*> segs;
      for (size_t b = a; b < raw.size(); ++b) {
        if (raw[b].base != base)
          continue;
        done[b] = true;
        if (raw[b].section >= 0 || raw[b].extended)
          segs.push_back(&raw[b]);
      }
      std::stable_sort(segs.begin(), segs.end(), [](const RawParam* x, const RawParam* y) {
        return std::max(x->section, 0) < std::max(y->section, 0);
      });
      std::string charset;
      std::string bytes;
      for (size_t k = 0; k < segs.size(); ++k) {
        std::string_view v = segs[k]->value;
        if (segs[k]->extended) {
          if (k == 0) {
            size_t q1 = v.find('\'');
            size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
            if (q2 != std::string_view::npos) {
              charset.assign(v.substr(0, q1));
              v = v.substr(q2 + 1);
            }
          }
          bytes += percent_decode(v);
        } else {
          bytes.append(v);
        }
      }
      ConvertStatus st = to_utf8(bytes, charset.empty() ? "utf-8" : charset, out.value);
      if (st.unknown_charset)
        flags.unknown_charset = true;
    }
    f.params.push_back(std::move(out));
  }
  return f;
}

}  // namespace mailsift::mime::detail
