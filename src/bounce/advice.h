// mailsift::bounce advice — what a support agent and the end user should do about a reason.
//
// Owns: the advice texts per Sisimai reason (two readers: support, user), the choice of which
// DNS record of the sender's domain to fix for SPF / DKIM / DMARC failures, and naming the
// blocklist a diagnostic mentions. It does no DNS itself: Advice::checks names the live checks
// ("spf:example.com", "dkim:example.com", "dmarc:example.com", "dnsbl:spamhaus", "ptr:<ip>");
// src/doctor/bounce_checks.h runs them (`mailsift bounce --live`) into Advice::live.
//
// Failure semantics: pure; never fails. Unknown reasons get the "undefined" advice.
#pragma once

#include <string_view>
#include <vector>

#include "bounce/bounce.h"

namespace mailsift::bounce {

Advice advise(const Recipient& recipient, const Report& report);

// Blocklist named in a (any-case) diagnostic text: "spamhaus", "spamcop", "barracuda", ...;
// "" when none is named.
std::string blocklist_named(std::string_view diagnostic);

struct ReasonDoc {
  std::string_view reason;
  std::string_view summary;
  std::string_view support;
  std::string_view user;
};
// Every reason with its advice, in table order (for README and `mailsift bounce --reasons`).
const std::vector<ReasonDoc>& reason_docs();

}  // namespace mailsift::bounce
