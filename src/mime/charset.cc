#include "mime/charset.h"

#include <errno.h>
#include <iconv.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/ascii.h"

namespace mailsift::mime::detail {
namespace {

constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t utf8_seq_len(const unsigned char* s, size_t i, size_t n) {
  unsigned char c = s[i];
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    return (i + 1 < n && (s[i + 1] & 0xC0) == 0x80) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (i + 2 >= n)
      return 0;
    unsigned char c1 = s[i + 1];
    if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
      return 0;
    if (c == 0xE0 && c1 < 0xA0)
      return 0;  // overlong
    if (c == 0xED && c1 >= 0xA0)
      return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (i + 3 >= n)
      return 0;
    unsigned char c1 = s[i + 1];
    if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && c1 < 0x90)
      return 0;
    if (c == 0xF4 && c1 >= 0x90)
      return 0;
    return 4;
  }
  return 0;
}

// Per-thread cache of iconv descriptors; (iconv_t)-1 remembers names iconv does not know.
class IconvCache {
 public:
  ~IconvCache() {
    for (auto& e : entries_) {
      if (e.second != reinterpret_cast<iconv_t>(-1))
        iconv_close(e.second);
    }
  }
  iconv_t get(const std::string& name) {
    for (auto& e : entries_) {
      if (e.first == name)
        return e.second;
    }
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1) && name.size() > 2 && name.compare(0, 2, "x-") == 0) {
      cd = iconv_open("UTF-8", name.c_str() + 2);
    }
    if (entries_.size() >= kMaxEntries) {
      // Bounded: evict the oldest so a message full of junk charset names cannot grow this.
      if (entries_.front().second != reinterpret_cast<iconv_t>(-1)) {
        iconv_close(entries_.front().second);
      }
      entries_.erase(entries_.begin());
    }
    entries_.emplace_back(name, cd);
    return cd;
  }

 private:
  static constexpr size_t kMaxEntries = 48;
  std::vector<std::pair<std::string, iconv_t>> entries_;
};

IconvCache& iconv_cache() {
  thread_local IconvCache cache;
  return cache;
}

struct Alias {
  const char* from;
  const char* to;
};

// Names mail actually uses that iconv spells differently or that need a superset.
constexpr Alias kAliases[] = {
    {"utf8", "utf-8"},
    {"unicode-1-1-utf-8", "utf-8"},
    {"x-unicode20utf8", "utf-8"},
    {"us-ascii", "us-ascii"},
    {"ascii", "us-ascii"},
    {"us", "us-ascii"},
    {"ansi_x3.4-1968", "us-ascii"},
    {"iso-646-us", "us-ascii"},
    {"7bit", "us-ascii"},
    {"iso-8859-1", "windows-1252"},
    {"iso8859-1", "windows-1252"},
    {"iso_8859-1", "windows-1252"},
    {"iso8859_1", "windows-1252"},
    {"iso_8859-1:1987", "windows-1252"},
    {"latin1", "windows-1252"},
    {"latin-1", "windows-1252"},
    {"l1", "windows-1252"},
    {"cp1252", "windows-1252"},
    {"win-1252", "windows-1252"},
    {"windows1252", "windows-1252"},
    {"x-cp1252", "windows-1252"},
    {"cp819", "windows-1252"},
    {"ks_c_5601-1987", "cp949"},
    {"ks_c_5601", "cp949"},
    {"ksc5601", "cp949"},
    {"ksc_5601", "cp949"},
    {"euc-kr", "cp949"},
    {"x-euc-kr", "cp949"},
    {"gb2312", "gb18030"},
    {"gb_2312-80", "gb18030"},
    {"gbk", "gb18030"},
    {"x-gbk", "gb18030"},
    {"cp936", "gb18030"},
    {"euc-cn", "gb18030"},
    {"x-euc-cn", "gb18030"},
    {"chinese", "gb18030"},
    {"csgb2312", "gb18030"},
    {"iso-8859-8-i", "iso-8859-8"},
    {"iso-8859-8-e", "iso-8859-8"},
    {"iso-8859-6-i", "iso-8859-6"},
    {"iso-8859-6-e", "iso-8859-6"},
    {"shift_jis", "cp932"},
    {"shift-jis", "cp932"},
    {"x-sjis", "cp932"},
    {"sjis", "cp932"},
    {"ms_kanji", "cp932"},
    {"windows-31j", "cp932"},
    {"big5", "big5-hkscs"},
    {"x-x-big5", "big5-hkscs"},
    {"cn-big5", "big5-hkscs"},
    {"chinesebig5", "big5-hkscs"},
    {"x-big5", "big5-hkscs"},
    {"unicode-1-1-utf-7", "utf-7"},
    {"x-mac-roman", "macintosh"},
    {"mac", "macintosh"},
    {"x-mac-cyrillic", "mac-cyrillic"},
    {"tis620", "tis-620"},
    {"windows-874", "cp874"},
    {"x-windows-874", "cp874"},
};

