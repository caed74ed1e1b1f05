// mailsift::tenant list check — the block/allow lists as scan symbols.
//
// Contract (for whoever wires it into the pipeline):
//   Reads    the recipient mailbox, the sender address and domains, the client IP, whether DMARC
//            failed for the sender's domain, and the TenantStore's lists (user, its domain, the
//            domain's reseller). Nothing from the message body.
//   Phase    pre-filter (scan::Phase::kPreFilter), recipient scope (runs per recipient).
//   Emits    at most one scoring symbol, for the deciding entry (precedence in tenant.h):
//              {USER|DOMAIN|RESELLER}_{BLOCK|ALLOW}_{ADDR|DOMAIN|IP}
//            (CIDR entries count as IP; "domain" covers exact and subdomain entries), with
//            score policy.blocklist_score for block and policy.allowlist_score for allow;
//            every other matching entry as the same-named symbol with score 0 and detail
//            "overridden by ..." (so explanations show them); and
//              ALLOW_DMARC_FAIL_IGNORED (score 0) when an address/domain allow entry matched but
//            was voided because DMARC failed (or was not evaluated, see below).
//            Each symbol's detail: "entry <id> '<pattern>' (<level> <owner>) matched <what>,
//            since <created_at ISO>, by <created_by>[, note: ...]".
//   DMARC    An address/domain allow entry never lets through mail failing DMARC for the
//            allowed domain. `dmarc_failed_for_domain` is that fact; when the caller cannot
//            tell (DMARC not evaluated), it must pass true (fail closed): ListCheck (the
//            scan::Check adapter) does so unless given a DMARC oracle. IP/CIDR allow entries are
//            not affected (the connecting IP is not forgeable).
//   Errors   kTemporary when the store cannot be read (engine: tempfail by policy).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "scan/check.h"
#include "scan/engine.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {

struct ListCheckInput {
  std::string user;                         // recipient mailbox address
  std::string sender_address;               // envelope MAIL FROM (or header From), "" = <>
  std::vector<std::string> sender_domains;  // further sender domains (header From domain, ...)
  std::string client_ip;                    // "" = unknown
  bool dmarc_failed_for_domain = true;      // see DMARC above: true unless known to pass
};

struct ListCheckScores {
  double block = 100;   // policy.blocklist_score
  double allow = -100;  // policy.allowlist_score
  static ListCheckScores from_config(const Config& config);
};

struct ListCheckResult {
  std::vector<scan::Symbol> symbols;  // deciding symbol first
  std::optional<ListKind> verdict;    // the deciding entry's kind, after the DMARC rule
  ListDecision decision;              // every match (for support tools)
};

// The pure function: what the lists say about one message for one recipient.
Result<ListCheckResult> evaluate_lists(TenantStore& store, const ListCheckScores& scores,
                                       const ListCheckInput& input, int64_t now);

// Every symbol evaluate_lists can emit, with descriptions.
std::vector<scan::SymbolInfo> list_symbols();

// scan::Check adapter. Input from the ScanTask: user = task.recipient.user, sender =
// task.envelope->mail_from, sender_domains = the header From domain (first From mailbox),
// client_ip = task.envelope->client_ip. `dmarc` says whether DMARC failed for the sender domain
// (std::nullopt = not evaluated, treated as failed); without an oracle every message counts as
// not evaluated. A task without a recipient user emits nothing.
class ListCheck final : public scan::Check {
 public:
  using DmarcOracle = std::function<std::optional<bool>(const scan::ScanTask&)>;
  ListCheck(TenantStore& store, ListCheckScores scores, Clock clock, DmarcOracle dmarc = nullptr);
  std::string_view name() const override { return "tenant_lists"; }
  scan::Phase phase() const override { return scan::Phase::kPreFilter; }
  scan::CheckScope scope() const override { return scan::CheckScope::kRecipient; }
  std::vector<scan::SymbolInfo> symbols() const override { return list_symbols(); }
  Status run(scan::ScanTask& task, std::vector<scan::Symbol>& out) override;

 private:
  TenantStore& store_;
  ListCheckScores scores_;
  Clock clock_;
  DmarcOracle dmarc_;
};

// Effective policy -> the engine's per-recipient thresholds (the lead wires this where
// scan::RecipientRequest::policy is built). `source` becomes EffectivePolicy::describe().
scan::ActionPolicy to_action_policy(const EffectivePolicy& p);

}  // namespace mailsift::tenant
