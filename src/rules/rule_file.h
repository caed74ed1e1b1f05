// Internal: the rule-file parser (text -> RuleSpec list). Knows the line syntax, validates names,
// scores, descriptions, eval names and meta expressions, resolves meta references and rejects
// cycles. It does not compile regexes: that is vectorscan's job in rules.cc, whose errors are
// mapped back to the line numbers recorded here.
//
// SECURITY: the parser is bounded (line length, pattern length, expression depth/size, rule
// count) and fuzzed via RuleSet::load_string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "rules/rules.h"

namespace mailsift::rules::detail {

inline constexpr size_t kMaxLineBytes = 16 * 1024;
inline constexpr size_t kMaxPatternBytes = 4 * 1024;
inline constexpr size_t kMaxNameBytes = 64;
inline constexpr size_t kMaxDescriptionBytes = 300;
inline constexpr size_t kMaxRules = 20000;
inline constexpr size_t kMaxMetaDepth = 64;
inline constexpr size_t kMaxMetaTerms = 512;
inline constexpr uint32_t kMaxRepeatBound = 1000;  // {n,m} bounds; keeps databases small
inline constexpr double kMaxAbsScore = 100.0;

// What a header rule looks at in each instance of the header.
enum class HeaderView { kValue, kAddr, kName, kRaw };
// How a header rule decides.
enum class HeaderTest { kMatch, kNotMatch, kExists, kNotExists };

enum class EvalFn {
  kHtmlOnly,
  kHiddenText,
  kLinkTextMismatch,
  kUrlCount,
  kNoVisibleText,
  kExecutableAttachment,
  kReplyToDiffers,
  kBodyCapsPercent,
  kImageWithLittleText,
};

enum class MetaOp : uint8_t { kRule, kConst, kNot, kAnd, kOr, kAdd, kGt, kGe, kLt, kLe, kEq, kNe };

struct MetaInstr {
  MetaOp op;
  int32_t value = 0;  // rule index (kRule, after resolution) or constant (kConst)
  std::string name;   // referenced rule (kRule), kept for error messages
};

struct RuleSpec {
  RuleInfo info;
  // Regex kinds (header with kMatch/kNotMatch, body, uri, rawbody, full).
  std::string pattern;
  unsigned hs_flags = 0;  // HS_FLAG_CASELESS / DOTALL / MULTILINE from /i /s /m
  // Header kind.
  std::string header_name;  // lower-case; "all" means every header line
  bool header_all = false;
  HeaderView view = HeaderView::kValue;
  HeaderTest test = HeaderTest::kMatch;
  // Fact kind.
  std::string fact;
  // Eval kind.
  EvalFn eval = EvalFn::kHtmlOnly;
  int64_t eval_arg = 0;
  // Meta kind: reverse Polish program over 0/1 rule results.
  std::vector<MetaInstr> meta;
};

struct ParsedRules {
  std::vector<RuleSpec> specs;       // file order
  std::vector<uint32_t> meta_order;  // indices of meta rules, dependencies first
};

// Parses and validates a whole rule file; errors are kConfig "<origin>:<line>: ...".
Result<ParsedRules> parse_rule_file(std::string_view text, std::string_view origin);

// Default argument of an eval function, and its name as written in rule files.
const char* eval_name(EvalFn fn);

}  // namespace mailsift::rules::detail
