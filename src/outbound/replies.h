// mailsift::outbound replies — the one table of outbound refusals and their SMTP text.
//
// Owns: for every reason mailsift refuses outbound mail, the SMTP code, the RFC 3463 enhanced
// status code and a human text with a fixed prefix that support can grep for in the MTA log and
// `mailsift log`. docs/outbound.md prints the same table (a test keeps them equal).
//
//   kind                   tempfail form           reject form             text
//   suspended              -                       550 5.7.1               Account suspended for WHO: REASON (ref REF)
//   sending_disabled       -                       550 5.7.1               Sending disabled for WHO: REASON (ref REF)
//   messages_per_hour      451 4.7.1               550 5.7.1               Rate limit: N messages/hour for WHO
//   recipients_per_message 452 4.5.3               550 5.5.3               Too many recipients: N per message for WHO
//   distinct_per_day       451 4.7.1               550 5.7.1               Rate limit: N distinct recipients/day for WHO
//   failed_ratio           451 4.7.1               550 5.7.1               Too many failed recipients: P% of N in 24h for WHO
//   internal               451 4.3.0               -                       Temporary problem checking sending limits, try again later (ref REF)
//   acceptable_use         -                       550 5.7.1               Message refused by the provider's acceptable use policy: REASON (ref REF)
//
// Account states are always rejects (a held account must not queue retries for days); limits
// tempfail or reject per outbound.over_limit_action. WHO is the address, "domain D" or
// "reseller R" whose status/limit applied. REF is the decision id in the decision log.
// Failure semantics: pure functions; none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsift::outbound {

enum class ReplyKind {
  kSuspended,
  kSendingDisabled,
  kMessagesPerHour,
  kRecipientsPerMessage,
  kDistinctPerDay,
  kFailedRatio,
  kInternal,
  kAcceptableUse,  // end of data: outbound content broke the AUP (src/aup)
};

struct ReplySpec {
  ReplyKind kind;
  std::string_view name;           // "messages_per_hour": the decision log's symbol / rule name
  std::string_view tempfail_code;  // "451 4.7.1"; "" = never a tempfail
  std::string_view reject_code;    // "550 5.7.1"; "" = never a reject
  std::string_view text;           // with {who} {reason} {ref} {n} {pct} placeholders
};

const std::vector<ReplySpec>& reply_table();
const ReplySpec& reply_spec(ReplyKind kind);

struct ReplyArgs {
  std::string who;
  std::string reason;
  std::string ref;
  long long n = 0;
  long long pct = 0;
};

// "550 5.7.1 Sending disabled for alice@example.com: compromised (ref 2026...)". `tempfail`
// picks the tempfail form where the kind has both (otherwise the one that exists). CR/LF and
// other control characters in the arguments become spaces (a reason must not break the reply).
std::string render_reply(ReplyKind kind, bool tempfail, const ReplyArgs& args);

// The table as Markdown (docs/outbound.md).
std::string render_reply_table_markdown();

}  // namespace mailsift::outbound
