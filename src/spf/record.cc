#include "spf/record.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/ascii.h"

namespace mailsift::spf {
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

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// "/" ("0" / %x31-39 0*1DIGIT), value <= max. No leading zeros (cidr4-032 is a permerror).
bool parse_cidr_number(std::string_view s, int max, int& out) {
  if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), is_digit))
    return false;
  if (s.size() > 1 && s[0] == '0')
    return false;
  int v = 0;
  for (char c : s)
    v = v * 10 + (c - '0');
  if (v > max)
    return false;
  out = v;
  return true;
}

// dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]; "" is valid.
bool parse_dual_cidr(std::string_view s, int& c4, int& c6) {
  if (s.empty())
    return true;
  if (s[0] != '/')
    return false;
  s.remove_prefix(1);
  if (!s.empty() && s[0] != '/') {  // ip4 part
    auto end = s.find('/');
    if (!parse_cidr_number(s.substr(0, end), 32, c4))
      return false;
    if (end == std::string_view::npos)
      return true;
    s.remove_prefix(end);
    if (s.size() < 2 || s[0] != '/' || s[1] != '/')
      return false;
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] != '/')
    return false;
  return parse_cidr_number(s.substr(1), 128, c6);
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view l) {
  if (l.empty() || !is_alnum(l.front()) || !is_alnum(l.back()))
    return false;
  bool letter_or_dash = false;
  for (char c : l) {
    if (!is_alnum(c) && c != '-')
      return false;
    if (is_alpha(c) || c == '-')
      letter_or_dash = true;
  }
  return letter_or_dash;
}

bool is_macro_letter(char c, bool explanation) {
  switch (ascii_lower(c)) {
    case 's':
    case 'l':
    case 'o':
    case 'd':
    case 'i':
    case 'p':
    case 'h':
    case 'v':
      return true;
    case 'c':
    case 'r':
    case 't':
      return explanation;
    default:
      return false;
  }
}

