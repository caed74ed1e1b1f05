// mailsift::feedback — "mark as spam" / "not spam" from users, and what it changes.
//
// Owns: the report pipeline (FeedbackService::report), its memory (FeedbackStore: reports with
// their near-duplicate signatures, reporter reliability, per-user sender reputation, per-user
// corrections that shift the user's threshold, consent to share), the poisoning safeguards that
// decide when a report may teach the domain and global scopes, the trusted-bulk-sender rule
// (offer unsubscribe instead of learning), and ARF reports for the spam partner (only with
// consent).
//
// What one spam report does (each effect is in the Response):
//   1. learns the message into the reporter's own scope (user), and remembers its fingerprint
//      there, unless the user's learning is off;
//   2. counts it towards its campaign: reports by *other* users of near-duplicate messages
//      (fingerprint similarity). Only reporters that are reliable count. When the campaign has
//      feedback.promote_domain_reporters reliable reporters in the reporter's domain, the message
//      is learned into the domain scope; with feedback.promote_global_reporters reliable reporters
//      from at least two domains, into the global scope. One user can therefore never change
//      another user's verdicts on their own, however many reports they send;
//   3. updates the user's reputation of the sender (Return-Path as delivered, else From); after
//   feedback.block_sender_after spam
//      reports (and no "not spam") the sender is blocked for this user (SenderLists sink);
//   4. if the scan had delivered it to the inbox, records a missed-spam correction, which lowers
//      the user's add-header threshold by feedback.threshold_step (bounded by
//      feedback.threshold_max_shift); a "not spam" on mail we put in Junk raises it;
//   5. with consent, writes an ARF report (RFC 5965) to the partner spool; without, nothing.
// A trusted bulk sender (List-Unsubscribe and a DKIM signature that passes and aligns with the
// From domain, domain on feedback.trusted_senders) is not learned beyond the user's own scope,
// never counts towards a campaign and is never shared: the response carries the unsubscribe
// target for the client to offer.
// "Not spam": unlearns/relearns the message as ham in the user's scope, allows the sender for
// the user, and counts as a false-positive correction when we had filed it as spam.
//
// Reporter reliability: a spam report *agrees* when the global classifier already leaned spam
// (p >= 0.5) or another user reported the same campaign; it *disagrees* when the global
// classifier was confident ham (p < feedback.disagree_probability) and nobody else reported it.
// reliability = (agree + 1) / (agree + disagree + 2); reliable when >= feedback.min_reliability.
// A user who marks their ham as spam (the abusive reporter) quickly stops counting.
//
// Failure semantics: kMalformed for a message that does not parse or an unknown reference;
// kPermanent for a report about another tenant's message; kTemporary when a store is down —
// then nothing was acknowledged (the client retries; every effect is idempotent: a duplicate
// report is recognised by (user, digest, kind) and changes nothing).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "scan/engine.h"

