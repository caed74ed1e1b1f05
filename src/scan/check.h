// mailsift::scan — the Check contract every stage of the scanning pipeline implements.
//
// A check reads the parsed message, the request (envelope, tenant scopes) and the data derived
// once per message (features, fingerprint) from a ScanTask, and appends named Symbols. It runs in
// one Phase; checks do not know about each other and never read another check's symbols (only
// the engine combines them). Every symbol a check can emit is declared by symbols(), with its
// description, so verdicts and docs explain themselves.
//
// Failure semantics: run() returns a Status. kTemporary means a dependency (store, DNS) failed;
// the engine records the error in the verdict and, by policy (actions.tempfail_on_error),
// answers soft reject instead of silently accepting. Any other error is recorded and the check
// is skipped; the message still gets a verdict.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "fuzzy/fingerprint.h"
#include "mime/message.h"
#include "store/store.h"

namespace mailsift::scan {

// One named contribution to the score. `detail` says what matched, for this message.
struct Symbol {
  std::string name;
  double score = 0;
  std::string description;
  std::string detail;
};

struct SymbolInfo {
  std::string_view name;
  std::string_view description;
};

// Phases run in order. Pre-filters decide from the envelope alone (later: lists, auth);
// filters read content; post-filters see every earlier symbol's score (composites).
enum class Phase { kPreFilter = 0, kFilter = 1, kPostFilter = 2 };

// Who the message is for: the tenant scopes whose learned state and policy apply.
struct Recipient {
  std::string user;      // mailbox address, "" if unknown
  std::string domain;    // "" = derived from user when user has a domain part
  std::string reseller;  // "" if unknown
};

// Global first, most specific last (DSPAM-style merged groups read all of them).
std::vector<store::Scope> scope_chain(const Recipient& rcpt);
// The scope a learn request for this recipient writes to: the most specific one given.
store::Scope learn_scope(const Recipient& rcpt);

// SMTP envelope and connection facts, as the MTA saw them ("" when unknown).
struct Envelope {
  std::string client_ip;
  std::string helo;
  std::string mail_from;  // envelope sender, "" for the null sender <>
  std::string queue_id = {};
  std::string auth_user = {};  // SASL login of the submitting client (outbound)
  bool outbound = false;
  size_t recipient_count = 0;  // envelope recipients of the message (outbound bulk check)
};

// The least a message's action may be, whatever its score: set by a check whose result is a
// decision by itself (a DMARC reject/quarantine mapped through config). kSpamFolder lifts "no
// action" to "add header"; kReject asks for reject (an operator's explicit choice).
struct ActionFloor {
  enum Kind { kNone = 0, kSpamFolder = 1, kReject = 2 };
  Kind kind = kNone;
  std::string reason;  // for the explanation and the SMTP reply
};

// Per-message state shared by checks: the message and data derived from it once. Recipient
// checks see one recipient (and its scope chain) at a time; message checks see the first.
struct ScanTask {
  const mime::Message& message;
  const Recipient& recipient;
  std::vector<store::Scope> chain;
  std::vector<uint64_t> features;               // classifier features (learn::extract_features)
  fuzzy::Fingerprint fingerprint;               // near-duplicate signature
  std::string digest;                           // learn::message_digest
  std::optional<double> spam_probability = {};  // set by the classifier check, for the verdict
  const Envelope* envelope = nullptr;           // never null while checks run
  // Message-level results a front end needs besides symbols (e.g. "authentication-results": the
  // header value, "dmarc": "fail <domain> <disposition>"). Written by message checks only; the
  // engine copies them into the verdict and into each recipient check's task (read-only there).
  std::map<std::string, std::string> annotations = {};
  ActionFloor floor = {};  // raised (never lowered) by message checks
};

// Whether a check's result depends on who receives the message. Message checks run once per
// message; recipient checks (learned state, lists) run once per distinct recipient scope chain.
enum class CheckScope { kMessage, kRecipient };

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  virtual Phase phase() const = 0;
  virtual CheckScope scope() const { return CheckScope::kMessage; }
  virtual std::vector<SymbolInfo> symbols() const = 0;
  virtual Status run(ScanTask& task, std::vector<Symbol>& out) = 0;
};

}  // namespace mailsift::scan
