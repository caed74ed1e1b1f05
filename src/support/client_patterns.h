// mailsift::support client patterns — known client-side misconfigurations recognised in the
// decision log, with what to check in the mail client or the account.
//
// Owns: the pattern table (id, title, explanation, what to check) and the pure matcher of one
// logged decision recipient against it. Patterns (docs/support.md prints the same table):
//   unauthenticated_own_domain  inbound (no SMTP AUTH) from outside with one of our hosted domains
//                               as envelope sender: the client sent on port 25 without AUTH.
//   relay_denied                an unauthenticated session was refused relaying ("Relay access
//                               denied", 5.7.1 relay) to an external recipient.
//   unknown_recipient_unauth    "User unknown"/5.1.1 for a recipient outside our domains in a
//                               session without AUTH: the client delivered to our MX instead of
//                               submitting.
//   account_suspended           outbound refused: the account (or its domain/reseller) is
//   suspended. sending_disabled            outbound refused: sending is disabled (held; "auto:" =
//   detection). over_limit                  outbound refused or deferred by a sending limit.
//   policy_internal             outbound deferred: the limits could not be checked (our side).
// Failure semantics: pure; `is_hosted_domain` is the only dependency (a store failure there
// counts as "not hosted", so a pattern needing a hosted domain simply does not match).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "decisions/decisions.h"
#include "support/support.h"

namespace mailsift::support {

struct ClientPattern {
  std::string_view id;
  std::string_view title;
  std::string_view explanation;
  std::string_view check;
};

const std::vector<ClientPattern>& client_pattern_table();

using HostedDomainFn = std::function<bool(std::string_view domain)>;

// Every pattern that one recipient of a logged decision matches, in table order.
std::vector<ClientHint> recognise_client_patterns(const decisions::Decision& decision,
                                                  const decisions::RecipientDecision& recipient,
                                                  const HostedDomainFn& is_hosted_domain);

// The table as Markdown (docs/support.md).
std::string render_client_pattern_table_markdown();

}  // namespace mailsift::support
