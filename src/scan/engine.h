// mailsift::scan::Engine — parse, derive, run every check, sum the symbols, pick the action.
//
// Owns: the pipeline (checks in phase order), the mapping from score to action through the
// configured thresholds, and learning (the same parse/feature path as scanning, so what is
// learned is exactly what is scored).
//
// Actions (strings as Rspamd uses them): "no action"; "add header" = deliver to the spam
// folder, the default for spam; "rewrite subject" (opt-in); "reject" (opt-in: without
// actions.reject_enabled, mail over the reject threshold still goes to the spam folder);
// "soft reject" = tempfail, used when a check could not run (store down) so mail is never
// silently accepted unscanned.
//
// Failure semantics: scan() fails only when the input is not mail (kMalformed) or too big;
// check failures are inside the Verdict (errors, action soft reject). learn()/unlearn() return
// kTemporary when the store cannot be written — nothing was learned then.
// Not thread-safe: one Engine per thread (rule scratch space); they may share a Store.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "rules/rules.h"
#include "scan/check.h"
#include "store/store.h"

namespace mailsift::scan {

enum class Action { kNoAction, kAddHeader, kRewriteSubject, kSoftReject, kReject };
const char* to_string(Action a);

struct Verdict {
  double score = 0;
  Action action = Action::kNoAction;
  std::vector<Symbol> symbols;  // sorted by descending |score|, then name
  std::optional<double> spam_probability;
  std::vector<std::string> facts;  // parser anomalies
  std::string digest;
  std::vector<Error> errors;  // checks that could not run
  double required_score = 0;  // the add-header threshold, for X-Spam-Status style output
  int64_t elapsed_us = 0;     // engine time for this message (parse to verdict)
  std::string floor_reason;   // set when a check's action floor decided the action

  bool is_spam() const { return action != Action::kNoAction && action != Action::kSoftReject; }
  // Multi-line human explanation: action, score, every symbol with score and description.
  std::string explain() const;
};

// Thresholds and switches that turn a score into an action for one recipient. Defaults come
// from config (actions.*); a per-user/domain policy may override them.
struct ActionPolicy {
  double add_header = 6;
  double rewrite_subject = 12;
  bool rewrite_subject_enabled = false;
  double reject = 15;
  bool reject_enabled = false;  // reject is opt-in; otherwise spam goes to the spam folder
  bool tempfail_on_error = true;
  std::string source = "config";  // where these values came from, for explanations

  static ActionPolicy from_config(const Config& config);
  Action choose(double score) const;
};

struct RecipientRequest {
  Recipient recipient;
  ActionPolicy policy;
};

// One message, scored once, decided per recipient.
struct MessageVerdict {
  std::vector<Verdict> recipients;  // same order as the request
  std::string digest;
  std::vector<std::string> facts;
  int64_t elapsed_us = 0;
  // Message-level results of checks, e.g. "authentication-results" (the header value).
  std::map<std::string, std::string> annotations;
};

struct LearnResult {
  store::LearnOutcome outcome;
  store::Scope scope;
  std::string digest;
};

class Engine {
 public:
  // Loads the rule set named by config (rules.file, or the shipped default), unless `rules` is
  // given: compiled rules are immutable and shared by every engine (one per worker thread).
  // `extra_checks` join the pipeline (e.g. authentication, built by the daemon with its own
  // resolver per engine); the engine does not know what they are.
  static Result<std::unique_ptr<Engine>> create(
      const Config& config, store::Store& store,
      std::shared_ptr<const rules::RuleSet> rules = nullptr,
      std::vector<std::unique_ptr<Check>> extra_checks = {});
  // The rule set config names, compiled (for sharing across engines).
  static Result<std::shared_ptr<const rules::RuleSet>> load_rules(const Config& config);
  ~Engine();

  // One recipient, policy from config.
  Result<Verdict> scan(std::string_view raw, const Recipient& rcpt);
  // Content checks run once; recipient checks once per distinct scope chain; each recipient's
  // action follows its own policy. An empty recipient list scores for the global scope.
  Result<MessageVerdict> scan(std::string_view raw, const Envelope& envelope,
                              std::span<const RecipientRequest> recipients);
  Result<LearnResult> learn(std::string_view raw, store::Class cls, const Recipient& rcpt);
  Result<LearnResult> unlearn(std::string_view raw, store::Class cls, const Recipient& rcpt);
  // Bulk training: the messages that parse are learned in one store transaction and their
  // fingerprints in a second, so training a corpus costs two syncs instead of two per message.
  // Results are in input order; a message that does not parse fails alone. A store failure
  // fails every message that was not yet committed (the retry is safe: learn is idempotent).
  std::vector<Result<LearnResult>> learn_batch(std::span<const std::string_view> raws,
                                               store::Class cls, const Recipient& rcpt);

  // Every symbol any check can emit (for docs and `mailsift symbols`).
  std::vector<SymbolInfo> all_symbols() const;

 private:
  Engine(const Config& config, store::Store& store);
  Result<mime::Message> parse(std::string_view raw) const;

  const Config config_;
  store::Store& store_;
  mime::Limits limits_;
  std::vector<std::unique_ptr<Check>> checks_;
  double rules_weight_trained_ = 1.0;
  // Read from config once, not per message.
  ActionPolicy default_policy_;
  bool fuzzy_enabled_ = false;
  struct Deps;
  std::unique_ptr<Deps> deps_;
};

// Where the shipped rule set lives (build tree or installed).
std::string default_rules_path();

}  // namespace mailsift::scan
