// mailsift::server::ScanService — the one place both front ends (milter, HTTP) go through.
//
// Owns: turning "this message, this envelope, these recipients" into per-recipient outcomes:
// policy lookup per recipient, one content scan (scan::Engine, one per worker thread, sharing
// the store and the compiled rules), each recipient's action and SMTP reply, the headers to add
// to delivered mail, and the decision-log record. Also learn/unlearn for feedback endpoints.
//
// Thread-safe: any thread may call scan()/learn(); each thread lazily gets its own Engine.
// Failure semantics: scan() fails only for input that is not mail (kMalformed; front ends
// answer per policy) — store or policy trouble becomes a soft-reject outcome with a 451 reply,
// never a silent accept. A decision that cannot be logged is reported in the outcome's
// `log_error` and counted; the mail itself is not held back for it.
//
// One SMTP transaction gets one end-of-data answer, so scan() also settles the message as a
// whole (docs/per-recipient.md): any recipient tempfailed -> the message is tempfailed (451,
// retried later, nothing lost); every recipient rejects -> the message is rejected (550);
// otherwise it is delivered, and a recipient whose own policy said reject gets it in the spam
// folder instead ("add header"), which never loses mail. RecipientOutcome::wanted_action keeps
// what the recipient's policy alone chose.
//
// Headers: X-Spam-Flag, X-Spam-Score, X-Spam-Status (SpamAssassin style), X-Spam-Symbols
// describe the highest-scoring delivered recipient (the content verdict); X-Mailsift-Verdict
// (one per delivered recipient, read by deploy/sieve/spam-to-junk.sieve) carries each
// recipient's own verdict; X-Mailsift-Id is the decision reference. Incoming copies of all of
// these names are forged by definition and listed in remove_headers.
//
// Outbound (envelope.outbound, outbound.aup.enabled): scored once by the outbound profile
// (aup::make_outbound_engine: rules + acceptable use checks) instead of per recipient; at
// outbound.aup.reject_score the message is rejected with "550 5.7.1 Message refused by the
// provider's acceptable use policy: ..."; otherwise sent unchanged (no spam folder, no X-Spam
// headers). The decision record has direction "outbound" with the sender's user/domain.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "decisions/decisions.h"
#include "policy/policy.h"
#include "scan/engine.h"
#include "store/store.h"

