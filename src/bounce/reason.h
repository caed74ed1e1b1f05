// mailsift::bounce reasons — Sisimai's reason names, decided from the status code, the SMTP
// reply code, the refused SMTP command and phrases in the diagnostic text.
//
// Owns: the phrase table (one entry per reason, plain lower-case substrings and ordered
// "a...b" pairs), the RFC 3463 / RFC 7372 status → reason map, the decision order (the same
// two-pass order Sisimai uses, so results compare with that project), the hard/soft verdict and
// Sisimai's pseudo status codes (5.0.9xx) for recipients without one.
//
// Failure semantics: pure functions over strings; never fail. "undefined" when nothing fits,
// "onhold" when there is a diagnostic text but no rule matched it.
#pragma once

#include <string>
#include <string_view>

namespace mailsift::bounce {

struct ReasonInput {
  std::string_view status;           // "5.1.1" or ""
  std::string_view reply_code;       // "550" or ""
  std::string_view diagnostic;       // any case; lower-cased inside
  std::string_view command;          // "RCPT", "MAIL", "DATA", ... or ""
  std::string_view action;           // "failed", "delayed", ...
  std::string_view diagnostic_type;  // "SMTP", "X-Unix", ...
};

// The reason name for one recipient.
std::string classify(const ReasonInput& in);

// Reason implied by an RFC 3463 status code alone ("" when the code says nothing specific).
std::string_view status_reason(std::string_view status);

// True when the phrase table of `reason` matches the lower-case text.
bool text_matches(std::string_view reason, std::string_view lower_text);

// Sisimai's hard-bounce verdict: the address or domain is gone (userunknown, hostunknown,
// hasmoved, notaccept with a permanent code).
bool is_hard_bounce(std::string_view reason, std::string_view status);

// Sisimai's pseudo status for a reason when the bounce carried no status ("5.0.911"...).
std::string pseudo_status(std::string_view reason, bool temporary);

// First RFC 3463 code ("5.1.1") in text, "" if none. Rejects dotted quads and version numbers.
std::string find_status(std::string_view text);
// First SMTP reply code (2xx/4xx/5xx standing alone before a space, '-' or end), "" if none.
std::string find_reply_code(std::string_view text);
// True for the reply codes SMTP defines ("550"); false for other numbers ("255", "299").
bool valid_reply_code(std::string_view code);

}  // namespace mailsift::bounce
