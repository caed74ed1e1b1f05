#include "rules/rule_file.h"

#include <fmt/format.h>
#include <hs/hs.h>

#include <charconv>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "core/ascii.h"

namespace mailsift::rules::detail {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}
bool is_ident_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_header_name_char(char c) {
  return is_ident_char(c) || c == '-' || c == '.';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

// A cursor over one line. Methods that fail return false and leave a message in error.
struct Cursor {
  std::string_view s;
  size_t pos = 0;
  std::string error;

  bool at_end() const { return pos >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[pos]; }
  void skip_ws() {
    while (!at_end() && is_space(s[pos]))
      ++pos;
  }
  std::string_view word() {
    size_t start = pos;
    while (!at_end() && !is_space(s[pos]))
      ++pos;
    return s.substr(start, pos - start);
  }
  std::string_view rest() const { return at_end() ? std::string_view() : s.substr(pos); }
  bool starts_with(std::string_view p) const { return rest().substr(0, p.size()) == p; }
  bool fail(std::string msg) {
    error = std::move(msg);
    return false;
  }
};

bool valid_rule_name(std::string_view name, std::string* why) {
  if (name.empty()) {
    *why = "missing rule name";
    return false;
  }
  if (name.size() > kMaxNameBytes) {
    *why = fmt::format("rule name longer than {} bytes", kMaxNameBytes);
    return false;
  }
  if (!is_ident_start(name[0])) {
    *why = fmt::format("rule name '{}' must start with a letter or '_'", name);
    return false;
  }
  for (char c : name) {
    if (!is_ident_char(c)) {
      *why = fmt::format("rule name '{}' may only contain letters, digits and '_'", name);
      return false;
    }
  }
  return true;
}

// Rejects {n,m} bounds above kMaxRepeatBound: vectorscan accepts them but builds large
// automata (and nested ones multiply), which would make loading slow for no anti-spam value.
bool check_repeat_bounds(std::string_view pat, std::string* why) {
  bool in_class = false;
  for (size_t i = 0; i < pat.size(); ++i) {
    char c = pat[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']')
        in_class = false;
      continue;
    }
    if (c == '[') {
      in_class = true;
      if (i + 1 < pat.size() && pat[i + 1] == '^')
        ++i;
      if (i + 1 < pat.size() && pat[i + 1] == ']')
        ++i;  // leading ']' is literal
      continue;
    }
    if (c != '{')
      continue;
    size_t j = i + 1;
    for (;;) {
      if (j >= pat.size() || !is_digit(pat[j]))
        break;
      uint64_t n = 0;
      while (j < pat.size() && is_digit(pat[j])) {
        n = std::min<uint64_t>(n * 10 + static_cast<uint64_t>(pat[j] - '0'), 1u << 30);
        ++j;
      }
      if (n > kMaxRepeatBound) {
        *why = fmt::format("repeat bound {} exceeds the limit of {}", n, kMaxRepeatBound);
        return false;
      }
      if (j < pat.size() && pat[j] == ',') {
        ++j;
        continue;
      }
      break;
    }
  }
  return true;
}

