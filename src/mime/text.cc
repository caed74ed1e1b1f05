#include "mime/text.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/ascii.h"
#include "mime/charset.h"

namespace mailsift::mime::detail {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Byte classes for TextBuilder: 0 ordinary, 1 whitespace, 2 CR, 3 LF, 4 control, 5 zero-width
// lead byte candidate (needs a closer look).
struct ByteClass {
  uint8_t v[256];
  constexpr ByteClass() : v() {
    for (int i = 0; i < 32; ++i)
      v[i] = 4;
    v[0x20] = 1;
    v[0x09] = 1;
    v[0x0C] = 1;
    v[0x0B] = 1;
    v[0x0D] = 2;
    v[0x0A] = 3;
    v[0x7F] = 4;
    v[0xC2] = 5;
    v[0xE2] = 5;
    v[0xEF] = 5;
  }
};
constexpr ByteClass kClass;

// Length of a zero-width / invisible character at p (soft hyphen, ZWSP/ZWNJ/ZWJ, LRM/RLM,
// word joiner, BOM), 0 otherwise.
size_t zero_width_len(const unsigned char* p, size_t left) {
  if (p[0] == 0xC2)
    return (left >= 2 && p[1] == 0xAD) ? 2 : 0;
  if (left < 3)
    return 0;
  if (p[0] == 0xE2 && p[1] == 0x80 && p[2] >= 0x8B && p[2] <= 0x8F)
    return 3;
  if (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0xA0)
    return 3;
  if (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
    return 3;
  return 0;
}

}  // namespace

void TextBuilder::newline(int count) {
  pending_space_ = false;
  pending_newlines_ = std::min(2, std::max(pending_newlines_, 0) + count);
}

void TextBuilder::flush_pending() {
  if (!out_.empty()) {
    if (pending_newlines_ >= 2) {
      emit("\n\n", 2);
    } else if (pending_newlines_ == 1) {
      emit("\n", 1);
    } else if (pending_space_) {
      emit(" ", 1);
    }
  }
  pending_space_ = false;
  pending_newlines_ = 0;
}

void TextBuilder::emit(const char* p, size_t n) {
  if (truncated_)
    return;
  if (out_.size() + n > max_) {
    size_t room = max_ > out_.size() ? max_ - out_.size() : 0;
    // Cut on a UTF-8 boundary.
    while (room > 0 && room < n && (static_cast<unsigned char>(p[room]) & 0xC0) == 0x80)
      --room;
    out_.append(p, room);
    truncated_ = true;
    return;
  }
  out_.append(p, n);
}

void TextBuilder::append(std::string_view s, bool keep_newlines) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n && !truncated_) {
    size_t run = i;
    // Ordinary bytes, and single spaces between them, are copied as one run (the bulk of text).
    while (i < n) {
      if (kClass.v[p[i]] == 0) {
        ++i;
      } else if (p[i] == ' ' && i > run && i + 1 < n && kClass.v[p[i + 1]] == 0) {
        i += 2;
      } else {
        break;
      }
    }
    if (i > run) {
      if (pending_space_ || pending_newlines_)
        flush_pending();
      emit(s.data() + run, i - run);
    }
    if (i >= n)
      break;
    switch (kClass.v[p[i]]) {
      case 1:
      case 4:
        space();
        ++i;
        break;
      case 2:
        if (keep_newlines && !(i + 1 < n && p[i + 1] == '\n')) {
          newline();
        } else if (!keep_newlines) {
          space();
        }
        ++i;
        break;
      case 3:
        if (keep_newlines) {
          newline();
        } else {
          space();
        }
        ++i;
        break;
      case 5: {
        size_t z = zero_width_len(p + i, n - i);
        if (z) {
          zero_width_ = true;
          i += z;
        } else {
          if (pending_space_ || pending_newlines_)
            flush_pending();
          emit(s.data() + i, 1);
          ++i;
        }
        break;
      }
      default:
        ++i;
    }
  }
}

