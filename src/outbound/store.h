// mailsift::outbound — account status and the counters behind sending limits.
//
// Owns: AccountStatus (per user / domain / reseller: active, sending_disabled, suspended, with
// reason, who changed it when, and whether support may reverse it), detection alerts, and the
// OutboundStore interface: a small key-value vocabulary (bucketed counters, time-stamped sets,
// opaque values) that the SQLite backend (embedded default) and the memory backend (tests)
// implement, and that a Redis backend can implement 1:1 later. Times are UTC milliseconds passed
// in by the caller (the Guard owns the injected clock); the store never reads a clock.
//
// Key shape (docs/outbound.md): every counter/set/value key is
//   "<metric>:<kind>:<id>"        e.g. "msg1m:user:alice@example.com", "rcpt1d:domain:example.com"
// with kind one of user|domain|reseller (Subject::key()). For Redis:
//   counter  -> HASH  "ms:ob:<key>"  field = bucket number, HINCRBY; sum = HMGET of the range;
//               prune = HDEL of old fields (or EXPIRE on the whole key: buckets are small)
//   set      -> ZSET  "ms:ob:<key>"  member, score = last-seen ms; ZADD / ZCOUNT / ZREMRANGEBYSCORE
//   value    -> STRING "ms:ob:<key>"
//   status   -> HASH  "ms:ob:status:<kind>:<id>"
// Identifiers are lower-cased by Subject constructors; keys contain no whitespace.
//
// Failure semantics: every call returns kTemporary when the backend cannot be reached / is
// locked beyond its busy timeout; the caller tempfails (never a silent accept or loss).
// Thread-safety: backends are safe to call from several threads (one internal mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::outbound {

// Ordered: a higher level is more restrictive; the effective status is the maximum over the
// user, its domain and its reseller.
enum class Level { kActive = 0, kSendingDisabled = 1, kSuspended = 2 };
const char* to_string(Level level);               // "active", "sending_disabled", "suspended"
std::optional<Level> parse_level(std::string_view text);

enum class SubjectKind { kUser, kDomain, kReseller };
const char* to_string(SubjectKind kind);  // "user", "domain", "reseller"

struct Subject {
  SubjectKind kind = SubjectKind::kUser;
  std::string id;  // lower-case address / domain; reseller id as given

  static Subject user(std::string_view address);
  static Subject domain(std::string_view domain);
  static Subject reseller(std::string_view id);
  std::string key() const;       // "user:alice@example.com"
  std::string describe() const;  // "alice@example.com", "domain example.com", "reseller r1"
  bool operator==(const Subject&) const = default;
};

struct AccountStatus {
  Subject subject;
  Level level = Level::kActive;
  std::string reason;         // shown in the SMTP reply; "auto: ..." when set by detection
  int64_t changed_at_ms = 0;  // UTC
  std::string changed_by;     // operator name, "cli", or "mailsift-detect"
  bool reversible = true;     // false: only an administrator (not support tooling) may undo
};

struct Alert {
  int64_t time_ms = 0;
  std::string subject;  // Subject::key()
  std::string kind;     // "auto_hold"
  double score = 0;
  std::string detail;  // signals that fired, with their numbers
};

class OutboundStore {
 public:
  virtual ~OutboundStore() = default;

  // Status; nullopt = never set (= active).
  virtual Result<std::optional<AccountStatus>> get_status(const Subject& subject) = 0;
  virtual Status put_status(const AccountStatus& status) = 0;
  // Every subject whose level is not active.
  virtual Result<std::vector<AccountStatus>> restricted() = 0;

  // Bucketed counter: adds delta to `bucket` of `key` and drops buckets < keep_from.
  virtual Status add_count(std::string_view key, int64_t bucket, int64_t delta,
                           int64_t keep_from) = 0;
  // Sum of buckets first..last (inclusive).
  virtual Result<int64_t> sum_counts(std::string_view key, int64_t first, int64_t last) = 0;

  // Time-stamped set: sets member's last-seen to now_ms, drops members last seen before
  // keep_since_ms; true when the member was not present (or had expired).
  virtual Result<bool> touch_member(std::string_view key, std::string_view member, int64_t now_ms,
                                    int64_t keep_since_ms) = 0;
  // Whether member was last seen at or after since_ms (read only).
  virtual Result<bool> has_member(std::string_view key, std::string_view member,
                                  int64_t since_ms) = 0;
  // Members last seen at or after since_ms.
  virtual Result<int64_t> count_members(std::string_view key, int64_t since_ms) = 0;

  virtual Result<std::optional<std::string>> get_value(std::string_view key) = 0;
  virtual Status put_value(std::string_view key, std::string_view value) = 0;

  virtual Status add_alert(const Alert& alert) = 0;
  // Newest first; subject_key "" = all.
  virtual Result<std::vector<Alert>> alerts(std::string_view subject_key, size_t limit) = 0;
};

inline constexpr const char* kOutboundFileName = "outbound.db";

std::unique_ptr<OutboundStore> make_memory_store();
// flush_ms > 0: group commit (outbound.store.flush_ms, see sqlite_store.cc); 0: every write is
// its own transaction.
Result<std::unique_ptr<OutboundStore>> open_sqlite_store(const std::string& path,
                                                         int busy_timeout_ms = 5000,
                                                         int flush_ms = 0);

}  // namespace mailsift::outbound
