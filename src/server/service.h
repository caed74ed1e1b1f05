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
#pragma once

#include <atomic>
#include <memory>
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
  std::string enhanced;  // "5.7.1"
  std::string text;      // human text; support matches it in the log
  std::string to_string() const;  // "550 5.7.1 text"
};

struct RecipientOutcome {
  std::string address;
  policy::RecipientPolicy policy;
  scan::Verdict verdict;
  std::optional<SmtpReply> reply;  // set when this recipient is refused or tempfailed
};

struct Header {
  std::string name;
  std::string value;
};

struct ScanOutcome {
  std::string decision_id;                 // also in the X-Mailsift-Id header
  std::vector<RecipientOutcome> recipients;
  std::vector<Header> add_headers;         // X-Spam-*, X-Mailsift-* for delivered copies
  std::vector<std::string> remove_headers; // our header names forged on the incoming copy
  std::optional<std::string> log_error;
};

class ScanService {
 public:
  static Result<std::unique_ptr<ScanService>> create(const Config& config, store::Store& store,
                                                     decisions::DecisionLog& log,
                                                     policy::PolicyProvider& policies);
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

  const Config& config() const;

 private:
  struct Impl;
  explicit ScanService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsift::server