namespace {

struct NamedEntity {
  const char* name;
  uint32_t cp;
};

// Sorted by name (strcmp order) for binary search.
constexpr NamedEntity kEntities[] = {
    {"AElig", 0xC6},    {"Aacute", 0xC1},   {"Acirc", 0xC2},    {"Agrave", 0xC0},
    {"Aring", 0xC5},    {"Atilde", 0xC3},   {"Auml", 0xC4},     {"Ccedil", 0xC7},
    {"ETH", 0xD0},      {"Eacute", 0xC9},   {"Ecirc", 0xCA},    {"Egrave", 0xC8},
    {"Euml", 0xCB},     {"Iacute", 0xCD},   {"Icirc", 0xCE},    {"Igrave", 0xCC},
    {"Iuml", 0xCF},     {"Ntilde", 0xD1},   {"Oacute", 0xD3},   {"Ocirc", 0xD4},
    {"Ograve", 0xD2},   {"Oslash", 0xD8},   {"Otilde", 0xD5},   {"Ouml", 0xD6},
    {"THORN", 0xDE},    {"Uacute", 0xDA},   {"Ucirc", 0xDB},    {"Ugrave", 0xD9},
    {"Uuml", 0xDC},     {"Yacute", 0xDD},   {"aacute", 0xE1},   {"acirc", 0xE2},
    {"acute", 0xB4},    {"aelig", 0xE6},    {"agrave", 0xE0},   {"amp", '&'},
    {"apos", '\''},     {"aring", 0xE5},    {"atilde", 0xE3},   {"auml", 0xE4},
    {"bdquo", 0x201E},  {"brvbar", 0xA6},   {"bull", 0x2022},   {"ccedil", 0xE7},
    {"cedil", 0xB8},    {"cent", 0xA2},     {"copy", 0xA9},     {"curren", 0xA4},
    {"dagger", 0x2020}, {"deg", 0xB0},      {"divide", 0xF7},   {"eacute", 0xE9},
    {"ecirc", 0xEA},    {"egrave", 0xE8},   {"emsp", 0x2003},   {"ensp", 0x2002},
    {"eth", 0xF0},      {"euml", 0xEB},     {"euro", 0x20AC},   {"frac12", 0xBD},
    {"frac14", 0xBC},   {"frac34", 0xBE},   {"gt", '>'},        {"hellip", 0x2026},
    {"iacute", 0xED},   {"icirc", 0xEE},    {"iexcl", 0xA1},    {"igrave", 0xEC},
    {"iquest", 0xBF},   {"iuml", 0xEF},     {"laquo", 0xAB},    {"ldquo", 0x201C},
    {"lrm", 0x200E},    {"lsaquo", 0x2039}, {"lsquo", 0x2018},  {"lt", '<'},
    {"macr", 0xAF},     {"mdash", 0x2014},  {"micro", 0xB5},    {"middot", 0xB7},
    {"nbsp", ' '},      {"ndash", 0x2013},  {"not", 0xAC},      {"ntilde", 0xF1},
    {"oacute", 0xF3},   {"ocirc", 0xF4},    {"ograve", 0xF2},   {"ordf", 0xAA},
    {"ordm", 0xBA},     {"oslash", 0xF8},   {"otilde", 0xF5},   {"ouml", 0xF6},
    {"para", 0xB6},     {"permil", 0x2030}, {"plusmn", 0xB1},   {"pound", 0xA3},
    {"quot", '"'},      {"raquo", 0xBB},    {"rdquo", 0x201D},  {"reg", 0xAE},
    {"rlm", 0x200F},    {"rsaquo", 0x203A}, {"rsquo", 0x2019},  {"sbquo", 0x201A},
    {"sect", 0xA7},     {"shy", 0xAD},      {"sup1", 0xB9},     {"sup2", 0xB2},
    {"sup3", 0xB3},     {"szlig", 0xDF},    {"thinsp", 0x2009}, {"thorn", 0xFE},
    {"tilde", 0x2DC},   {"times", 0xD7},    {"trade", 0x2122},  {"uacute", 0xFA},
    {"ucirc", 0xFB},    {"ugrave", 0xF9},   {"uml", 0xA8},      {"uuml", 0xFC},
    {"yacute", 0xFD},   {"yen", 0xA5},      {"yuml", 0xFF},     {"zwj", 0x200D},
    {"zwnj", 0x200C},
};

constexpr uint16_t kCp1252C1[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
                                    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

}  // namespace

size_t decode_entity(std::string_view s, std::string& out) {
  if (s.size() < 3 || s[0] != '&')
    return 0;
  if (s[1] == '#') {
    size_t i = 2;
    bool hex = false;
    if (i < s.size() && (s[i] == 'x' || s[i] == 'X')) {
      hex = true;
      ++i;
    }
    uint32_t cp = 0;
    size_t digits = 0;
    for (; i < s.size() && digits < 8; ++i, ++digits) {
      char c = s[i];
      int d;
      if (is_digit(c)) {
        d = c - '0';
      } else if (hex && ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f') {
        d = ascii_lower(c) - 'a' + 10;
      } else {
        break;
      }
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
    }
    if (digits == 0)
      return 0;
    if (i < s.size() && s[i] == ';')
      ++i;
    if (cp >= 0x80 && cp < 0xA0)
      cp = kCp1252C1[cp - 0x80];  // what browsers do
    if (cp == 0)
      cp = 0xFFFD;
    if (cp == 0xA0)
      cp = ' ';
    append_codepoint(cp, out);
    return i;
  }
  size_t i = 1;
  while (i < s.size() && i < 10 && is_alnum(s[i]))
    ++i;
  if (i == 1)
    return 0;
  std::string_view name = s.substr(1, i - 1);
  const NamedEntity* lo = std::begin(kEntities);
  const NamedEntity* hi = std::end(kEntities);
  const NamedEntity* it = std::lower_bound(
      lo, hi, name,
      [](const NamedEntity& e, std::string_view n) { return std::string_view(e.name) < n; });
  if (it == hi || std::string_view(it->name) != name)
    return 0;
  if (i < s.size() && s[i] == ';')
    ++i;
  append_codepoint(it->cp, out);
  return i;
}

namespace {

enum class Tag : uint8_t {
  kOther,
  kA,
  kArea,
  kImg,
  kBr,
  kBlock,  // becomes a line break
  kCell,   // td/th: a space
  kScript,
  kStyle,
  kTitle,
  kHead,
  kBody,
  kHtml,
  kFont,
  kVoid,     // no content, never pushed
  kTableBg,  // table/tr: block + bgcolor
  kTd,       // cell + bgcolor
  kP,        // block that implicitly closes a previous p
  kLi,
  kForm,
  kFrame,   // iframe/frame/embed src
  kInline,  // span, b, i ...: pushed, no break
};

Tag classify(std::string_view n) {
  switch (n.size()) {
    case 1:
      switch (n[0]) {
        case 'a':
          return Tag::kA;
        case 'p':
          return Tag::kP;
        default:
          return Tag::kInline;
      }
    case 2:
      if (n == "br")
        return Tag::kBr;
      if (n == "td" || n == "th")
        return Tag::kTd;
      if (n == "tr")
        return Tag::kTableBg;
      if (n == "li")
        return Tag::kLi;
      if (n == "hr")
        return Tag::kVoid;
      if (n[0] == 'h' && n[1] >= '1' && n[1] <= '6')
        return Tag::kBlock;
      if (n == "ul" || n == "ol" || n == "dl" || n == "dt" || n == "dd")
        return Tag::kBlock;
      return Tag::kInline;
    case 3:
      if (n == "img")
        return Tag::kImg;
      if (n == "div" || n == "pre" || n == "nav")
        return Tag::kBlock;
      if (n == "col" || n == "wbr")
        return Tag::kVoid;
      return Tag::kInline;
    case 4:
      if (n == "font")
        return Tag::kFont;
      if (n == "body")
        return Tag::kBody;
      if (n == "head")
        return Tag::kHead;
      if (n == "html")
        return Tag::kHtml;
      if (n == "area")
        return Tag::kArea;
      if (n == "meta" || n == "link" || n == "base")
        return Tag::kVoid;
      if (n == "form")
        return Tag::kForm;
      if (n == "main")
        return Tag::kBlock;
      return Tag::kInline;
    case 5:
      if (n == "style")
        return Tag::kStyle;
      if (n == "title")
        return Tag::kTitle;
      if (n == "table")
        return Tag::kTableBg;
      if (n == "input" || n == "param" || n == "track")
        return Tag::kVoid;
      if (n == "frame" || n == "embed")
        return Tag::kFrame;
      if (n == "aside")
        return Tag::kBlock;
      return Tag::kInline;
    case 6:
      if (n == "script")
        return Tag::kScript;
      if (n == "center" || n == "header" || n == "footer" || n == "figure")
        return Tag::kBlock;
      if (n == "iframe")
        return Tag::kFrame;
      if (n == "source")
        return Tag::kVoid;
      return Tag::kInline;
    case 7:
      if (n == "address" || n == "article" || n == "section" || n == "caption")
        return Tag::kBlock;
      return Tag::kInline;
    case 8:
      if (n == "fieldset")
        return Tag::kBlock;
      return Tag::kInline;
    case 10:
      if (n == "blockquote")
        return Tag::kBlock;
      return Tag::kInline;
    default:
      return Tag::kOther;
  }
}

uint32_t name_hash(std::string_view n) {
  uint32_t h = 2166136261u;
  for (char c : n)
    h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

constexpr int32_t kNoColor = -1;

int32_t parse_color(std::string_view v) {
  while (!v.empty() && is_space(v.front()))
    v.remove_prefix(1);
  while (!v.empty() && (is_space(v.back()) || v.back() == ';'))
    v.remove_suffix(1);
  if (v.size() > 10 && v.substr(v.size() - 10) == "!important") {
    v.remove_suffix(10);
    while (!v.empty() && is_space(v.back()))
      v.remove_suffix(1);
  }
  if (v.empty())
    return kNoColor;
  std::string_view hex = v;
  if (hex[0] == '#')
    hex.remove_prefix(1);
  auto hexv = [](char c) -> int {
    c = ascii_lower(c);
    if (is_digit(c))
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  bool all_hex = !hex.empty();
  for (char c : hex) {
    if (hexv(c) < 0)
      all_hex = false;
  }
  if (all_hex && hex.size() == 6) {
    int32_t x = 0;
    for (char c : hex)
      x = x * 16 + hexv(c);
    return x;
  }
  if (all_hex && hex.size() == 3) {
    int32_t x = 0;
    for (char c : hex)
      x = x * 256 + hexv(c) * 17;
    return x;
  }
  if (v.substr(0, 4) == "rgb(" || v.substr(0, 5) == "rgba(") {
    int vals[4] = {0, 0, 0, 255};
    int k = 0;
    size_t i = v.find('(') + 1;
    while (i < v.size() && k < 3) {
      while (i < v.size() && !is_digit(v[i]))
        ++i;
      int x = 0;
      while (i < v.size() && is_digit(v[i]))
        x = std::min(255, x * 10 + (v[i++] - '0'));
      vals[k++] = x;
    }
    return (vals[0] << 16) | (vals[1] << 8) | vals[2];
  }
  struct Named {
    const char* n;
    int32_t c;
  };
  static constexpr Named kNamed[] = {
      {"white", 0xFFFFFF},      {"black", 0x000000},  {"red", 0xFF0000},    {"green", 0x008000},
      {"blue", 0x0000FF},       {"yellow", 0xFFFF00}, {"gray", 0x808080},   {"grey", 0x808080},
      {"silver", 0xC0C0C0},     {"navy", 0x000080},   {"maroon", 0x800000}, {"purple", 0x800080},
      {"teal", 0x008080},       {"olive", 0x808000},  {"lime", 0x00FF00},   {"aqua", 0x00FFFF},
      {"fuchsia", 0xFF00FF},    {"orange", 0xFFA500}, {"snow", 0xFFFAFA},   {"ivory", 0xFFFFF0},
      {"whitesmoke", 0xF5F5F5},
  };
  char buf[16];
  if (v.size() >= sizeof(buf))
    return kNoColor;
  for (size_t i = 0; i < v.size(); ++i)
    buf[i] = ascii_lower(v[i]);
  std::string_view lv(buf, v.size());
  for (const auto& n : kNamed) {
    if (lv == n.n)
      return n.c;
  }
  return kNoColor;
}

bool colors_close(int32_t a, int32_t b) {
  if (a < 0 || b < 0)
    return false;
  int d = std::abs(((a >> 16) & 255) - ((b >> 16) & 255)) +
          std::abs(((a >> 8) & 255) - ((b >> 8) & 255)) + std::abs((a & 255) - (b & 255));
  return d < 24;
}

struct StyleInfo {
  bool hidden = false;
  int32_t color = kNoColor;
  int32_t background = kNoColor;
  bool background_image = false;
};

// Tiny font: 0 of anything, <= 2px / unitless, <= 1.5pt, <= 10%, <= 0.15em.
bool tiny_font_size(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && is_space(v[i]))
    ++i;
  double x = 0;
  bool any = false;
  while (i < v.size() && is_digit(v[i])) {
    x = x * 10 + (v[i++] - '0');
    any = true;
  }
  if (i < v.size() && v[i] == '.') {
    double scale = 0.1;
    ++i;
    while (i < v.size() && is_digit(v[i])) {
      x += (v[i++] - '0') * scale;
      scale /= 10;
      any = true;
    }
  }
  if (!any)
    return false;
  std::string_view unit = v.substr(i);
  while (!unit.empty() && is_space(unit.back()))
    unit.remove_suffix(1);
  if (x == 0)
    return true;
  if (unit.empty() || unit.substr(0, 2) == "px")
    return x <= 2;
  if (unit.substr(0, 2) == "pt")
    return x <= 1.5;
  if (unit[0] == '%')
    return x <= 10;
  if (unit.substr(0, 2) == "em" || unit.substr(0, 3) == "rem")
    return x <= 0.15;
  return false;
}

bool is_zero_length(std::string_view v) {
  while (!v.empty() && is_space(v.front()))
    v.remove_prefix(1);
  if (v.empty() || v[0] != '0')
    return false;
  v.remove_prefix(1);
  if (!v.empty() && v[0] == '.') {
    v.remove_prefix(1);
    while (!v.empty() && v[0] == '0')
      v.remove_prefix(1);
  }
  return v.empty() || is_alpha(v[0]) || is_space(v[0]) || v[0] == '!';
}

StyleInfo parse_style(std::string_view raw) {
  StyleInfo si;
  std::string s(raw);
  for (char& c : s)
    c = ascii_lower(c);
  std::string_view v(s);
  bool zero_box = false, overflow_hidden = false;
  size_t i = 0;
  while (i < v.size()) {
    size_t semi = v.find(';', i);
    if (semi == std::string_view::npos)
      semi = v.size();
    std::string_view decl = v.substr(i, semi - i);
    i = semi + 1;
    size_t colon = decl.find(':');
    if (colon == std::string_view::npos)
      continue;
    std::string_view prop = decl.substr(0, colon);
    std::string_view val = decl.substr(colon + 1);
    while (!prop.empty() && is_space(prop.front()))
      prop.remove_prefix(1);
    while (!prop.empty() && is_space(prop.back()))
      prop.remove_suffix(1);
    while (!val.empty() && is_space(val.front()))
      val.remove_prefix(1);
    while (!val.empty() && is_space(val.back()))
      val.remove_suffix(1);
    if (prop == "display") {
      if (val.substr(0, 4) == "none")
        si.hidden = true;
    } else if (prop == "visibility") {
      if (val.substr(0, 6) == "hidden" || val.substr(0, 8) == "collapse")
        si.hidden = true;
    } else if (prop == "font-size") {
      if (tiny_font_size(val))
        si.hidden = true;
    } else if (prop == "opacity") {
      if (is_zero_length(val))
        si.hidden = true;
    } else if (prop == "mso-hide") {
      if (val.substr(0, 3) == "all")
        si.hidden = true;
    } else if (prop == "color") {
      if (val.substr(0, 11) == "transparent")
        si.hidden = true;
      si.color = parse_color(val);
    } else if (prop == "background-color") {
      si.background = parse_color(val);
    } else if (prop == "background") {
      size_t sp = val.find(' ');
      int32_t c = parse_color(val.substr(0, sp));
      if (c != kNoColor)
        si.background = c;
      if (val.find("url(") != std::string_view::npos)
        si.background_image = true;
    } else if (prop == "background-image") {
      if (val.find("url(") != std::string_view::npos)
        si.background_image = true;
    } else if (prop == "height" || prop == "max-height" || prop == "width" || prop == "max-width" ||
               prop == "line-height") {
      if (is_zero_length(val))
        zero_box = true;
    } else if (prop == "overflow") {
      if (val.substr(0, 6) == "hidden")
        overflow_hidden = true;
    }
  }
  if (zero_box && overflow_hidden)
    si.hidden = true;
  return si;
}

struct Frame {
  uint32_t name;
  Tag tag;
  bool hidden;
  int32_t fg;
  int32_t bg;
};

struct Attrs {
  std::string href, src, style, color, bgcolor, background, action;
  bool hidden_attr = false;
};

class HtmlScanner {
 public:
  HtmlScanner(std::string_view html, size_t max_bytes, size_t max_links, HtmlText& out)
      : s_(html),
        out_(out),
        max_links_(max_links),
        visible_(out.text, max_bytes),
        hidden_(out.hidden, max_bytes) {
    stack_.push_back({0, Tag::kHtml, false, 0x000000, 0xFFFFFF});
  }

  void run() {
    size_t n = s_.size();
    size_t i = 0;
    while (i < n) {
      const char* lt = static_cast<const char*>(std::memchr(s_.data() + i, '<', n - i));
      size_t stop = lt ? static_cast<size_t>(lt - s_.data()) : n;
      if (stop > i)
        text(s_.substr(i, stop - i));
      if (!lt)
        break;
      i = tag(stop);
    }
    close_anchor();
    out_.truncated = visible_.truncated() || hidden_.truncated();
    out_.zero_width = visible_.saw_zero_width() || hidden_.saw_zero_width();
  }

 private:
  // Sticky hiding (display:none ...) or text drawn in (nearly) the background colour here.
  bool hidden_now() const {
    const Frame& f = stack_.back();
    return f.hidden || colors_close(f.fg, f.bg);
  }

  void text(std::string_view t) {
    if (in_head_)
      return;
    bool hid = hidden_now();
    TextBuilder& b = hid ? hidden_ : visible_;
    size_t i = 0;
    while (i < t.size()) {
      const char* amp = static_cast<const char*>(std::memchr(t.data() + i, '&', t.size() - i));
      size_t stop = amp ? static_cast<size_t>(amp - t.data()) : t.size();
      if (stop > i)
        emit(b, t.substr(i, stop - i), hid);
      if (!amp)
        break;
      scratch_.clear();
      size_t used = decode_entity(t.substr(stop), scratch_);
      if (used == 0) {
        emit(b, "&", hid);
        i = stop + 1;
      } else {
        emit(b, scratch_, hid);
        i = stop + used;
      }
    }
  }

  void emit(TextBuilder& b, std::string_view t, bool hid) {
    b.append(t, false);
    if (in_anchor_ && !hid)
      anchor_builder_->append(t, false);
  }

  void block_break() {
    visible_.newline();
    hidden_.newline();
    if (in_anchor_)
      anchor_builder_->space();
  }

  // Skips to the end of a raw-text element (script/style/title); returns index after it.
  size_t skip_raw(size_t i, std::string_view name) {
    size_t n = s_.size();
    while (i < n) {
      const char* lt = static_cast<const char*>(std::memchr(s_.data() + i, '<', n - i));
      if (!lt)
        return n;
      i = static_cast<size_t>(lt - s_.data()) + 1;
      if (i < n && s_[i] == '/' && i + 1 + name.size() <= n) {
        bool match = true;
        for (size_t k = 0; k < name.size(); ++k) {
          if (ascii_lower(s_[i + 1 + k]) != name[k]) {
            match = false;
            break;
          }
        }
        if (match) {
          const char* gt = static_cast<const char*>(std::memchr(s_.data() + i, '>', n - i));
          return gt ? static_cast<size_t>(gt - s_.data()) + 1 : n;
        }
      }
    }
    return n;
  }

  // s_[lt] == '<'. Returns the index after the construct.
  size_t tag(size_t lt) {
    size_t n = s_.size();
    size_t i = lt + 1;
    if (i >= n) {
      text("<");
      return n;
    }
    char c = s_[i];
    if (c == '!') {
      if (s_.substr(i, 3) == "!--") {
        size_t end = s_.find("-->", i + 3);
        return end == std::string_view::npos ? n : end + 3;
      }
      const char* gt = static_cast<const char*>(std::memchr(s_.data() + i, '>', n - i));
      return gt ? static_cast<size_t>(gt - s_.data()) + 1 : n;
    }
    if (c == '?') {
      const char* gt = static_cast<const char*>(std::memchr(s_.data() + i, '>', n - i));
      return gt ? static_cast<size_t>(gt - s_.data()) + 1 : n;
    }
    bool end_tag = false;
    if (c == '/') {
      end_tag = true;
      ++i;
      if (i >= n || !is_alpha(s_[i])) {
        // "</>" or "</ junk": skip to '>' like browsers do (bogus comment).
        const char* gt = static_cast<const char*>(std::memchr(s_.data() + i, '>', n - i));
        return gt ? static_cast<size_t>(gt - s_.data()) + 1 : n;
      }
    } else if (!is_alpha(c)) {
      text("<");
      return lt + 1;
    }
    char name_buf[16];
    size_t name_len = 0;
    while (i < n && !is_space(s_[i]) && s_[i] != '>' && s_[i] != '/') {
      if (name_len < sizeof(name_buf))
        name_buf[name_len] = ascii_lower(s_[i]);
      ++name_len;
      ++i;
    }
    std::string_view name = name_len <= sizeof(name_buf) ? std::string_view(name_buf, name_len)
                                                         : std::string_view("x-long");
    Tag t = classify(name);
    // Attributes (start tags only keep the ones we use).
    Attrs at;
    bool self_close = false;
    while (i < n && s_[i] != '>') {
      char ch = s_[i];
      if (is_space(ch)) {
        ++i;
        continue;
      }
      if (ch == '/') {
        self_close = true;
        ++i;
        continue;
      }
      self_close = false;
      size_t an = i;
      while (i < n && !is_space(s_[i]) && s_[i] != '=' && s_[i] != '>' &&
             !(s_[i] == '/' && i > an)) {
        ++i;
      }
      if (i == an)
        ++i;  // stray char like '"' : skip
      std::string_view aname = s_.substr(an, i - an);
      while (i < n && is_space(s_[i]))
        ++i;
      std::string_view aval;
      bool has_val = false;
      if (i < n && s_[i] == '=') {
        ++i;
        while (i < n && is_space(s_[i]))
          ++i;
        if (i < n && (s_[i] == '"' || s_[i] == '\'')) {
          char q = s_[i++];
          const char* e = static_cast<const char*>(std::memchr(s_.data() + i, q, n - i));
          size_t ve = e ? static_cast<size_t>(e - s_.data()) : n;
          aval = s_.substr(i, ve - i);
          i = e ? ve + 1 : n;
        } else {
          size_t vs = i;
          while (i < n && !is_space(s_[i]) && s_[i] != '>')
            ++i;
          aval = s_.substr(vs, i - vs);
        }
        has_val = true;
      }
      if (!end_tag)
        keep_attr(aname, aval, has_val, at);
    }
    size_t after = i < n ? i + 1 : n;
    if (end_tag) {
      end(t, name);
      return after;
    }
    return start(t, name, at, self_close, after);
  }

  static bool ieq(std::string_view a, std::string_view lower_b) {
    if (a.size() != lower_b.size())
      return false;
    for (size_t k = 0; k < a.size(); ++k) {
      if (ascii_lower(a[k]) != lower_b[k])
        return false;
    }
    return true;
  }

  void keep_attr(std::string_view name, std::string_view val, bool has_val, Attrs& at) {
    auto decoded = [&](std::string& dst) {
      dst.clear();
      for (size_t k = 0; k < val.size();) {
        if (val[k] == '&') {
          size_t used = decode_entity(val.substr(k), dst);
          if (used) {
            k += used;
            continue;
          }
        }
        dst.push_back(val[k++]);
      }
    };
    switch (name.size()) {
      case 3:
        if (ieq(name, "src"))
          decoded(at.src);
        break;
      case 4:
        if (ieq(name, "href"))
          decoded(at.href);
        break;
      case 5:
        if (ieq(name, "style"))
          decoded(at.style);
        if (ieq(name, "color"))
          at.color.assign(val);
        break;
      case 6:
        if (ieq(name, "hidden"))
          at.hidden_attr = true;
        if (ieq(name, "action"))
          decoded(at.action);
        break;
      case 7:
        if (ieq(name, "bgcolor"))
          at.bgcolor.assign(val);
        break;
      case 10:
        if (ieq(name, "background"))
          decoded(at.background);
        break;
      default:
        break;
    }
    (void)has_val;
  }

  void add_link(std::string url, bool image) {
    if (url.empty() || out_.links.size() >= max_links_)
      return;
    out_.links.push_back({std::move(url), {}, image});
  }

  void close_anchor() {
    if (!in_anchor_)
      return;
    in_anchor_ = false;
    if (out_.links.size() >= max_links_)
      return;
    std::string_view a = anchor_;
    while (!a.empty() && is_space(a.back()))
      a.remove_suffix(1);
    out_.links.push_back({std::move(anchor_href_), std::string(a), false});
    anchor_.clear();
    anchor_href_.clear();
  }

  size_t start(Tag t, std::string_view name, const Attrs& at, bool self_close, size_t after) {
    switch (t) {
      case Tag::kScript:
        return skip_raw(after, "script");
      case Tag::kStyle:
        return skip_raw(after, "style");
      case Tag::kTitle:
        return skip_raw(after, "title");
      case Tag::kHead:
        in_head_ = true;
        return after;
      case Tag::kHtml:
      case Tag::kVoid:
        return after;
      default:
        break;
    }
    if (t != Tag::kOther)
      in_head_ = false;  // body content started (even without <body>)
    switch (t) {
      case Tag::kBr:
        visible_.newline();
        hidden_.newline();
        return after;
      case Tag::kImg:
        if (!at.src.empty())
          add_link(at.src, true);
        return after;
      case Tag::kA:
        close_anchor();
        if (!at.href.empty()) {
          in_anchor_ = true;
          anchor_href_ = at.href;
          anchor_.clear();
          anchor_builder_.emplace(anchor_, kMaxAnchorText);
        }
        break;
      case Tag::kArea:
        if (!at.href.empty())
          add_link(at.href, false);
        return after;
      case Tag::kForm:
        if (!at.action.empty())
          add_link(at.action, false);
        block_break();
        break;
      case Tag::kFrame:
        if (!at.src.empty())
          add_link(at.src, false);
        break;
      case Tag::kBlock:
      case Tag::kTableBg:
      case Tag::kBody:
        block_break();
        break;
      case Tag::kP:
      case Tag::kLi:
        pop_to_if_open(t);
        block_break();
        break;
      case Tag::kTd:
        pop_to_if_open(t);
        visible_.space();
        hidden_.space();
        break;
      default:
        break;
    }
    if (!at.background.empty())
      add_link(at.background, true);
    if (self_close || t == Tag::kImg || stack_.size() >= kMaxStack)
      return after;
    const Frame& parent = stack_.back();
    Frame f{name_hash(name), t, parent.hidden, parent.fg, parent.bg};
    // Quirks mode (most mail): tables do not inherit the text colour.
    if (name == "table")
      f.fg = 0x000000;
    if (at.hidden_attr)
      f.hidden = true;
    if (!at.bgcolor.empty()) {
      int32_t c = parse_color(at.bgcolor);
      if (c != kNoColor)
        f.bg = c;
    }
    if (!at.color.empty()) {
      int32_t c = parse_color(at.color);
      if (c != kNoColor)
        f.fg = c;
    }
    if (!at.style.empty()) {
      StyleInfo si = parse_style(at.style);
      if (si.hidden)
        f.hidden = true;
      if (si.background != kNoColor)
        f.bg = si.background;
      if (si.color != kNoColor)
        f.fg = si.color;
      if (si.background_image)
        f.bg = kNoColor;
    }
    // Over a background image the real background colour is unknown: never call it hidden.
    if (!at.background.empty())
      f.bg = kNoColor;
    stack_.push_back(f);
    return after;
  }

  // <p>, <li>, <td> close an open element of the same kind (browsers do this implicitly).
  void pop_to_if_open(Tag t) {
    for (size_t k = stack_.size(); k-- > 1;) {
      Tag top = stack_[k].tag;
      if (top == t) {
        stack_.resize(k);
        return;
      }
      if (top == Tag::kTableBg || top == Tag::kBlock || top == Tag::kBody)
        return;
    }
  }

  void end(Tag t, std::string_view name) {
    if (t == Tag::kHead) {
      in_head_ = false;
      return;
    }
    if (t == Tag::kA)
      close_anchor();
    if (t == Tag::kBlock || t == Tag::kP || t == Tag::kLi || t == Tag::kTableBg ||
        t == Tag::kForm || t == Tag::kBr) {
      block_break();
    } else if (t == Tag::kTd) {
      visible_.space();
      hidden_.space();
    }
    uint32_t h = name_hash(name);
    // Pop to the nearest matching element; unmatched end tags are ignored.
    for (size_t k = stack_.size(); k-- > 1;) {
      if (stack_[k].name == h) {
        stack_.resize(k);
        return;
      }
      if (stack_.size() - k > 64)
        return;
    }
  }

  static constexpr size_t kMaxStack = 256;
  static constexpr size_t kMaxAnchorText = 512;
  std::string_view s_;
  HtmlText& out_;
  size_t max_links_;
  TextBuilder visible_;
  TextBuilder hidden_;
  std::vector<Frame> stack_;
  bool in_head_ = false;
  bool in_anchor_ = false;
  std::string anchor_href_;
  std::string anchor_;
  std::optional<TextBuilder> anchor_builder_;
  std::string scratch_;
};

}  // namespace

void html_to_text(std::string_view html, size_t max_bytes, size_t max_links, HtmlText& out) {
  HtmlScanner scanner(html, max_bytes, max_links, out);
  scanner.run();
}

}  // namespace mailsift::mime::detail
