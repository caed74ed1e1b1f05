// The checks the engine runs today, each an adapter from one concern's library to the Check
// contract (scan/check.h). Their symbols:
//
//   BAYES_SPAM / BAYES_HAM  (filter)  classifier probability over the recipient's scope chain;
//                                     score = bayes.score_per_decade * log10(p/(1-p)), capped.
//   BAYES_UNTRAINED        (filter)  score 0: the chain has too little training to vote.
//   FUZZY_SPAM / FUZZY_HAM (filter)  near-duplicate of a reported/learned message in the chain;
//                                     score = fuzzy.spam_score (ham_score) * similarity.
//   rule names             (filter)  every hit of the rule set, with the rule's own score and
//                                     description (rules/default.rules).
#pragma once

#include <memory>

#include "core/config.h"
#include "rules/rules.h"
#include "scan/check.h"
#include "store/store.h"

namespace mailsift::scan {

std::unique_ptr<Check> make_bayes_check(const Config& config, store::Store& store);
std::unique_ptr<Check> make_fuzzy_check(const Config& config, store::Store& store);
std::unique_ptr<Check> make_rules_check(std::shared_ptr<const rules::RuleSet> rules);

}  // namespace mailsift::scan