bool stateful_or_wide(const std::string& name) {
  // ASCII-looking bytes are not necessarily ASCII text in these encodings.
  return name.compare(0, 5, "utf-1") == 0 || name.compare(0, 5, "utf-3") == 0 ||
         name.compare(0, 5, "utf-7") == 0 || name.compare(0, 3, "ucs") == 0 ||
         name.compare(0, 5, "hz-gb") == 0 || name == "utf16" || name == "utf32" || name == "utf7";
}

}  // namespace

bool is_ascii(std::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ULL)
      return false;
  }
  for (; i < n; ++i) {
    if (p[i] & 0x80)
      return false;
  }
  return true;
}

void append_codepoint(uint32_t cp, std::string& out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8_seq_len(p, i, n);
    if (len == 0)
      return false;
    i += len;
  }
  return true;
}

bool append_utf8_sanitized(std::string_view s, std::string& out) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0, run = 0;
  bool valid = true;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8_seq_len(p, i, n);
    if (len) {
      i += len;
      continue;
    }
    out.append(s.data() + run, i - run);
    out.append("\xEF\xBF\xBD");
    valid = false;
    ++i;
    // Skip continuation bytes of the same broken sequence (one replacement per sequence).
    while (i < n && (p[i] & 0xC0) == 0x80)
      ++i;
    run = i;
  }
  out.append(s.data() + run, n - run);
  return valid;
}

void append_cp1252(std::string_view s, std::string& out) {
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80)
      continue;
    out.append(s.data() + run, i - run);
    append_codepoint(c < 0xA0 ? kCp1252High[c - 0x80] : c, out);
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
}

void append_guess(std::string_view s, std::string& out) {
  if (is_ascii(s) || is_valid_utf8(s)) {
    out.append(s);
  } else {
    append_cp1252(s, out);
  }
}

std::string canonical_charset(std::string_view charset) {
  std::string name;
  name.reserve(charset.size());
  for (char c : charset) {
    if (c == '"' || c == '\'' || c == ' ' || c == '\t')
      continue;
    name.push_back(ascii_lower(c));
  }
  for (const auto& a : kAliases) {
    if (name == a.from)
      return a.to;
  }
  return name;
}

ConvertStatus to_utf8(std::string_view in, std::string_view charset, std::string& out) {
  ConvertStatus st;
  std::string name = canonical_charset(charset);
  bool ascii = is_ascii(in);
  st.eight_bit = !ascii;
  if (name.empty() || name == "us-ascii") {
    if (ascii) {
      out.append(in);
    } else {
      // Declared (or defaulted) ASCII but 8-bit: read as UTF-8 if valid, else windows-1252.
      st.invalid = true;
      append_guess(in, out);
    }
    return st;
  }
  if (name == "utf-8") {
    if (ascii) {
      out.append(in);
    } else {
      st.invalid = !append_utf8_sanitized(in, out);
    }
    return st;
  }
  if (name == "windows-1252") {
    if (ascii) {
      out.append(in);
    } else {
      append_cp1252(in, out);
    }
    return st;
  }
  if (ascii && std::memchr(in.data(), 0x1B, in.size()) == nullptr && !stateful_or_wide(name)) {
    out.append(in);  // ASCII is the same in every ASCII-compatible charset
    // Still resolve the name once so unknown charsets are reported.
    if (iconv_cache().get(name) == reinterpret_cast<iconv_t>(-1))
      st.unknown_charset = true;
    return st;
  }
  iconv_t cd = iconv_cache().get(name);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    st.unknown_charset = true;
    append_guess(in, out);
    return st;
  }
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  size_t start = out.size();
  size_t used = start;
  out.resize(start + in.size() * 2 + 16);
  char* inp = const_cast<char*>(in.data());
  size_t inleft = in.size();
  for (;;) {
    char* outp = out.data() + used;
    size_t outleft = out.size() - used;
    size_t r = iconv(cd, inleft ? &inp : nullptr, &inleft, &outp, &outleft);
    used = static_cast<size_t>(outp - out.data());
    if (r != static_cast<size_t>(-1)) {
      if (inleft == 0)
        break;
      continue;
    }
    int err = errno;
    if (err == E2BIG) {
      out.resize(out.size() * 2 + 16);
      continue;
    }
    st.invalid = true;
    if (out.size() - used < 3)
      out.resize(out.size() + 16);
    std::memcpy(out.data() + used, "\xEF\xBF\xBD", 3);
    used += 3;
    if (err == EILSEQ && inleft > 0) {
      ++inp;
      --inleft;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
      continue;
    }
    break;  // EINVAL: truncated sequence at the end
  }
  // Flush any shift state (stateful encodings such as ISO-2022-JP).
  for (int tries = 0; tries < 4; ++tries) {
    if (out.size() - used < 16)
      out.resize(used + 32);
    char* outp = out.data() + used;
    size_t outleft = out.size() - used;
    size_t r = iconv(cd, nullptr, nullptr, &outp, &outleft);
    used = static_cast<size_t>(outp - out.data());
    if (r != static_cast<size_t>(-1))
      break;
  }
  out.resize(used);
  return st;
}

}  // namespace mailsift::mime::detail
