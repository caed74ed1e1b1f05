// mailsift::outbound::Guard — account status, sending limits and compromised-account detection
// for authenticated (outbound) senders.
//
// Owns: the decision for one outbound MAIL/RCPT (accept, tempfail or reject with the reply text
// from replies.h), the sliding-window counters it keeps in an OutboundStore, the detection score
// and the automatic hold it triggers, and the per-message recipient count.
//
// Windows (bucketed counters in the store, docs/outbound.md "Windows"):
//   messages/hour           60 one-minute buckets per user, domain, reseller
//   distinct recipients/day time-stamped set of recipients per scope, 24 h sliding
//   failed-recipient ratio  144 ten-minute buckets (24 h) of accepted and of failed recipients
//                           per user; failures come from report_failed_recipients()
//   EWMA baseline           hourly message counts (48 one-hour buckets) folded into an EWMA
// A message is one Postfix `instance`; it is counted at its first accepted recipient. The
// per-message recipient count is kept in memory (a Postfix smtpd talks to one policy server
// connection per SMTP session, so one node sees a whole message).
//
// Detection (thresholds in config, outbound.detect.*): signals burst, high_score, failed,
// new_network, same_content each add their weight; when the sum reaches outbound.detect.threshold
// the user's status becomes sending_disabled with reason "auto: <signals>", changed_by
// "mailsift-detect", and an Alert is written. A hold is reversible with set_status(active);
// after a human (not mailsift-detect) activates a user, detection is suspended for
// outbound.detect.grace_seconds so the same traffic does not hold it again at once.
//
// Failure semantics: store errors come back as kTemporary; the caller answers the internal
// tempfail reply (never a silent accept). Limits of 0 are "unlimited".
// Thread-safety: all methods may be called concurrently (the store serialises; the in-memory
// per-message table has its own mutex). Counting is not atomic across checks: two concurrent
// messages at the limit may both pass (limits are approximate by one message per connection).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/config.h"
#include "core/result.h"
#include "outbound/replies.h"
#include "outbound/store.h"

namespace mailsift::outbound {

// Who is sending. The domain is the part after '@' of the user (or of the envelope sender when
// the login has no domain); the reseller is "" unless the caller knows it (tenants).
struct Identity {
  std::string user;
  std::string domain;
  std::string reseller;
  static Identity from(std::string_view login, std::string_view sender = {},
                       std::string_view reseller = {});
};

struct ScopeLimits {
  int64_t messages_per_hour = 0;    // 0 = unlimited
  int64_t distinct_per_day = 0;     // distinct recipients in 24 h; 0 = unlimited
};

struct DetectConfig {
  bool enabled = true;
  double threshold = 1.0;
  double burst_weight = 0.6, burst_factor = 3, ewma_alpha = 0.3;
  int64_t burst_min_messages = 30;
  double high_score_weight = 0.5, high_score = 6;
  int64_t high_score_count = 10;
  double failed_weight = 0.5;
  int64_t failed_count = 20;
  double new_network_weight = 0.4;
  double same_content_weight = 0.5;
  int64_t same_content_recipients = 50;
  int64_t grace_seconds = 3600;
};

struct GuardConfig {
  ScopeLimits user{200, 1000}, domain{2000, 10000}, reseller{0, 0};
  int64_t recipients_per_message = 100;
  double failed_ratio = 0.5;             // refuse above this share of failed recipients in 24 h
  int64_t failed_min_recipients = 20;    // ... once the user sent to at least this many
  bool tempfail_over_limit = true;       // false: limits reject (5.7.x) instead of 4.7.x
  DetectConfig detect;
  static Result<GuardConfig> from_config(const Config& config);
};

enum class Verdict { kAccept, kTempfail, kReject };
const char* to_string(Verdict v);  // "accept", "tempfail", "reject"

struct Outcome {
  Verdict verdict = Verdict::kAccept;
  std::string reply;  // "550 5.7.1 Sending disabled for ..." ("" when accepted)
  std::string rule;   // ReplySpec::name of the refusal, "" when accepted
  bool held_now = false;  // detection put the account on hold during this request
};

struct RcptRequest {
  Identity who;
  std::string instance;   // Postfix `instance`: same for all recipients of one message
  std::string recipient;
  std::string client_ip;  // for the new-network signal; "" = unknown
  std::string ref;        // decision id quoted in refusals
};

// Numbers behind `mailsift account limits`.
struct ScopeUsage {
  Subject subject;
  int64_t messages_last_hour = 0, messages_limit = 0;
  int64_t distinct_last_day = 0, distinct_limit = 0;
};
struct Usage {
  AccountStatus effective;  // most restrictive of user/domain/reseller
  std::vector<ScopeUsage> scopes;
  int64_t recipients_last_day = 0, failed_last_day = 0;
  double baseline_per_hour = 0;
  int64_t networks = 0;
  double detect_score = 0;
  std::string detect_signals;
};

class Guard {
 public:
  using Clock = std::function<int64_t()>;  // UTC ms
  static int64_t system_now_ms();

  Guard(OutboundStore& store, GuardConfig config, Clock clock = &Guard::system_now_ms);

  // Sender check (MAIL FROM stage): account status only; also records the login's network.
  Result<Outcome> check_mail(const Identity& who, std::string_view client_ip,
                             std::string_view ref);
  // Recipient check: status, limits, counting, detection. An accepted recipient is counted.
  Result<Outcome> check_rcpt(const RcptRequest& request);

  // Recipients of this user that were rejected/unknown/bounced (reported back by the MTA log,
  // bounce processing or an operator); feeds the failed ratio and the failed signal.
  Status report_failed_recipients(const Identity& who, int64_t count);
  // A scanned outbound message (content path): its score and digest feed high_score and
  // same_content.
  Status report_scanned(const Identity& who, double score, std::string_view digest,
                        int64_t recipients);

  Result<AccountStatus> effective_status(const Identity& who);
  Status set_status(const Subject& subject, Level level, std::string_view reason,
                    std::string_view by, bool reversible = true);
  Result<Usage> usage(const Identity& who);

  const GuardConfig& config() const { return config_; }

 private:
  struct Score {
    double total = 0;
    std::string signals;
  };
  Result<std::optional<Outcome>> refuse_by_status(const Identity& who, std::string_view ref);
  Status note_network(const Identity& who, std::string_view client_ip, int64_t now);
  Result<double> fold_baseline(const std::string& user_key, int64_t now);
  Result<Score> score(const Identity& who, int64_t now);
  // Runs detection; true when it held the account.
  Result<bool> detect(const Identity& who, int64_t now);
  Outcome limit_refusal(ReplyKind kind, const Subject& s, int64_t n, int64_t pct = 0) const;

  OutboundStore& store_;
  GuardConfig config_;
  Clock clock_;

  struct Message {
    int64_t first_ms = 0;
    int64_t recipients = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Message> messages_;  // by instance
  // (first_ms, instance) in the order messages were first counted: pruning pops the expired
  // front instead of sweeping the whole table (the sweep was half of check_rcpt's CPU in
  // bench/outbound).
  std::deque<std::pair<int64_t, std::string>> message_order_;
  int64_t last_prune_ms_ = 0;
};

// "192.0.2.0/24" / "2001:db8:1::/48"; "" when the address does not parse.
std::string network_of(std::string_view ip);

}  // namespace mailsift::outbound