// Parses "/pattern/flags" at the cursor. A '/' inside a [...] class does not end the pattern,
// so /^https?:\/\/[^/]+/ works; elsewhere write it as \/.
bool parse_regex(Cursor& c, RuleSpec& spec) {
  if (c.peek() != '/')
    return c.fail("expected a /regex/ here");
  size_t start = ++c.pos;
  bool in_class = false;
  for (;;) {
    if (c.at_end())
      return c.fail("unterminated /regex/");
    char ch = c.s[c.pos];
    if (ch == '\\') {
      c.pos += 2;
      continue;
    }
    if (in_class) {
      if (ch == ']')
        in_class = false;
    } else if (ch == '[') {
      in_class = true;
      if (c.pos + 1 < c.s.size() && c.s[c.pos + 1] == '^')
        ++c.pos;
      if (c.pos + 1 < c.s.size() && c.s[c.pos + 1] == ']')
        ++c.pos;
    } else if (ch == '/') {
      break;
    }
    ++c.pos;
  }
  std::string_view pat = c.s.substr(start, c.pos - start);
  ++c.pos;  // closing '/'
  if (pat.empty())
    return c.fail("empty /regex/");
  if (pat.size() > kMaxPatternBytes) {
    return c.fail(fmt::format("regex longer than {} bytes", kMaxPatternBytes));
  }
  std::string why;
  if (!check_repeat_bounds(pat, &why))
    return c.fail(why);
  unsigned flags = 0;
  while (!c.at_end() && !is_space(c.peek())) {
    switch (c.peek()) {
      case 'i':
        flags |= HS_FLAG_CASELESS;
        break;
      case 's':
        flags |= HS_FLAG_DOTALL;
        break;
      case 'm':
        flags |= HS_FLAG_MULTILINE;
        break;
      default:
        return c.fail(fmt::format("unknown regex flag '{}' (allowed: i s m)", c.peek()));
    }
    ++c.pos;
  }
  spec.pattern = std::string(pat);
  spec.hs_flags = flags;
  return true;
}

// Parses `score "description"` (and an optional trailing # comment). Helper rules ("__" names)
// may leave both out.
bool parse_tail(Cursor& c, RuleSpec& spec) {
  c.skip_ws();
  if (c.at_end() || c.peek() == '#') {
    if (!spec.info.reported)
      return true;
    return c.fail("missing score and \"description\"");
  }
  std::string_view score_text = c.word();
  double score = 0;
  auto [ptr, ec] = std::from_chars(score_text.data(), score_text.data() + score_text.size(), score);
  if (ec != std::errc() || ptr != score_text.data() + score_text.size() || !std::isfinite(score)) {
    return c.fail(fmt::format("bad score '{}'", score_text));
  }
  if (std::fabs(score) > kMaxAbsScore) {
    return c.fail(fmt::format("score {} outside [-{}, {}]", score, kMaxAbsScore, kMaxAbsScore));
  }
  spec.info.score = score;
  c.skip_ws();
  if (c.peek() != '"')
    return c.fail("expected a \"description\" after the score");
  ++c.pos;
  std::string desc;
  for (;;) {
    if (c.at_end())
      return c.fail("unterminated \"description\"");
    char ch = c.s[c.pos++];
    if (ch == '"')
      break;
    if (ch == '\\' && !c.at_end() && (c.peek() == '"' || c.peek() == '\\'))
      ch = c.s[c.pos++];
    desc.push_back(ch);
  }
  c.skip_ws();
  if (!c.at_end() && c.peek() != '#') {
    return c.fail(fmt::format("unexpected text after the description: '{}'", c.rest()));
  }
  desc = std::string(trim(desc));
  if (desc.empty() && spec.info.reported)
    return c.fail("empty description");
  if (desc.size() > kMaxDescriptionBytes) {
    return c.fail(fmt::format("description longer than {} bytes", kMaxDescriptionBytes));
  }
  spec.info.description = std::move(desc);
  return true;
}

// For fact / eval / meta lines, whose definition contains no quote: splits the remainder into
// the definition and the `score "description"` tail (the last word before the first quote).
std::string_view split_definition(Cursor& c) {
  std::string_view rest = c.rest();
  size_t quote = rest.find('"');
  if (quote == std::string_view::npos) {
    // No description: only legal for helpers, where the whole remainder (minus a trailing
    // comment) is the definition. parse_tail reports the error otherwise.
    size_t hash = rest.find('#');
    std::string_view def = trim(rest.substr(0, hash));
    c.pos += (hash == std::string_view::npos) ? rest.size() : hash;
    return def;
  }
  std::string_view head = rest.substr(0, quote);
  while (!head.empty() && is_space(head.back()))
    head.remove_suffix(1);
  size_t score_start = head.size();
  while (score_start > 0 && !is_space(head[score_start - 1]))
    --score_start;
  c.pos += score_start;
  return trim(head.substr(0, score_start));
}

