// mailsift::bounce vendors — the table of MTA / provider recognisers for non-standard bounces.
//
// Owns: one row per MTA or provider (Postfix, Exim, Sendmail, qmail, Exchange/Office 365, Gmail,
// Yahoo, Outlook.com, Amazon SES, Mimecast, ...): how to recognise its bounces (From, Subject,
// headers, body phrases) and the phrases that end its error section (where the returned copy of
// the original message begins). Like Sisimai's lhost modules, but as data: the text extraction
// itself is generic (bounce.cc), so a new vendor is a new row, not new code.
//
// Failure semantics: pure lookups; never fail. detect() returns nullptr when no row matches.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace mailsift::bounce {

struct Vendor {
  std::string_view name;
  // Any of these (lower-case substrings) identifies the vendor; empty lists never match.
  std::vector<std::string_view> from;     // in the bounce's From header
  std::vector<std::string_view> subject;  // in its Subject
  std::vector<std::string_view> header;   // "name: value-prefix" of any top-level header
  std::vector<std::string_view> body;     // in the first text of the body
  // Lines (lower-case substrings) at which the error section ends and the original message
  // begins, in addition to the generic markers every vendor shares.
  std::vector<std::string_view> end_markers;
  // Reason the vendor's wording implies when nothing more specific is found, e.g. Exim's
  // "retry time not reached for any host after a long failure period" (empty: none).
  std::string_view default_reason;
  // The vendor's own fixed messages and the reason each means (checked before the generic
  // classifier, as Sisimai's lhost modules do): {lower-case phrase, reason}.
  std::vector<std::pair<std::string_view, std::string_view>> phrases = {};
  // Reasons this MTA reports as a temporary failure when its text carries no status code: the
  // pseudo status is then 4.0.9xx (Exim: a retry timeout or a full mailbox is a deferral that
  // ran out, not a permanent refusal). Other reasons follow the reply code and the wording.
  std::vector<std::string_view> temporary_reasons = {};
  // Markers that name the SMTP state the remote refused in (Gmail's "(state 18)"), with the
  // command and the reason that state stands for: {lower-case marker, command, reason}.
  struct State {
    std::string_view marker, command, reason;
  };
  std::vector<State> states = {};
  // The notice text is the report and the message/delivery-status part is not read (Sisimai's
  // lhost module cuts the bounce at the notice's end marker, so the part after it, OpenSMTPD's
  // generic `Status: 5.0.0` / `4.0.0` / `4.4.7`, never reaches the result): recipients, reason and
  // the pseudo status come from the notice's "address: error" lines.
  bool notice_only = false;
  // The reason whose pseudo status the vendor's reading gives a refusal at an SMTP command when
  // the text carries no status code: {command, reason}. Sisimai's Exim module files a refusal
  // after MAIL FROM as `onhold` (5.0.901) and after EHLO/HELO as `blocked` before the text is
  // classified, and that status stays when the reason is refined later. Only the status follows
  // this table; the reason is still classified from the text.
  std::vector<std::pair<std::string_view, std::string_view>> command_status_reasons = {};
  // The reason the bounce's Subject names when the text itself named none (Sisimai's
  // `errortitle` tables, e.g. fml's "Loop Alert:"): {lower-case subject phrase, reason}.
  std::vector<std::pair<std::string_view, std::string_view>> subject_reasons = {};
};

struct VendorInput {
  std::string_view from;     // lower-case
  std::string_view subject;  // lower-case
  std::string_view headers;  // lower-case "name: value\n" lines of the top entity
  std::string_view body;     // lower-case first text part (bounded prefix)
};

// The first row that matches, or nullptr.
const Vendor* detect(const VendorInput& in);

// Markers every vendor shares: a line containing one of these starts the returned original.
const std::vector<std::string_view>& generic_end_markers();

// True when the text looks like a delivery failure notice even without a known vendor
// (MAILER-DAEMON sender, "undeliverable" subjects, "could not be delivered" phrases...).
bool looks_like_bounce(const VendorInput& in);

}  // namespace mailsift::bounce
