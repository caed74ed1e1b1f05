// mailsift::rules — the regex / structural rules engine.
//
// Owns: the rule-file format (see src/rules/README.md), loading it into an immutable RuleSet
// whose regexes are compiled into vectorscan (Hyperscan API) block-mode databases — one per
// target kind, and one per header name (plus pseudo-header view) for header rules — and a
// per-thread Matcher that scans a parsed mime::Message and returns the rules that fired.
//
// Failure semantics:
//   - RuleSet::load_* returns kConfig naming "<origin>:<line>: rule NAME: why" for any syntax
//     error, duplicate name, unknown kind/eval/meta reference, meta cycle, or a regex vectorscan
//     rejects (backreferences, lookaround, ... — it is automata-based, so nothing it accepts can
//     backtrack exponentially). A rule file either loads completely or not at all.
//   - Matcher::match returns kTemporary only if vectorscan itself fails (scratch allocation or
//     scan error); a message never makes it fail otherwise.
//
// SECURITY: match() reads untrusted mail through mime::Message. Regexes run on arbitrary bytes
// (no HS_FLAG_UTF8, whose behaviour on invalid UTF-8 is undefined); scan time is linear in the
// input. Rule files are operator configuration, but the parser is still bounded and fuzzed
// (rules_fuzz.cc).
//
// Threading: a RuleSet is immutable and may be shared by any number of threads; each thread
// owns its Matcher (it holds the hs_scratch and reusable buffers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "mime/message.h"

namespace mailsift::rules {

enum class RuleKind { kHeader, kBody, kUri, kRawBody, kFull, kFact, kEval, kMeta };
const char* to_string(RuleKind kind);  // "header", "body", ... as written in rule files

struct RuleHit {
  std::string name;
  double score;
  std::string description;
};

// One rule as loaded, for documentation and explanations.
struct RuleInfo {
  std::string name;
  RuleKind kind;
  double score;
  std::string description;
  std::string definition;  // the target / pattern / expression text as written
  int line = 0;            // 1-based line in the origin
  bool reported = true;    // false for "__" helper rules, which only feed meta rules
};

// Directory where compiled vectorscan databases are cached across processes (keyed by the
// patterns, flags and vectorscan version; a damaged file is recompiled). "" disables it.
void set_compile_cache_dir(const std::string& dir);

class RuleSet {
 public:
  static Result<std::shared_ptr<const RuleSet>> load_file(const std::string& path);
  static Result<std::shared_ptr<const RuleSet>> load_string(std::string_view text,
                                                            std::string_view origin = "<string>");
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  size_t size() const;                                // every rule, helpers included
  const std::vector<RuleInfo>& rules() const;         // in file order
  const RuleInfo* find(std::string_view name) const;  // nullptr if absent
  const std::string& origin() const;

  struct Compiled;  // vectorscan databases and lookup tables (rules.cc)

 private:
  RuleSet();
  friend class Matcher;
  std::unique_ptr<Compiled> compiled_;
};

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const RuleSet> rules);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Rules that fired, each at most once, in rule-file order; "__" helpers are never returned.
  Result<std::vector<RuleHit>> match(const mime::Message& msg);

  const RuleSet& rule_set() const { return *rules_; }

 private:
  struct Scratch;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace mailsift::rules
