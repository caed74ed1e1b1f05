// mailsift::policy — what each recipient wants done with spam, and whose senders it trusts.
//
// Owns: resolving a recipient address to its tenant (user, domain, reseller) and effective
// policy: action thresholds (spam folder by default; reject only where opted in) and simple
// sender allow/block entries. Today the source is the `policy` file (TOML, see
// docs/per-recipient.md); the tenant store of issue 5 replaces it behind the same interface.
//
// Policy file (TOML; every table optional, every key optional, unknown keys are errors):
//   [resellers.acme]          reject_enabled = true
//   [domains."example.test"]  reseller = "acme"   add_header = 7.0   allow_senders =
//   ["@partner.test"] [users."carol@example.test"] reject = 12.0  block_senders = ["@.spammy.test"]
// Keys: add_header, rewrite_subject, reject (numbers), rewrite_subject_enabled, reject_enabled,
// tempfail_on_error (bools), allow_senders, block_senders (lists), reseller (domains only).
// Inheritance per field: config defaults <- reseller <- domain <- user; sender lists are the
// union of all levels. The domain comes from the address, the reseller from the domain's entry.
// Addresses and domains are matched case-insensitively.
//
// Failure semantics: lookup() returns kTemporary when its source is unavailable (the caller
// tempfails); an unknown recipient gets the defaults (source "default"), never an error.
// Loading a policy file returns kConfig naming the offending table/key.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "scan/engine.h"

namespace mailsift::policy {

struct RecipientPolicy {
  scan::Recipient tenant;  // user/domain/reseller IDs for scopes and the log
  // Thresholds; actions.source says which entries applied ("default", or e.g.
  // "reseller:acme,domain:example.test,user:carol@example.test").
  scan::ActionPolicy actions;
  std::vector<std::string> allow_senders;  // "user@dom", "@dom" (and subdomains with "@.dom")
  std::vector<std::string> block_senders;
};

enum class SenderListing { kNone, kAllowed, kBlocked };
// Matches an envelope/header sender address against allow/block entries (block wins). The null
// sender and addresses without a domain are never listed.
SenderListing classify_sender(const RecipientPolicy& policy, std::string_view sender);

class PolicyProvider {
 public:
  virtual ~PolicyProvider() = default;
  virtual Result<RecipientPolicy> lookup(std::string_view recipient_address) = 0;
};

// Defaults from config for everyone.
std::unique_ptr<PolicyProvider> make_default_provider(const Config& config);
// Defaults from config, overridden per reseller / domain / user by a TOML policy file.
Result<std::unique_ptr<PolicyProvider>> load_policy_file(const Config& config,
                                                         const std::string& path);
// The same from TOML text (tests, embedded configuration).
Result<std::unique_ptr<PolicyProvider>> parse_policy(const Config& config,
                                                     std::string_view toml_text);

}  // namespace mailsift::policy