namespace mailsift::feedback {

enum class Kind { kSpam, kHam };
const char* to_string(Kind kind);

enum class Consent { kUnknown, kAccepted, kDeclined };
const char* to_string(Consent c);
std::optional<Consent> parse_consent(std::string_view s);

// ---- store -------------------------------------------------------------------------------

struct ReportRecord {
  int64_t id = 0;
  std::string user, domain, reseller;
  std::string digest;
  Kind kind = Kind::kSpam;
  std::string sender;  // envelope sender as delivered (Return-Path), else From; lower case
  int64_t at_ms = 0;
  bool trusted = false;             // trusted bulk sender: never counts for a campaign
  std::vector<uint32_t> signature;  // min-hash (empty when the message is too short)
  std::vector<uint64_t> bands;      // LSH bands of the signature
};

struct ReporterStats {
  int64_t agree = 0, disagree = 0, reports = 0;
  double reliability() const {
    return (static_cast<double>(agree) + 1) / (static_cast<double>(agree + disagree) + 2);
  }
};

struct SenderStats {
  int64_t spam_reports = 0, ham_reports = 0;
  int64_t last_at_ms = 0;
};

struct Corrections {
  int64_t missed_spam = 0;     // spam the user found in the inbox
  int64_t false_positive = 0;  // ham the user found in Junk
};

// The counter changes one report makes, committed with the report in one transaction so a
// retried report (after a temporary failure) is counted exactly once.
struct ReportEffects {
  int64_t agree = 0, disagree = 0;          // reporter reliability
  int64_t sender_spam = 0, sender_ham = 0;  // the user's reputation of the sender
  int64_t missed_spam = 0, false_positive = 0;
};

class FeedbackStore {
 public:
  virtual ~FeedbackStore() = default;
  virtual Result<bool> has_report(const std::string& user, const std::string& digest,
                                  Kind kind) = 0;
  // Stores the report and applies `effects` atomically, unless (user, digest, kind) is already
  // stored: then nothing changes and the result is false.
  virtual Result<bool> commit_report(const ReportRecord& report, const ReportEffects& effects) = 0;
  // Spam reports sharing at least one band with `bands`, newer than since_ms (campaign search).
  virtual Result<std::vector<ReportRecord>> campaign_candidates(const std::vector<uint64_t>& bands,
                                                                int64_t since_ms) = 0;
  virtual Result<ReporterStats> reporter(const std::string& user) = 0;
  virtual Result<SenderStats> sender(const std::string& user, const std::string& sender) = 0;
  virtual Result<Corrections> corrections(const std::string& user) = 0;
  // Reports stored for the user: {spam, ham}.
  virtual Result<std::pair<int64_t, int64_t>> report_counts(const std::string& user) = 0;
  virtual Result<Consent> consent(const std::string& user) = 0;
  virtual Status set_consent(const std::string& user, Consent consent, int64_t at_ms) = 0;
  // Deletes everything stored about a user (reports, reliability, sender reputation,
  // corrections, consent) in one transaction, for removing a mailbox; returns the removed
  // reports (digest and kind) so what they taught the user's scope can be unlearned.
  virtual Result<std::vector<ReportRecord>> forget_user(const std::string& user) = 0;
};

std::unique_ptr<FeedbackStore> make_memory_store();
// SQLite file (WAL, synchronous=FULL): every acknowledged report survives a crash.
Result<std::unique_ptr<FeedbackStore>> open_sqlite_store(const std::string& path);

// ---- collaborators -----------------------------------------------------------------------

// What the service needs from the engine (an adapter over scan::Engine in production, a fake
// in tests). Recipients name the scope: {} = global, {"", domain} = domain, {user} = user.
class Learner {
 public:
  virtual ~Learner() = default;
  virtual Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                          const scan::Recipient& scope) = 0;
  virtual Result<scan::Verdict> scan(std::string_view raw, const scan::Recipient& rcpt) = 0;
};

// Learner over a scan::Engine, serialised by a mutex (an Engine is single-threaded).
class EngineLearner final : public Learner {
 public:
  explicit EngineLearner(scan::Engine& engine) : engine_(engine) {}
  Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                  const scan::Recipient& scope) override;
  Result<scan::Verdict> scan(std::string_view raw, const scan::Recipient& rcpt) override;

 private:
  scan::Engine& engine_;
  std::mutex mu_;
};

// Where "block this sender for this user" / "allow it" lands (the tenant block/allow lists).
class SenderLists {
 public:
  virtual ~SenderLists() = default;
  virtual Status block_sender(const scan::Recipient& user, const std::string& address,
                              const std::string& reason) = 0;
  virtual Status allow_sender(const scan::Recipient& user, const std::string& address,
                              const std::string& reason) = 0;
};

// DKIM domains whose signatures pass on this message (from the dkim module in production).
using DkimPassDomains = std::function<std::vector<std::string>(std::string_view raw)>;

// The tenant policy flag "learning enabled" as it applies to one report (src/tenant resolves it
// in production: tenant::learning_for). `from` names the level that decided, e.g.
// "domain:acme.test", "reseller:acme", "user:bob@acme.test" or "global:config".
struct LearningSwitch {
  bool enabled = true;
  std::string from = "global:config";
};
struct LearningPolicy {
  LearningSwitch user;    // the reporter's effective setting: may the user's own scope learn?
  LearningSwitch domain;  // the reporter's domain's effective setting: may the domain learn?
};
using LearningLookup = std::function<Result<LearningPolicy>(const scan::Recipient& user)>;

// ---- the service -------------------------------------------------------------------------

struct Request {
  scan::Recipient user;  // user address required; domain/reseller as known
  Kind kind = Kind::kSpam;
  std::string raw;  // the message as the user has it (with our X-Mailsift-Id)
};

struct Unsubscribe {
  std::string http;        // https:// target from List-Unsubscribe ("" if none)
  std::string mailto;      // mailto: target ("" if none)
  bool one_click = false;  // RFC 8058: List-Unsubscribe-Post: List-Unsubscribe=One-Click
};