bool is_delimiter(char c) {
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

// One parsed "%{...}" (or %%, %_, %-).
struct Macro {
  char letter = 0;  // 0 for the escapes
  std::string_view escape;
  int digits = 0;  // 0 = all
  bool reverse = false;
  std::string delimiters;
};

// Parses the macro at s[pos] == '%'; advances pos past it.
Result<Macro> parse_macro(std::string_view s, size_t& pos, bool explanation) {
  Macro m;
  if (pos + 1 >= s.size())
    return Error::permanent("trailing '%' in macro-string");
  char n = s[pos + 1];
  if (n == '%' || n == '_' || n == '-') {
    m.escape = s.substr(pos, 2);
    pos += 2;
    return m;
  }
  if (n != '{')
    return Error::permanent("invalid macro: '%" + std::string(1, n) + "'");
  size_t i = pos + 2;
  if (i >= s.size() || !is_macro_letter(s[i], explanation)) {
    return Error::permanent(i < s.size() ? "invalid macro letter '" + std::string(1, s[i]) + "'"
                                         : "unterminated macro");
  }
  m.letter = s[i++];
  size_t digits_start = i;
  while (i < s.size() && is_digit(s[i]))
    ++i;
  if (i > digits_start) {
    if (i - digits_start > 3)
      return Error::permanent("macro digit transformer too large");
    for (size_t k = digits_start; k < i; ++k)
      m.digits = m.digits * 10 + (s[k] - '0');
    // §7.3: "If a DIGIT is specified, the value MUST be nonzero."
    if (m.digits == 0)
      return Error::permanent("macro digit transformer is zero");
  }
  if (i < s.size() && ascii_lower(s[i]) == 'r') {
    m.reverse = true;
    ++i;
  }
  while (i < s.size() && is_delimiter(s[i]))
    m.delimiters.push_back(s[i++]);
  if (i >= s.size() || s[i] != '}')
    return Error::permanent("malformed macro");
  pos = i + 1;
  return m;
}

// macro-string validation. `spaces` allows SP (explanation text). Reports whether the string ends
// in a macro-expand and where the literal tail after the last macro begins.
Status scan_macro_string(std::string_view s, bool explanation, bool* ends_in_macro,
                         size_t* tail_start) {
  size_t pos = 0;
  bool last_macro = false;
  size_t tail = 0;
  while (pos < s.size()) {
    char c = s[pos];
    if (c == '%') {
      auto m = parse_macro(s, pos, explanation);
      if (!m)
        return m.error();
      last_macro = true;
      tail = pos;
      continue;
    }
    bool literal = (c >= 0x21 && c <= 0x7e) || (explanation && c == ' ');
    if (!literal)
      return Error::permanent("invalid character in macro-string");
    last_macro = false;
    ++pos;
  }
  if (ends_in_macro)
    *ends_in_macro = last_macro;
  if (tail_start)
    *tail_start = tail;
  return Ok{};
}

std::string url_escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (is_alnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string macro_value(char letter, const MacroContext& ctx) {
  switch (ascii_lower(letter)) {
    case 's':
      return ctx.sender;
    case 'l':
      return ctx.local_part;
    case 'o':
      return ctx.sender_domain;
    case 'd':
      return ctx.domain;
    case 'h':
      return ctx.helo;
    case 'r':
      return ctx.receiver.empty() ? "unknown" : ctx.receiver;
    case 't':
      return std::to_string(ctx.now);
    case 'v':
      return ctx.client.v6 ? "ip6" : "in-addr";
    case 'c':
      return to_text(ctx.client);
    case 'p':
      return ctx.validated_ptr ? ctx.validated_ptr() : "unknown";
    case 'i': {
      std::string out;
      if (!ctx.client.v6) {
        for (int k = 0; k < 4; ++k) {
          if (k)
            out.push_back('.');
          out += std::to_string(ctx.client.bytes[k]);
        }
      } else {
        static const char* hex = "0123456789abcdef";
        for (int k = 0; k < 16; ++k) {
          if (k)
            out.push_back('.');
          out.push_back(hex[ctx.client.bytes[k] >> 4]);
          out.push_back('.');
          out.push_back(hex[ctx.client.bytes[k] & 15]);
        }
      }
      return out;
    }
    default:
      return {};
  }
}

// §7.3 transformers: split on the delimiters (default "."), optionally reverse, keep the
// right-most `digits` parts, join with ".".
std::string transform(const std::string& value, const Macro& m) {
  std::string delims = m.delimiters.empty() ? "." : m.delimiters;
  std::vector<std::string> parts;
  std::string cur;
  for (char c : value) {
    if (delims.find(c) != std::string::npos) {
      parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  parts.push_back(std::move(cur));
  if (m.reverse)
    std::reverse(parts.begin(), parts.end());
  size_t first = 0;
  if (m.digits > 0 && static_cast<size_t>(m.digits) < parts.size())
    first = parts.size() - m.digits;
  std::string out;
  for (size_t k = first; k < parts.size(); ++k) {
    if (k > first)
      out.push_back('.');
    out += parts[k];
  }
  return out;
}

Status parse_mechanism(std::string_view term, Mechanism& m) {
  m.text = std::string(term);
  if (!term.empty() && (term[0] == '+' || term[0] == '-' || term[0] == '~' || term[0] == '?')) {
    m.qualifier = static_cast<Qualifier>(term[0]);
    term.remove_prefix(1);
  }
  size_t n = 0;
  while (n < term.size() && is_alnum(term[n]))
    ++n;
  std::string_view name = term.substr(0, n), rest = term.substr(n);
  auto unknown = [&] { return Error::permanent("unknown mechanism '" + m.text + "'"); };
  auto need_domain = [&](std::string_view r) -> Status {
    if (r.size() < 2 || r[0] != ':')
      return Error::permanent("'" + m.text + "' needs a domain");
    m.domain_spec = std::string(r.substr(1));
    return validate_domain_spec(m.domain_spec);
  };
  if (iequals(name, "all")) {
    m.kind = MechanismKind::kAll;
    if (!rest.empty())
      return Error::permanent("'all' takes no argument: '" + m.text + "'");
    return Ok{};
  }
  if (iequals(name, "include") || iequals(name, "exists")) {
    m.kind = iequals(name, "include") ? MechanismKind::kInclude : MechanismKind::kExists;
    return need_domain(rest);
  }
  if (iequals(name, "ptr")) {
    m.kind = MechanismKind::kPtr;
    if (rest.empty())
      return Ok{};
    return need_domain(rest);
  }
  if (iequals(name, "a") || iequals(name, "mx")) {
    m.kind = iequals(name, "a") ? MechanismKind::kA : MechanismKind::kMx;
    if (rest.empty() || rest[0] == '/') {
      if (!parse_dual_cidr(rest, m.cidr4, m.cidr6))
        return Error::permanent("bad CIDR length in '" + m.text + "'");
      return Ok{};
    }
    if (rest[0] != ':')
      return unknown();
    rest.remove_prefix(1);
    // The domain-spec may itself contain '/', so the CIDR suffix is the first '/' from which the
    // rest parses as a dual-cidr-length.
    size_t cut = rest.size();
    for (size_t p = rest.find('/'); p != std::string_view::npos; p = rest.find('/', p + 1)) {
      int c4 = 32, c6 = 128;
      if (parse_dual_cidr(rest.substr(p), c4, c6)) {
        cut = p;
        m.cidr4 = c4;
        m.cidr6 = c6;
        break;
      }
    }
    if (cut == 0)
      return Error::permanent("'" + m.text + "' needs a domain");
    m.domain_spec = std::string(rest.substr(0, cut));
    return validate_domain_spec(m.domain_spec);
  }
  if (iequals(name, "ip4") || iequals(name, "ip6")) {
    bool v6 = iequals(name, "ip6");
    m.kind = v6 ? MechanismKind::kIp6 : MechanismKind::kIp4;
    if (rest.size() < 2 || rest[0] != ':')
      return Error::permanent("'" + m.text + "' needs an address");
    rest.remove_prefix(1);
    auto slash = rest.find('/');
    auto net = parse_address_exact(rest.substr(0, slash), v6);
    if (!net)
      return Error::permanent("bad address in '" + m.text + "'");
    m.network = *net;
    if (slash != std::string_view::npos &&
        !parse_cidr_number(rest.substr(slash + 1), v6 ? 128 : 32, v6 ? m.cidr6 : m.cidr4))
      return Error::permanent("bad CIDR length in '" + m.text + "'");
    return Ok{};
  }
  return unknown();
}

}  // namespace

std::optional<Address> parse_address_exact(std::string_view text, bool v6) {
  if (text.empty() || text.size() > 63)
    return std::nullopt;
  std::string s(text);
  Address a;
  a.v6 = v6;
  if (inet_pton(v6 ? AF_INET6 : AF_INET, s.c_str(), a.bytes.data()) != 1)
    return std::nullopt;
  return a;
}

std::optional<Address> parse_address(std::string_view text) {
  bool v6 = text.find(':') != std::string_view::npos;
  auto a = parse_address_exact(text, v6);
  if (!a || !a->v6)
    return a;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a->bytes.data(), mapped, 12) == 0) {
    Address v4;
    std::copy(a->bytes.begin() + 12, a->bytes.end(), v4.bytes.begin());
    return v4;
  }
  return a;
}

bool in_network(const Address& a, const Address& net, int prefix) {
  if (a.v6 != net.v6)
    return false;
  int bits = std::clamp(prefix, 0, a.v6 ? 128 : 32);
  for (int k = 0; bits > 0; ++k, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a.bytes[k] & mask) != (net.bytes[k] & mask))
      return false;
  }
  return true;
}

