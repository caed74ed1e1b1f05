// mailsift::policy — what each recipient wants done with spam, and whose senders it trusts.
//
// Owns: resolving a recipient address to its tenant (user, domain, reseller) and effective
// policy: action thresholds (spam folder by default; reject only where opted in) and simple
// sender allow/block entries. Today the source is the `policy` file (TOML, see
// docs/per-recipient.md); the tenant store of issue 5 replaces it behind the same interface.
//
// Failure semantics: lookup() returns kTemporary when its source is unavailable (the caller
// tempfails); an unknown recipient gets the defaults (source "default"), never an error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "scan/engine.h"

namespace mailsift::policy {

struct RecipientPolicy {
  scan::Recipient tenant;         // user/domain/reseller IDs for scopes and the log
  scan::ActionPolicy actions;     // thresholds; actions.source says where they came from
  std::vector<std::string> allow_senders;  // "user@dom", "@dom" (and subdomains with "@.dom")
  std::vector<std::string> block_senders;
};

enum class SenderListing { kNone, kAllowed, kBlocked };
// Matches an envelope/header sender address against allow/block entries (block wins).
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

}  // namespace mailsift::policy