bool parse_header(Cursor& c, RuleSpec& spec) {
  auto take_header_name = [&](std::string_view what) -> std::string_view {
    size_t start = c.pos;
    while (!c.at_end() && is_header_name_char(c.peek()))
      ++c.pos;
    std::string_view name = c.s.substr(start, c.pos - start);
    if (name.empty())
      c.fail(fmt::format("expected a header name {}", what));
    return name;
  };
  size_t def_start = c.pos;
  if (c.starts_with("exists:") || c.starts_with("!exists:")) {
    spec.test = c.peek() == '!' ? HeaderTest::kNotExists : HeaderTest::kExists;
    c.pos += spec.test == HeaderTest::kNotExists ? 8 : 7;
    std::string_view name = take_header_name("after exists:");
    if (name.empty())
      return false;
    if (!c.at_end() && !is_space(c.peek()))
      return c.fail("bad character in header name");
    spec.header_name = ascii_lower(name);
    spec.info.definition = std::string(c.s.substr(def_start, c.pos - def_start));
    return true;
  }
  std::string_view name = take_header_name("(or ALL, exists:Name, !exists:Name)");
  if (name.empty())
    return false;
  if (name == "ALL") {
    spec.header_all = true;
  }
  if (c.peek() == ':') {
    ++c.pos;
    size_t vstart = c.pos;
    while (!c.at_end() && is_ident_char(c.peek()))
      ++c.pos;
    std::string_view view = c.s.substr(vstart, c.pos - vstart);
    if (spec.header_all)
      return c.fail("ALL takes no :view");
    if (view == "addr") {
      spec.view = HeaderView::kAddr;
    } else if (view == "name") {
      spec.view = HeaderView::kName;
    } else if (view == "raw") {
      spec.view = HeaderView::kRaw;
    } else {
      return c.fail(fmt::format("unknown header view ':{}' (allowed: :addr :name :raw)", view));
    }
  }
  spec.header_name = ascii_lower(name);
  c.skip_ws();
  if (c.starts_with("=~")) {
    spec.test = HeaderTest::kMatch;
  } else if (c.starts_with("!~")) {
    spec.test = HeaderTest::kNotMatch;
  } else {
    return c.fail("expected =~ or !~ after the header name");
  }
  c.pos += 2;
  c.skip_ws();
  if (!parse_regex(c, spec))
    return false;
  spec.info.definition = std::string(c.s.substr(def_start, c.pos - def_start));
  return true;
}

struct EvalEntry {
  const char* name;
  EvalFn fn;
  bool takes_arg;
  int64_t default_arg;
};

constexpr EvalEntry kEvals[] = {
    {"html_only", EvalFn::kHtmlOnly, false, 0},
    {"hidden_text", EvalFn::kHiddenText, true, 1},
    {"link_text_mismatch", EvalFn::kLinkTextMismatch, false, 0},
    {"url_count", EvalFn::kUrlCount, true, 10},
    {"no_visible_text", EvalFn::kNoVisibleText, false, 0},
    {"executable_attachment", EvalFn::kExecutableAttachment, false, 0},
    {"reply_to_differs", EvalFn::kReplyToDiffers, false, 0},
    {"body_caps_percent", EvalFn::kBodyCapsPercent, true, 50},
    {"image_with_little_text", EvalFn::kImageWithLittleText, true, 200},
};

bool parse_eval(std::string_view def, RuleSpec& spec, std::string* why) {
  std::string_view fname = def;
  std::string_view arg;
  bool has_arg = false;
  size_t paren = def.find('(');
  if (paren != std::string_view::npos) {
    if (def.back() != ')') {
      *why = fmt::format("bad eval call '{}'", def);
      return false;
    }
    fname = def.substr(0, paren);
    arg = def.substr(paren + 1, def.size() - paren - 2);
    has_arg = true;
  }
  for (const auto& e : kEvals) {
    if (fname != e.name)
      continue;
    spec.eval = e.fn;
    spec.eval_arg = e.default_arg;
    if (has_arg) {
      if (!e.takes_arg) {
        *why = fmt::format("eval {} takes no argument", e.name);
        return false;
      }
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), v);
      if (arg.empty() || ec != std::errc() || ptr != arg.data() + arg.size() || v < 0 ||
          v > 1000000000) {
        *why = fmt::format("eval {} needs a non-negative integer argument, got '{}'", e.name, arg);
        return false;
      }
      spec.eval_arg = v;
    }
    return true;
  }
  std::string known;
  for (const auto& e : kEvals)
    known += std::string(known.empty() ? "" : ", ") + e.name;
  *why = fmt::format("unknown eval '{}' (known: {})", fname, known);
  return false;
}

