#include "scan/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "fuzzy/fingerprint.h"
#include "learn/classifier.h"
#include "learn/tokenizer.h"
#include "mime/message.h"
#include "scan/checks.h"

#ifndef MAILSIFT_RULES_DIR
#define MAILSIFT_RULES_DIR "/usr/share/mailsift/rules"
#endif

namespace mailsift::scan {

const char* to_string(Action a) {
  switch (a) {
    case Action::kNoAction:
      return "no action";
    case Action::kAddHeader:
      return "add header";
    case Action::kRewriteSubject:
      return "rewrite subject";
    case Action::kSoftReject:
      return "soft reject";
    case Action::kReject:
      return "reject";
  }
  return "no action";
}

std::vector<store::Scope> scope_chain(const Recipient& rcpt) {
  std::vector<store::Scope> chain{store::Scope::global()};
  if (!rcpt.reseller.empty())
    chain.push_back({store::Level::kReseller, rcpt.reseller});
  std::string domain = rcpt.domain;
  if (domain.empty())
    domain = std::string(mime::address_domain(rcpt.user));
  if (!domain.empty())
    chain.push_back({store::Level::kDomain, domain});
  if (!rcpt.user.empty())
    chain.push_back({store::Level::kUser, rcpt.user});
  return chain;
}

store::Scope learn_scope(const Recipient& rcpt) {
  return scope_chain(rcpt).back();
}

std::string default_rules_path() {
  // A build tree run finds the source checkout's rules; an install finds the shared copy.
  const std::string in_tree = std::string(MAILSIFT_SOURCE_RULES) + "/default.rules";
  if (std::filesystem::exists(in_tree))
    return in_tree;
  return std::string(MAILSIFT_RULES_DIR) + "/default.rules";
}

std::string Verdict::explain() const {
  std::string out = fmt::format("action: {}\nscore: {:.2f} (spam at {:.2f})\n", to_string(action),
                                score, required_score);
  if (spam_probability)
    out += fmt::format("spam probability: {:.6f}\n", *spam_probability);
  for (const auto& s : symbols) {
    out += fmt::format("  {:<28} {:+7.2f}  {}", s.name, s.score, s.description);
    if (!s.detail.empty())
      out += fmt::format(" [{}]", s.detail);
    out += "\n";
  }
  for (const auto& e : errors)
    out += fmt::format("  error: {}\n", e.describe());
  if (!facts.empty()) {
    out += "facts:";
    for (const auto& f : facts)
      out += " " + f;
    out += "\n";
  }
  return out;
}

struct Engine::Deps {
  learn::Classifier classifier;
  fuzzy::FuzzyMemory fuzzy;
  fuzzy::Params fuzzy_params;
  Deps(store::Store& store, const fuzzy::Params& fp)
      : classifier(store), fuzzy(store, fp), fuzzy_params(fp) {}
};

Engine::Engine(const Config& config, store::Store& store) : config_(config), store_(store) {
  limits_.max_message_bytes = static_cast<size_t>(config.get_int("mime.max_message_bytes"));
  limits_.max_header_bytes = static_cast<size_t>(config.get_int("mime.max_header_bytes"));
  limits_.max_depth = static_cast<size_t>(config.get_int("mime.max_depth"));
  limits_.max_parts = static_cast<size_t>(config.get_int("mime.max_parts"));
  limits_.max_text_bytes = static_cast<size_t>(config.get_int("mime.max_text_bytes"));
  rules_weight_trained_ = config.get_double("rules.weight_trained");
  fuzzy::Params fp;
  fp.match_threshold = config.get_double("fuzzy.threshold");
  deps_ = std::make_unique<Deps>(store, fp);
  default_policy_ = ActionPolicy::from_config(config);
  fuzzy_enabled_ = config.get_bool("fuzzy.enabled");
}

Engine::~Engine() = default;

Result<std::shared_ptr<const rules::RuleSet>> Engine::load_rules(const Config& config) {
  std::string path = config.get_string("rules.file");
  if (path.empty())
    path = default_rules_path();
  return rules::RuleSet::load_file(path);
}

Result<std::unique_ptr<Engine>> Engine::create(const Config& config, store::Store& store,
                                               std::shared_ptr<const rules::RuleSet> rules,
                                               std::vector<std::unique_ptr<Check>> extra_checks) {
  std::unique_ptr<Engine> engine(new Engine(config, store));
  for (auto& c : extra_checks)
    engine->checks_.push_back(std::move(c));
  if (config.get_bool("rules.enabled")) {
    if (!rules) {
      auto loaded = load_rules(config);
      if (!loaded)
        return loaded.error();
      rules = std::move(loaded).value();
    }
    engine->checks_.push_back(make_rules_check(std::move(rules)));
  }
  if (config.get_bool("bayes.enabled"))
    engine->checks_.push_back(make_bayes_check(config, store));
  if (config.get_bool("fuzzy.enabled"))
    engine->checks_.push_back(make_fuzzy_check(config, store));
  std::stable_sort(engine->checks_.begin(), engine->checks_.end(),
                   [](const auto& a, const auto& b) { return a->phase() < b->phase(); });
  return engine;
}

Result<mime::Message> Engine::parse(std::string_view raw) const {
  if (raw.size() > limits_.max_message_bytes) {
    return Error::malformed(fmt::format("message of {} bytes exceeds mime.max_message_bytes {}",
                                        raw.size(), limits_.max_message_bytes));
  }
  return mime::parse(raw, limits_);
}

ActionPolicy ActionPolicy::from_config(const Config& config) {
  ActionPolicy p;
  p.add_header = config.get_double("actions.add_header");
  p.rewrite_subject = config.get_double("actions.rewrite_subject");
  p.rewrite_subject_enabled = config.get_bool("actions.rewrite_subject_enabled");
  p.reject = config.get_double("actions.reject");
  p.reject_enabled = config.get_bool("actions.reject_enabled");
  p.tempfail_on_error = config.get_bool("actions.tempfail_on_error");
  return p;
}

Action ActionPolicy::choose(double score) const {
  if (reject_enabled && score >= reject)
    return Action::kReject;
  if (rewrite_subject_enabled && score >= rewrite_subject)
    return Action::kRewriteSubject;
  if (score >= add_header)
    return Action::kAddHeader;
  return Action::kNoAction;
}

namespace {

void run_checks(std::span<Check* const> checks, ScanTask& task, std::vector<Symbol>& symbols,
                std::vector<Error>& errors) {
  for (Check* check : checks) {
    Status st = check->run(task, symbols);
    if (!st) {
      errors.push_back(
          Error{st.error().kind, fmt::format("{}: {}", check->name(), st.error().message)});
    }
  }
}

std::string chain_key(const std::vector<store::Scope>& chain) {
  std::string key;
  for (const auto& s : chain)
    key += s.key() + "\n";
  return key;
}

}  // namespace

Result<Verdict> Engine::scan(std::string_view raw, const Recipient& rcpt) {
  RecipientRequest request{rcpt, default_policy_};
  auto result = scan(raw, Envelope{}, std::span<const RecipientRequest>(&request, 1));
  if (!result)
    return result.error();
  Verdict v = std::move(result->recipients.front());
  v.elapsed_us = result->elapsed_us;
  return v;
}

Result<MessageVerdict> Engine::scan(std::string_view raw, const Envelope& envelope,
                                    std::span<const RecipientRequest> recipients) {
  const auto started = std::chrono::steady_clock::now();
  auto parsed = parse(raw);
  if (!parsed)
    return parsed.error();
  const mime::Message& msg = *parsed;

  RecipientRequest global_request{Recipient{}, default_policy_};
  if (recipients.empty())
    recipients = std::span<const RecipientRequest>(&global_request, 1);

  // Derived once per message, whoever receives it.
  ScanTask task{msg,
                recipients.front().recipient,
                scope_chain(recipients.front().recipient),
                {},
                {},
                {},
                std::nullopt,
                &envelope};
  task.features = learn::extract_features(msg);
  task.digest = learn::message_digest(msg);
  if (fuzzy_enabled_) {
    task.fingerprint = fuzzy::fingerprint(msg, deps_->fuzzy_params);
  }

  std::vector<Check*> message_checks, recipient_checks;
  for (auto& c : checks_) {
    (c->scope() == CheckScope::kMessage ? message_checks : recipient_checks).push_back(c.get());
  }
  std::vector<Symbol> message_symbols;
  std::vector<Error> message_errors;
  // Only the rule set's symbols are re-weighted with a voting classifier (score sets); other
  // message checks (authentication) keep their scores.
  std::vector<char> is_rule_symbol;
  for (Check* c : message_checks) {
    run_checks(std::span<Check* const>(&c, 1), task, message_symbols, message_errors);
    is_rule_symbol.resize(message_symbols.size(), c->name() == "rules");
  }
  const size_t message_symbol_count = message_symbols.size();  // they lead every recipient's list

  MessageVerdict out;
  out.digest = task.digest;
  out.annotations = task.annotations;
  out.facts = msg.facts;
  // Recipients sharing a scope chain (same user, or no user in the same domain) share results.
  std::vector<std::pair<std::string, size_t>> done;  // chain key -> index in out.recipients
  for (size_t ri = 0; ri < recipients.size(); ++ri) {
    const RecipientRequest& request = recipients[ri];
    const bool last = ri + 1 == recipients.size();
    std::vector<store::Scope> chain = scope_chain(request.recipient);
    const std::string key = chain_key(chain);
    Verdict v;
    auto same =
        std::find_if(done.begin(), done.end(), [&](const auto& d) { return d.first == key; });
    if (same != done.end()) {
      v = out.recipients[same->second];
    } else {
      ScanTask rtask{msg, request.recipient, std::move(chain), {}, {}, {}, std::nullopt, &envelope};
      // Each recipient's checks get pristine copies (a check may mutate its task); the last
      // recipient takes the originals instead, so the one-recipient case copies nothing.
      if (last) {
        rtask.features = std::move(task.features);
        rtask.fingerprint = std::move(task.fingerprint);
        v.symbols = std::move(message_symbols);
        v.errors = std::move(message_errors);
      } else {
        rtask.features = task.features;
        rtask.fingerprint = task.fingerprint;
        v.symbols = message_symbols;
        v.errors = message_errors;
      }
      rtask.digest = task.digest;
      // Recipient checks may read message results (e.g. the DMARC outcome for allow lists).
      rtask.annotations = task.annotations;
      // One round trip for the recipient's store reads on a networked store (docs/fleet.md).
      store_.prefetch(rtask.chain, rtask.features, rtask.fingerprint.bands);
      run_checks(recipient_checks, rtask, v.symbols, v.errors);
      store_.end_prefetch();
      v.spam_probability = rtask.spam_probability;
      // Score sets: with a voting classifier, content rules count for less (rules.weight_trained).
      if (v.spam_probability && rules_weight_trained_ != 1.0) {
        for (size_t i = 0; i < message_symbol_count; ++i) {
          if (!is_rule_symbol[i])
            continue;
          Symbol& s = v.symbols[i];
          s.score *= rules_weight_trained_;
          s.detail =
              s.detail.empty()
                  ? fmt::format("x{} with trained classifier", rules_weight_trained_)
                  : fmt::format("{}; x{} with trained classifier", s.detail, rules_weight_trained_);
        }
      }
      v.score = 0;
      for (const auto& s : v.symbols)
        v.score += s.score;
      std::sort(v.symbols.begin(), v.symbols.end(), [](const Symbol& a, const Symbol& b) {
        if (std::fabs(a.score) != std::fabs(b.score))
          return std::fabs(a.score) > std::fabs(b.score);
        return a.name < b.name;
      });
      done.emplace_back(key, out.recipients.size());
    }
    v.digest = task.digest;
    v.facts = msg.facts;
    v.required_score = request.policy.add_header;
    v.action = request.policy.choose(v.score);
    // A check's decision by itself (DMARC policy, mapped by config) sets the least action.
    if (task.floor.kind == ActionFloor::kSpamFolder && v.action == Action::kNoAction) {
      v.action = Action::kAddHeader;
      v.floor_reason = task.floor.reason;
    } else if (task.floor.kind == ActionFloor::kReject && v.action != Action::kReject) {
      v.action = Action::kReject;
      v.floor_reason = task.floor.reason;
    }
    const bool temporary_failure =
        std::any_of(v.errors.begin(), v.errors.end(),
                    [](const Error& e) { return e.kind == ErrorKind::kTemporary; });
    // A check that could not run must not turn into a silent accept.
    if (temporary_failure && request.policy.tempfail_on_error && v.action != Action::kReject) {
      v.action = Action::kSoftReject;
    }
    out.recipients.push_back(std::move(v));
  }
  out.elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count();
  for (auto& v : out.recipients)
    v.elapsed_us = out.elapsed_us;
  return out;
}

Result<LearnResult> Engine::learn(std::string_view raw, store::Class cls, const Recipient& rcpt) {
  auto parsed = parse(raw);
  if (!parsed)
    return parsed.error();
  LearnResult result{store::LearnOutcome::kNotLearned, learn_scope(rcpt),
                     learn::message_digest(*parsed)};
  auto outcome =
      deps_->classifier.learn(result.scope, result.digest, cls, learn::extract_features(*parsed));
  if (!outcome)
    return outcome.error();
  result.outcome = *outcome;
  if (config_.get_bool("fuzzy.remember_on_learn")) {
    fuzzy::Fingerprint fp = fuzzy::fingerprint(*parsed, deps_->fuzzy_params);
    if (fp.usable()) {
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      Status st = deps_->fuzzy.remember(result.scope, result.digest, cls, "", fp, now);
      if (!st)
        return st.error();
    }
  }
  return result;
}

std::vector<Result<LearnResult>> Engine::learn_batch(std::span<const std::string_view> raws,
                                                     store::Class cls, const Recipient& rcpt) {
  std::vector<Result<LearnResult>> results;
  results.reserve(raws.size());
  std::vector<store::LearnRequest> requests;
  std::vector<store::FuzzyRecord> fingerprints;
  std::vector<size_t> request_of;  // results index of each request
  const store::Scope scope = learn_scope(rcpt);
  const bool remember = config_.get_bool("fuzzy.remember_on_learn");
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (std::string_view raw : raws) {
    auto parsed = parse(raw);
    if (!parsed) {
      results.push_back(parsed.error());
      continue;
    }
    store::LearnRequest req;
    req.scope = scope;
    req.message_digest = learn::message_digest(*parsed);
    req.cls = cls;
    req.tokens = learn::extract_features(*parsed);  // sorted and unique
    if (remember) {
      fuzzy::Fingerprint fp = fuzzy::fingerprint(*parsed, deps_->fuzzy_params);
      if (fp.usable()) {
        store::FuzzyRecord rec;
        rec.message_digest = req.message_digest;
        rec.cls = cls;
        rec.bands = std::move(fp.bands);
        rec.signature = std::move(fp.signature);
        rec.added_unix = now;
        fingerprints.push_back(std::move(rec));
      }
    }
    results.push_back(LearnResult{store::LearnOutcome::kNotLearned, scope, req.message_digest});
    request_of.push_back(results.size() - 1);
    requests.push_back(std::move(req));
  }
  auto outcomes = store_.learn_batch(requests);
  Status fuzzy_status = Ok{};
  if (outcomes.ok())
    fuzzy_status = store_.fuzzy_add_batch(scope, fingerprints);
  for (size_t i = 0; i < requests.size(); ++i) {
    Result<LearnResult>& r = results[request_of[i]];
    if (!outcomes.ok()) {
      r = outcomes.error();
    } else if (!fuzzy_status.ok()) {
      r = fuzzy_status.error();  // tokens are learned; a retry re-adds the fingerprints
    } else {
      r->outcome = (*outcomes)[i];
    }
  }
  return results;
}

Result<LearnResult> Engine::unlearn(std::string_view raw, store::Class cls, const Recipient& rcpt) {
  auto parsed = parse(raw);
  if (!parsed)
    return parsed.error();
  LearnResult result{store::LearnOutcome::kNotLearned, learn_scope(rcpt),
                     learn::message_digest(*parsed)};
  auto outcome = deps_->classifier.unlearn(result.scope, result.digest, cls);
  if (!outcome)
    return outcome.error();
  result.outcome = *outcome;
  if (result.outcome == store::LearnOutcome::kUnlearned) {
    Status st = deps_->fuzzy.forget(result.scope, result.digest);
    if (!st)
      return st.error();
  }
  return result;
}

std::vector<SymbolInfo> Engine::all_symbols() const {
  std::vector<SymbolInfo> out;
  for (const auto& c : checks_) {
    auto s = c->symbols();
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

}  // namespace mailsift::scan