std::string to_text(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf);
  return buf;
}

bool is_spf_record(std::string_view txt) {
  return txt.size() >= 6 && iequals(txt.substr(0, 6), "v=spf1") &&
         (txt.size() == 6 || txt[6] == ' ');
}

Status validate_domain_spec(std::string_view spec, bool explanation_letters) {
  if (spec.empty())
    return Error::permanent("empty domain-spec");
  bool ends_in_macro = false;
  size_t tail_start = 0;
  if (auto st = scan_macro_string(spec, explanation_letters, &ends_in_macro, &tail_start); !st)
    return st;
  if (ends_in_macro)
    return Ok{};
  // domain-end = "." toplabel [ "." ], in the literal text after the last macro.
  std::string_view tail = spec.substr(tail_start);
  if (!tail.empty() && tail.back() == '.')
    tail.remove_suffix(1);
  auto dot = tail.rfind('.');
  if (dot == std::string_view::npos || !is_toplabel(tail.substr(dot + 1)))
    return Error::permanent("domain-spec '" + std::string(spec) +
                            "' does not end in a valid toplabel");
  return Ok{};
}

Result<Record> parse_record(std::string_view txt) {
  if (!is_spf_record(txt))
    return Error::permanent("not an SPF record");
  // §3.1 and §4.6.1: records are 7-bit ASCII and terms are separated by spaces only.
  for (unsigned char c : txt) {
    if (c < 0x20 || c > 0x7e)
      return Error::permanent("non-ASCII or control character in record");
  }
  Record rec;
  std::string_view rest = txt.substr(6);
  while (!rest.empty()) {
    if (rest[0] == ' ') {
      rest.remove_prefix(1);
      continue;
    }
    auto end = rest.find(' ');
    std::string_view term = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    // modifier = name "=" macro-string; a term is a modifier when its first of "=:/" is "=".
    auto sep = term.find_first_of("=:/");
    if (sep != std::string_view::npos && term[sep] == '=') {
      std::string_view name = term.substr(0, sep), value = term.substr(sep + 1);
      bool valid_name =
          !name.empty() && is_alpha(name[0]) && std::all_of(name.begin(), name.end(), [](char c) {
            return is_alnum(c) || c == '-' || c == '_' || c == '.';
          });
      if (!valid_name)
        return Error::permanent("invalid modifier name in '" + std::string(term) + "'");
      if (iequals(name, "redirect") || iequals(name, "exp")) {
        auto& slot = iequals(name, "redirect") ? rec.redirect : rec.exp;
        if (slot)
          return Error::permanent("duplicate " + std::string(name) + "= modifier");
        if (auto st = validate_domain_spec(value); !st)
          return st.error();
        slot = std::string(value);
      } else {
        // Unknown modifiers are ignored, but their values must still be valid macro-strings.
        if (auto st = scan_macro_string(value, true, nullptr, nullptr); !st)
          return Error::permanent("invalid modifier '" + std::string(term) +
                                  "': " + st.error().message);
      }
      continue;
    }
    Mechanism m;
    if (auto st = parse_mechanism(term, m); !st)
      return st.error();
    rec.mechanisms.push_back(std::move(m));
  }
  return rec;
}