// Recursive-descent parser for meta expressions, emitting reverse Polish. Grammar, loosest
// binding first:  or: and ('||' and)* ; and: cmp ('&&' cmp)* ; cmp: sum (op sum)? with op in
// > >= < <= == != ; sum: unary ('+' unary)* ; unary: '!' unary | NAME | INT | '(' or ')'.
class MetaParser {
 public:
  explicit MetaParser(std::string_view text) : s_(text) {}

  bool parse(std::vector<MetaInstr>* out, std::string* why) {
    out_ = out;
    skip_ws();
    if (pos_ == s_.size()) {
      *why = "empty meta expression";
      return false;
    }
    if (!parse_or(0)) {
      *why = error_;
      return false;
    }
    skip_ws();
    if (pos_ < s_.size()) {
      *why = fmt::format("unexpected '{}' in meta expression", s_.substr(pos_));
      return false;
    }
    return true;
  }

 private:
  void skip_ws() {
    while (pos_ < s_.size() && is_space(s_[pos_]))
      ++pos_;
  }
  bool eat(std::string_view tok) {
    skip_ws();
    if (s_.substr(pos_, tok.size()) != tok)
      return false;
    pos_ += tok.size();
    return true;
  }
  bool fail(std::string m) {
    if (error_.empty())
      error_ = std::move(m);
    return false;
  }
  bool emit(MetaOp op, int32_t v = 0, std::string name = {}) {
    if (out_->size() >= 4 * kMaxMetaTerms)
      return fail("meta expression too long");
    out_->push_back(MetaInstr{op, v, std::move(name)});
    return true;
  }
  bool deeper(size_t depth) {
    return depth < kMaxMetaDepth || fail("meta expression nested too deeply");
  }

