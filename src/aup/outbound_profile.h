// mailsift::aup outbound profile — how an outbound (authenticated) message is scored and decided.
//
// Owns: the outbound engine (the one builder every outbound scorer uses: mailsiftd's
// ScanService, DKIM signing after a pass, "explain a draft" for support), and the outbound
// policy that turns its verdict into a decision. The outbound engine is a scan::Engine over a
// copy of the config with the learned checks off (bayes, fuzzy: they are trained by inbound
// recipients' reports and say nothing about what a customer may send), the shared rule set
// (rules.*, so the content rules and their phishing signals still score) and the four AUP
// checks (aup_checks.h).
//
// Policy (outbound.aup.*): score >= outbound.aup.reject_score -> reject at end of data with
// the acceptable_use reply of outbound/replies.h ("550 5.7.1 Message refused by the provider's
// acceptable use policy: <reason> (ref <id>)"), reason = the descriptions of the AUP symbols that
// fired (or the score when the content rules alone got there). Below it the message is sent
// unchanged: there is no spam folder for outbound mail. A check that could not run (temporary
// error) tempfails the message (451 4.7.1), as inbound.
// Failure semantics: make_outbound_engine fails only on configuration (rule file); decide() is
// pure.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aup/aup_checks.h"
#include "core/config.h"
#include "core/result.h"
#include "rules/rules.h"
#include "scan/engine.h"
#include "store/store.h"

namespace mailsift::aup {

struct OutboundPolicy {
  bool enabled = true;       // false: outbound mail is scored like inbound (the old behaviour)
  double reject_score = 10;  // outbound.aup.reject_score
  static OutboundPolicy from_config(const Config& config);
};

// The config the outbound engine runs with (learned checks off).
Config outbound_engine_config(const Config& config);

// The one function that builds the outbound check set: rules (shared `rules`, or loaded from
// config when null and rules.enabled) + AUP checks + `extra` (e.g. authentication). One engine
// per thread, like scan::Engine.
Result<std::unique_ptr<scan::Engine>> make_outbound_engine(
    const Config& config, store::Store& store,
    std::shared_ptr<const rules::RuleSet> rules = nullptr, OwnedDomains owned = nullptr,
    std::vector<std::unique_ptr<scan::Check>> extra = {});

struct OutboundDecision {
  enum Kind { kSend, kReject, kTempfail };
  Kind kind = kSend;
  double score = 0;
  std::string reason;    // AUP symbol descriptions that fired, "; "-separated
  int smtp_code = 0;     // 550 / 451 when not kSend
  std::string enhanced;  // "5.7.1"
  std::string text;      // reply text without the codes
};

// The decision for one scored outbound message; `ref` is the decision id quoted in the reply.
OutboundDecision decide(const scan::Verdict& verdict, const OutboundPolicy& policy,
                        std::string_view ref);

}  // namespace mailsift::aup