Result<std::string> expand(std::string_view spec, const MacroContext& ctx, bool explanation) {
  std::string out;
  size_t pos = 0;
  while (pos < spec.size()) {
    char c = spec[pos];
    if (c != '%') {
      bool literal = (c >= 0x21 && c <= 0x7e) || (explanation && c == ' ');
      if (!literal)
        return Error::permanent("invalid character in macro-string");
      out.push_back(c);
      ++pos;
      continue;
    }
    auto m = parse_macro(spec, pos, explanation);
    if (!m)
      return m.error();
    if (!m->escape.empty()) {
      out += m->escape[1] == '%' ? "%" : m->escape[1] == '_' ? " " : "%20";
      continue;
    }
    std::string v = transform(macro_value(m->letter, ctx), *m);
    // An upper-case macro letter URL-escapes its value (§7.3).
    out += std::isupper(static_cast<unsigned char>(m->letter)) ? url_escape(v) : v;
  }
  if (!explanation) {
    if (!out.empty() && out.back() == '.')
      out.pop_back();
    // Too long: drop labels from the left until it fits (§7.3).
    while (out.size() > 253) {
      auto dot = out.find('.');
      if (dot == std::string::npos)
        break;
      out.erase(0, dot + 1);
    }
  }
  return out;
}

bool is_queryable_name(std::string_view name) {
  if (!name.empty() && name.back() == '.')
    name.remove_suffix(1);
  if (name.empty() || name.size() > 253)
    return false;
  size_t start = 0;
  while (true) {
    auto dot = name.find('.', start);
    size_t len = (dot == std::string_view::npos ? name.size() : dot) - start;
    if (len == 0 || len > 63)
      return false;
    if (dot == std::string_view::npos)
      return true;
    start = dot + 1;
  }
}

}  // namespace mailsift::spf