namespace mailsift::server {

struct ScanRequest {
  std::string_view raw;  // the message as it will be delivered (headers + body)
  scan::Envelope envelope;
  std::vector<std::string> recipients;  // envelope recipients; empty = scan for global scope
};

struct SmtpReply {
  int code = 250;
  std::string enhanced;           // "5.7.1"
  std::string text;               // human text; support matches it in the log
  std::string to_string() const;  // "550 5.7.1 text"
};

struct RecipientOutcome {
  std::string address;
  policy::RecipientPolicy policy;
  scan::Verdict verdict;           // verdict.action = what was done for this recipient
  std::optional<SmtpReply> reply;  // set when this recipient is refused or tempfailed
  scan::Action wanted_action = scan::Action::kNoAction;  // what its policy alone chose
  policy::SenderListing sender_listing = policy::SenderListing::kNone;
};

struct Header {
  std::string name;
  std::string value;
};

struct ScanOutcome {
  std::string decision_id;  // also in the X-Mailsift-Id header
  std::vector<RecipientOutcome> recipients;
  std::vector<Header> add_headers;          // X-Spam-*, X-Mailsift-* for delivered copies
  std::vector<std::string> remove_headers;  // our header names forged on the incoming copy
  // Authentication-Results fields claiming our authserv-id (forged: RFC 8601 §5), as 1-based
  // indices among the incoming fields of that name, highest first (delete in this order).
  std::vector<uint32_t> forged_authentication_results;
  // Our Authentication-Results value (inserted at the top of the header), when auth ran.
  std::optional<std::string> authentication_results;
  // Signing (src/signing, docs/signing.md): DKIM-Signature on outbound mail, or the ARC set
  // (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) on inbound mail. Top to
  // bottom as they must appear: inserted above everything, Authentication-Results included.
  std::vector<Header> prepend_headers;
  std::optional<std::string> log_error;
  // Set when the whole message is refused (every recipient rejected) or tempfailed: the one
  // end-of-data reply. Unset = deliver with add_headers/remove_headers (and new_subject).
  std::optional<SmtpReply> message_reply;
  // Raw Subject value with actions.subject_tag in front, when every delivered recipient's
  // action is "rewrite subject".
  std::optional<std::string> new_subject;
};

// The RCPT-time answer for one recipient, with what a front end needs to keep one SMTP
// transaction uniform (see docs/per-recipient.md).
struct RecipientCheck {
  std::optional<SmtpReply> reply;  // refuse (5xx) or tempfail (4xx) this recipient now
  policy::RecipientPolicy policy;  // valid when lookup succeeded
  bool reject_enabled = false;     // the recipient's reject opt-in: its transaction class
};

// Header names mailsiftd writes; an incoming copy of any of them is removed.
inline constexpr const char* kOwnHeaderNames[] = {"X-Spam-Flag",   "X-Spam-Score",
                                                  "X-Spam-Status", "X-Spam-Symbols",
                                                  "X-Mailsift-Id", "X-Mailsift-Verdict"};

class ScanService {
 public:
  // Builds the checks a deployment adds to every engine (one engine per worker thread), e.g.
  // the tenant block/allow-list check; authentication is added from config (auth.enabled).
  using CheckFactory = std::function<Result<std::vector<std::unique_ptr<scan::Check>>>()>;
  static Result<std::unique_ptr<ScanService>> create(const Config& config, store::Store& store,
                                                     decisions::DecisionLog& log,
                                                     policy::PolicyProvider& policies,
                                                     CheckFactory extra_checks = nullptr);
  ~ScanService();

  Result<ScanOutcome> scan(const ScanRequest& request);
  Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                  const std::string& recipient);
  Result<scan::LearnResult> unlearn(std::string_view raw, store::Class cls,
                                    const std::string& recipient);

  // RCPT-time decision for one recipient (block-listed sender, recipient policy): a reply to
  // refuse it with, or nothing to accept it for now.
  Result<std::optional<SmtpReply>> check_recipient(const scan::Envelope& envelope,
                                                   std::string_view recipient);
  // The same, with the recipient's policy (a refusal at RCPT is recorded in the decision log
  // with stage "rcpt"). Never fails: a policy lookup failure is a 451 reply.
  RecipientCheck check_recipient_detail(const scan::Envelope& envelope, std::string_view recipient);

  const Config& config() const;
  // Outbound profile (src/aup): a scanned authenticated message's score and digest, for the
  // outbound Guard's high_score / same_content signals. Called after each outbound scan that
  // was not tempfailed; must be thread-safe. Settable at any time (nullptr = nobody listens).
  using OutboundReporter = std::function<void(const scan::Envelope& envelope, double score,
                                              const std::string& digest, size_t recipients)>;
  void set_outbound_reporter(OutboundReporter reporter);
  // Outbound profile: the From domains an authenticated login owns besides its own domain (the
  // aup::OwnedDomains hook; mailsiftd passes tenant::sending_domains over its tenant store).
  // Call before the service handles requests (not thread-safe against running scans): it drops
  // the outbound engines already built (create() builds one) so every engine gets the hook.
  using OwnedDomains = std::function<Result<std::vector<std::string>>(std::string_view login)>;
  void set_owned_domains(OwnedDomains owned);
  // Tests: a fixed clock (UTC milliseconds). Default: the system clock.
  void set_clock(std::function<int64_t()> now_unix_ms);
  // Decisions that could not be written to the log since start.
  uint64_t log_failures() const;

 private:
  struct Impl;
  explicit ScanService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsift::server