  bool parse_or(size_t d) {
    if (!deeper(d) || !parse_and(d + 1))
      return false;
    while (eat("||")) {
      if (!parse_and(d + 1) || !emit(MetaOp::kOr))
        return false;
    }
    return true;
  }
  bool parse_and(size_t d) {
    if (!parse_cmp(d + 1))
      return false;
    while (eat("&&")) {
      if (!parse_cmp(d + 1) || !emit(MetaOp::kAnd))
        return false;
    }
    return true;
  }
  bool parse_cmp(size_t d) {
    if (!parse_sum(d + 1))
      return false;
    static constexpr std::pair<std::string_view, MetaOp> kOps[] = {
        {">=", MetaOp::kGe}, {"<=", MetaOp::kLe}, {"==", MetaOp::kEq},
        {"!=", MetaOp::kNe}, {">", MetaOp::kGt},  {"<", MetaOp::kLt}};
    for (const auto& [tok, op] : kOps) {
      if (eat(tok))
        return parse_sum(d + 1) && emit(op);
    }
    return true;
  }
  bool parse_sum(size_t d) {
    if (!parse_unary(d + 1))
      return false;
    while (eat("+")) {
      if (!parse_unary(d + 1) || !emit(MetaOp::kAdd))
        return false;
    }
    return true;
  }
  bool parse_unary(size_t d) {
    if (!deeper(d))
      return false;
    skip_ws();
    if (pos_ >= s_.size())
      return fail("meta expression ends where an operand was expected");
    char c = s_[pos_];
    if (c == '!' && s_.substr(pos_, 2) != "!=") {
      ++pos_;
      return parse_unary(d + 1) && emit(MetaOp::kNot);
    }
    if (c == '(') {
      ++pos_;
      if (!parse_or(d + 1))
        return false;
      if (!eat(")"))
        return fail("missing ')' in meta expression");
      return true;
    }
    if (is_digit(c)) {
      int64_t v = 0;
      while (pos_ < s_.size() && is_digit(s_[pos_])) {
        v = v * 10 + (s_[pos_++] - '0');
        if (v > 100000)
          return fail("constant too large in meta expression");
      }
      return emit(MetaOp::kConst, static_cast<int32_t>(v));
    }
    if (is_ident_start(c)) {
      size_t start = pos_;
      while (pos_ < s_.size() && is_ident_char(s_[pos_]))
        ++pos_;
      if (++terms_ > kMaxMetaTerms)
        return fail("too many terms in meta expression");
      return emit(MetaOp::kRule, 0, std::string(s_.substr(start, pos_ - start)));
    }
    return fail(fmt::format("unexpected '{}' in meta expression", s_.substr(pos_)));
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t terms_ = 0;
  std::vector<MetaInstr>* out_ = nullptr;
  std::string error_;
};

struct KindName {
  std::string_view word;
  RuleKind kind;
};
constexpr KindName kKinds[] = {
    {"header", RuleKind::kHeader},   {"body", RuleKind::kBody}, {"uri", RuleKind::kUri},
    {"rawbody", RuleKind::kRawBody}, {"full", RuleKind::kFull}, {"fact", RuleKind::kFact},
    {"eval", RuleKind::kEval},       {"meta", RuleKind::kMeta},
};

// Orders meta rules so every meta comes after the metas it references; reports a cycle with
// its path. Iterative DFS: a long chain of metas must not exhaust the stack.
Status order_metas(std::vector<RuleSpec>& specs, std::string_view origin,
                   std::vector<uint32_t>* order) {
  enum : uint8_t { kWhite, kGrey, kBlack };
  std::vector<uint8_t> colour(specs.size(), kWhite);
  struct Frame {
    uint32_t rule;
    size_t next_instr;
  };
  std::vector<Frame> stack;
  for (uint32_t root = 0; root < specs.size(); ++root) {
    if (specs[root].info.kind != RuleKind::kMeta || colour[root] != kWhite)
      continue;
    stack.push_back({root, 0});
    colour[root] = kGrey;
    while (!stack.empty()) {
      Frame& f = stack.back();
      const auto& prog = specs[f.rule].meta;
      bool descended = false;
      while (f.next_instr < prog.size()) {
        const MetaInstr& in = prog[f.next_instr++];
        if (in.op != MetaOp::kRule)
          continue;
        uint32_t dep = static_cast<uint32_t>(in.value);
        if (specs[dep].info.kind != RuleKind::kMeta || colour[dep] == kBlack)
          continue;
        if (colour[dep] == kGrey) {
          std::string path;
          size_t i = 0;
          while (stack[i].rule != dep)
            ++i;
          for (; i < stack.size(); ++i)
            path += specs[stack[i].rule].info.name + " -> ";
          path += specs[dep].info.name;
          const RuleSpec& at = specs[f.rule];
          return Error::config(fmt::format("{}:{}: rule {}: meta cycle {}", origin, at.info.line,
                                           at.info.name, path));
        }
        colour[dep] = kGrey;
        stack.push_back({dep, 0});
        descended = true;
        break;
      }
      if (descended)
        continue;
      colour[stack.back().rule] = kBlack;
      order->push_back(stack.back().rule);
      stack.pop_back();
    }
  }
  return Ok{};
}

}  // namespace

const char* eval_name(EvalFn fn) {
  for (const auto& e : kEvals) {
    if (e.fn == fn)
      return e.name;
  }
  return "?";
}

