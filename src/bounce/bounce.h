// mailsift::bounce — read a bounce (or auto-reply, or feedback report) and say why the mail came
// back and what to do about it.
//
// Owns: recognising what a message is (delivery failure, auto-reply, ARF feedback report, or not
// a bounce at all), extracting one Recipient per failed address (RFC 3464 delivery-status fields
// or, for the many MTAs that send plain text, the vendor patterns in vendors.cc), the original
// message's sender / Message-ID / date / subject, a Sisimai-compatible reason name per recipient
// (reason.h), and advice texts per reason (advice.h).
//
// Failure semantics: parse() never throws. It returns kMalformed only when the input is not mail
// at all (what mime::parse refuses). Anything else — a message that is no bounce, a bounce whose
// recipients cannot be found — is a Report with kind kNotBounce or reason "undefined", never an
// error. CRLF, CR and LF line endings are all accepted.
//
// SECURITY: reads untrusted bytes. Fuzzed by bounce_fuzz.cc (seeds in corpus/). Work is bounded:
// the error text read is capped (64 KiB), each diagnostic at 2 KiB, recipients at 1000, and the
// MIME limits of mime::Limits apply.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::bounce {

enum class Kind {
  kBounce,     // delivery status notification: failed, delayed (or delivered) recipients
  kVacation,   // auto-reply (RFC 3834 Auto-Submitted, X-Autoreply, "Out of office", ...)
  kFeedback,   // ARF feedback report (RFC 5965) or a provider's complaint loop
  kNotBounce,  // ordinary mail
};
const char* to_string(Kind kind);

// What to tell people about one recipient's reason. Written for two readers: a support agent
// (who can look at logs, DNS and blocklists) and the end user who sent the mail.
// The result of one live DNS check (doctor::run_bounce_checks), as the domain doctor reports it.
struct LiveCheck {
  std::string check;                 // "spf", "dkim:<selector>", "dmarc", "cluster", "ptr:<ip>"
  std::string status;                // "pass", "warn", "temperror", "fail"
  std::string message;               // one line
  std::vector<std::string> publish;  // zone-file lines to publish
  std::vector<std::string> remove;   // zone-file lines to remove
};

struct Advice {
  std::string summary;  // one line: what happened
  std::string support;  // for the support agent
  std::string user;     // for the end user
  // Live checks the caller should run to make the advice concrete, e.g. "spf:example.com",
  // "dkim:example.com", "dmarc:example.com", "ptr:192.0.2.1", "dnsbl:spamhaus". The bounce
  // module does no DNS: `mailsift bounce --live` runs them (src/doctor/bounce_checks.h) and
  // fills `live`.
  std::vector<std::string> checks;
  std::string blocklist;        // name of the blocklist the diagnostic text mentions, "" if none
  std::vector<LiveCheck> live;  // results of `checks`, when they were run
};

struct Recipient {
  std::string address;             // final recipient, lower-case
  std::string original_recipient;  // Original-Recipient when it differs, else ""
  std::string action;              // failed, delayed, delivered, relayed, expanded
  std::string status;              // RFC 3463 code; Sisimai pseudo code (5.0.9xx) when none given
  bool status_explicit = false;    // status came from the report or the diagnostic text
  std::string reply_code;          // SMTP reply code, e.g. "550", "" if none
  std::string remote_mta;          // host name or address of the server that refused
  std::string diagnostic_type;     // "SMTP", "X-Postfix", "X-Unix", ... ("" for text bounces)
  std::string diagnostic;          // the diagnostic text, whitespace collapsed
  std::string command;             // SMTP command that was refused: CONN, HELO, EHLO, MAIL,
                                   // RCPT, DATA; "" if unknown
  std::string last_attempt_date;
  std::string reason;         // Sisimai reason name (reason.h)
  bool hard_bounce = false;   // retrying or resending will not help
  std::string feedback_type;  // ARF only: abuse, fraud, opt-out, auth-failure, ...
  Advice advice;
};

struct Original {
  std::string from;  // sender address of the returned message, lower-case
  std::string to;
  std::string message_id;
  std::string date;
  std::string subject;
};

struct Report {
  Kind kind = Kind::kNotBounce;
  std::string vendor;  // which recogniser read it: "rfc3464", "postfix", "exim", "arf", ...
  std::string reporting_mta;
  std::string arrival_date;
  std::string subject;  // of the bounce itself
  std::string from;     // of the bounce itself (MAILER-DAEMON@..., or the auto-replier)
  std::vector<Recipient> recipients;
  Original original;
};

Result<Report> parse(std::string_view raw);

// The report as JSON (one object, no trailing newline); `path` is echoed when non-empty.
std::string to_json(const Report& report, std::string_view path = {});
// Human-readable multi-line text for the CLI.
std::string to_text(const Report& report);

}  // namespace mailsift::bounce