struct Response {
  Kind kind = Kind::kSpam;
  std::string digest;
  std::string reference;     // X-Mailsift-Id of the message, if it had one
  bool duplicate = false;    // already reported: nothing changed
  std::string user_outcome;  // learn outcome in the user's scope ("learned", ...) or "off"
  bool fingerprint_stored = false;
  int campaign_reporters = 0;  // reliable distinct reporters of this campaign, incl. this one
  bool promoted_domain = false;
  bool promoted_global = false;
  std::string promotion_note;  // why (not) promoted
  double reporter_reliability = 0;
  std::string sender;
  bool sender_blocked = false;  // this report blocked the sender for the user
  bool sender_allowed = false;  // "not spam" allowed the sender for the user
  std::string list_note;        // why a block/allow entry could not be made (e.g. unknown user)
  std::string correction;       // "missed_spam", "false_positive" or ""
  double threshold_shift = 0;   // the user's add-header shift after this report
  bool trusted_sender = false;
  std::optional<Unsubscribe> unsubscribe;
  Consent consent = Consent::kUnknown;
  bool prompt_consent = false;  // the client must ask the user (consent unknown or declined)
  bool shared = false;          // an ARF report was written for the partner
  std::string arf_path;
  // Tenant policy "learning enabled": false when it is off for the reporter (nothing was
  // learned from this report in any scope); learning_off_at names the deciding level.
  bool learning_enabled = true;
  std::string learning_off_at;
  bool domain_learning_enabled = true;  // false: the domain/global scopes were not taught
  std::string domain_learning_off_at;
};

struct Options {
  int promote_domain_reporters = 2;
  int promote_global_reporters = 3;
  double min_reliability = 0.4;
  double disagree_probability = 0.01;
  int block_sender_after = 3;
  double threshold_step = 0.25;
  double threshold_max_shift = 2.0;
  double campaign_similarity = 0.7;
  int64_t campaign_window_ms = 7LL * 24 * 3600 * 1000;
  std::vector<std::string> trusted_senders;  // DKIM domains (registrable) trusted for bulk mail
  std::string arf_spool;                     // directory for ARF reports ("" = sharing off)
  std::string reporting_mta = "mailsift";    // Reporting-MTA / User-Agent in ARF
  bool user_learning = true;
  static Options from_config(const Config& config);
};

// What support (and the IMAP test) can see about one user's feedback.
struct UserState {
  std::string user;
  Consent consent = Consent::kUnknown;
  int64_t spam_reports = 0, ham_reports = 0;
  ReporterStats reporter;
  Corrections corrections;
  double threshold_shift = 0;
};

class FeedbackService {
 public:
  FeedbackService(Options options, FeedbackStore& store, Learner& learner, SenderLists* lists,
                  DkimPassDomains dkim, std::function<int64_t()> now_ms);
  Result<Response> report(const Request& request);
  Status set_consent(const std::string& user, Consent consent);
  // The user's current threshold shift from their corrections (for the scan's ActionPolicy).
  Result<double> threshold_shift(const std::string& user);
  Result<UserState> user_state(const std::string& user);
  // Tenant policy lookup for "learning enabled" (none: learning is on everywhere). A lookup
  // error of kind temporary fails the report (nothing counted; the client retries).
  void set_learning_lookup(LearningLookup lookup) { learning_ = std::move(lookup); }
  // Called after an ARF report was written to the spool (mailsiftd wakes the relay sender).
  void set_on_shared(std::function<void()> hook) { on_shared_ = std::move(hook); }

 private:
  double shift_for(const Corrections& c) const;
  Options options_;
  FeedbackStore& store_;
  Learner& learner_;
  SenderLists* lists_;
  DkimPassDomains dkim_;
  std::function<int64_t()> now_ms_;
  LearningLookup learning_;
  std::function<void()> on_shared_;
};

// A user's threshold shift from their corrections: step * (false positives - missed spam),
// bounded by ±threshold_max_shift.
double threshold_shift_for(const Options& options, const Corrections& corrections);

// List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058) header values → targets.
Unsubscribe parse_list_unsubscribe(std::string_view list_unsubscribe, std::string_view post);

// An ARF (RFC 5965) report for one message, recipient redacted per RFC 6590 (local part hashed).
struct ArfInput {
  std::string feedback_type = "abuse";
  std::string user_agent = "mailsift/0.1";
  std::string reporting_mta;
  std::string original_mail_from;
  std::string original_rcpt;  // redacted in the report
  std::string source_ip;
  std::string arrival_date;  // RFC 5322 date, optional
  std::string reported_domain;
  std::string raw;            // the reported message (headers and body)
  std::string boundary_seed;  // makes the MIME boundary deterministic in tests
};
std::string render_arf(const ArfInput& input);
std::string redact_address(std::string_view address);

}  // namespace mailsift::feedback