Result<ParsedRules> parse_rule_file(std::string_view text, std::string_view origin) {
  ParsedRules parsed;
  std::unordered_map<std::string, uint32_t> index_of;
  int line_no = 0;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t nl = text.find('\n', line_start);
    size_t line_end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);

    auto line_error = [&](std::string_view rule, const std::string& why) -> Error {
      if (rule.empty())
        return Error::config(fmt::format("{}:{}: {}", origin, line_no, why));
      return Error::config(fmt::format("{}:{}: rule {}: {}", origin, line_no, rule, why));
    };
    if (line.size() > kMaxLineBytes) {
      return line_error({}, fmt::format("line longer than {} bytes", kMaxLineBytes));
    }
    if (line.find('\0') != std::string_view::npos)
      return line_error({}, "NUL byte in line");

    Cursor c{line, 0, {}};
    c.skip_ws();
    if (c.at_end() || c.peek() == '#')
      continue;
    std::string_view kind_word = c.word();
    const KindName* kind = nullptr;
    for (const auto& k : kKinds) {
      if (k.word == kind_word)
        kind = &k;
    }
    if (kind == nullptr) {
      return line_error({}, fmt::format("unknown rule kind '{}' (known: header body uri rawbody "
                                        "full fact eval meta)",
                                        kind_word));
    }
    c.skip_ws();
    std::string_view name = c.word();
    std::string why;
    if (!valid_rule_name(name, &why))
      return line_error({}, why);
    if (auto it = index_of.find(std::string(name)); it != index_of.end()) {
      return line_error(name, fmt::format("duplicate rule name (first defined on line {})",
                                          parsed.specs[it->second].info.line));
    }
    if (parsed.specs.size() >= kMaxRules) {
      return line_error(name, fmt::format("more than {} rules", kMaxRules));
    }

    RuleSpec spec;
    spec.info.name = std::string(name);
    spec.info.kind = kind->kind;
    spec.info.line = line_no;
    spec.info.reported = name.substr(0, 2) != "__";
    c.skip_ws();
    bool ok = true;
    switch (kind->kind) {
      case RuleKind::kHeader:
        ok = parse_header(c, spec);
        break;
      case RuleKind::kBody:
      case RuleKind::kUri:
      case RuleKind::kRawBody:
      case RuleKind::kFull: {
        size_t def_start = c.pos;
        ok = parse_regex(c, spec);
        spec.info.definition = std::string(c.s.substr(def_start, c.pos - def_start));
        break;
      }
      case RuleKind::kFact: {
        std::string_view def = split_definition(c);
        if (def.find_first_of(" \t") != std::string_view::npos) {
          ok = c.fail(fmt::format("fact takes at most one fact name, got '{}'", def));
        } else {
          spec.fact = std::string(def.empty() ? name : def);
          spec.info.definition = spec.fact;
        }
        break;
      }
      case RuleKind::kEval: {
        std::string_view def = split_definition(c);
        spec.info.definition = std::string(def);
        if (def.empty()) {
          ok = c.fail("missing eval function");
        } else if (!parse_eval(def, spec, &why)) {
          ok = c.fail(why);
        }
        break;
      }
      case RuleKind::kMeta: {
        std::string_view def = split_definition(c);
        spec.info.definition = std::string(def);
        MetaParser mp(def);
        if (!mp.parse(&spec.meta, &why))
          ok = c.fail(why);
        break;
      }
    }
    if (ok)
      ok = parse_tail(c, spec);
    if (!ok)
      return line_error(name, c.error);
    index_of.emplace(spec.info.name, static_cast<uint32_t>(parsed.specs.size()));
    parsed.specs.push_back(std::move(spec));
  }

  // Resolve meta references now that every name is known.
  for (auto& spec : parsed.specs) {
    for (auto& in : spec.meta) {
      if (in.op != MetaOp::kRule)
        continue;
      auto it = index_of.find(in.name);
      if (it == index_of.end()) {
        return Error::config(fmt::format("{}:{}: rule {}: meta references unknown rule '{}'",
                                         origin, spec.info.line, spec.info.name, in.name));
      }
      in.value = static_cast<int32_t>(it->second);
    }
  }
  Status st = order_metas(parsed.specs, origin, &parsed.meta_order);
  if (!st)
    return st.error();
  return parsed;
}

}  // namespace mailsift::rules::detail
