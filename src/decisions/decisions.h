// mailsift::decisions — the decision log: every verdict mailsiftd gives, searchable by support.
//
// Owns: the Decision record (one per message per node: envelope, connection, each recipient's
// tenant IDs, score, action, symbols and the SMTP reply the client saw), its storage (SQLite
// embedded default, in-memory for tests; PostgreSQL later behind the same interface) and queries
// by field and UTC time range. Time zones are the caller's business (CLI converts with the IANA
// database); everything here is UTC milliseconds.
//
// Failure semantics: record() and query() return kTemporary when the store cannot be reached or
// written; a caller that must not lose a decision keeps it and retries (issue 9 queues durably).
// record() is idempotent by Decision::id (a retry after an ambiguous failure never duplicates); a
// decision without an id is kMalformed.
//
// Durability contract. The backends (SQLite, memory) are synchronous: a record() that returned
// Ok is durable (SQLite: committed with synchronous=FULL). The group-commit wrapper
// (make_group_commit_log, used by mailsiftd when decisions.flush_ms > 0) trades that for
// throughput: its record() returning Ok means "queued"; a background writer commits the queue in
// one transaction per batch (at most batch_max decisions, at least every flush_ms), so a queued
// decision is durable within flush_ms plus one commit. What a crash (SIGKILL, power loss) can
// lose is bounded by that window: the decisions queued since the last commit. Nothing is dropped
// otherwise: a full queue blocks record() (back-pressure) until the writer catches up; a failed
// batch write is counted, kept and retried; flush() and close()/destruction write everything
// queued. flush() returning Ok makes every earlier Ok'd record() durable.
//
// Matching (every backend, see normalize.h): sender, recipient, user and domain compare
// case-insensitively and ignore surrounding <>; a sender filter of "<>" finds the null sender;
// client_ip compares in canonical form (2001:DB8::1 == 2001:db8:0::1); message_id ignores
// surrounding <>; action and direction compare ASCII case-insensitively; id, queue_id and
// reseller compare exactly. All recipient filters (recipient, user, domain, reseller, action)
// must hold for the SAME recipient ("user U's copy was rejected"); a match returns the whole
// decision with all its recipients. Order: newest first, ties by id descending.
//
// SQLite layout: docs/decision-log.md (file kDecisionsFileName in the data dir, separate from the
// learning store so retention and backups of the two are independent).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace mailsift::decisions {

struct SymbolHit {
  std::string name;
  double score = 0;
};

struct RecipientDecision {
  std::string address;  // envelope recipient as given by the MTA
  std::string user;     // tenant IDs where known, "" otherwise
  std::string domain;
  std::string reseller;
  double score = 0;
  std::string action;         // scan::to_string(Action): "no action", "add header", "reject", ...
  std::string smtp_reply;     // full reply the client saw when refused/tempfailed ("" if accepted)
  std::string stage;          // "rcpt" when decided at RCPT time, "data" after the content
  std::string policy_source;  // where the recipient's policy came from
  std::vector<SymbolHit> symbols;
};

struct Decision {
  std::string id;                     // reference written into X-Mailsift-Id; unique
  int64_t time_unix_ms = 0;           // UTC
  std::string node;                   // which mailsiftd decided
  std::string direction = "inbound";  // "inbound" or "outbound"
  std::string queue_id;               // MTA queue ID (milter macro i), "" over HTTP
  std::string message_id;
  std::string client_ip;
  std::string helo;
  std::string mail_from;
  std::string auth_user;
  std::string subject;
  std::string digest;
  int64_t elapsed_us = 0;
  std::vector<std::string> errors;
  std::vector<RecipientDecision> recipients;
};

// Every set field must match (exact, case-insensitive for addresses/domains); an empty field is
// not a filter. Results are newest first.
struct Query {
  std::optional<int64_t> since_unix_ms;  // inclusive
  std::optional<int64_t> until_unix_ms;  // exclusive
  std::string id;
  std::string sender;     // mail_from
  std::string recipient;  // any recipient address
  std::string user;
  std::string domain;
  std::string reseller;
  std::string queue_id;
  std::string message_id;
  std::string client_ip;
  std::string action;  // any recipient with this action
  std::string direction;
  size_t limit = 100;  // 0 = no limit
};

class DecisionLog {
 public:
  virtual ~DecisionLog() = default;
  virtual Status record(const Decision& decision) = 0;
  // Several decisions; the SQLite backend writes them in one transaction (all or nothing), so a
  // batch costs one commit. Default: record() each, stopping at the first error.
  virtual Status record_batch(std::span<const Decision> decisions);
  // Every record() that returned Ok before this call is durable once this returns Ok.
  // Synchronous backends: nothing to do.
  virtual Status flush() { return Ok{}; }
  virtual Result<std::vector<Decision>> query(const Query& query) = 0;
  // Removes decisions older than the cutoff; returns how many.
  virtual Result<size_t> expire(int64_t older_than_unix_ms) = 0;
};

// The SQLite decision log's file name inside the data dir.
inline constexpr const char* kDecisionsFileName = "decisions.db";

struct SqliteLogOptions {
  int busy_timeout_ms = 5000;  // wait this long for another writer before kTemporary
  bool create = true;          // false: a missing file is kTemporary instead of created
};

std::unique_ptr<DecisionLog> make_memory_log();

// Group commit (see the durability contract above).
struct GroupCommitOptions {
  int flush_ms = 20;          // a queued decision is committed within this many milliseconds
  size_t batch_max = 256;     // at most this many decisions per transaction; a full batch is
                              // written at once
  size_t queue_max = 4096;    // record() blocks while this many are queued (back-pressure)
  int retry_max_ms = 1000;    // a failed batch is retried after 10 ms, doubling up to this
};
struct GroupCommitStats {
  uint64_t queued = 0;        // accepted by record() so far
  uint64_t written = 0;       // committed so far
  uint64_t batches = 0;       // transactions committed
  uint64_t write_errors = 0;  // failed batch writes (each is retried; nothing is dropped)
  uint64_t blocked = 0;       // record() calls that waited for a full queue
  uint64_t lost = 0;          // decisions still queued when close() gave up (also on stderr)
  size_t pending = 0;         // queued now, not yet committed
};
// Wraps a synchronous log (the writer thread owns all writes to it; query() and expire() pass
// through after a flush, so a caller reads its own writes).
class GroupCommitLog : public DecisionLog {
 public:
  virtual GroupCommitStats stats() const = 0;
  // Stops accepting (record() then fails kTemporary) and writes what is queued, retrying failed
  // batches for up to `give_up_ms`; anything still unwritten is counted in `lost` and printed to
  // stderr as JSON lines (never silently dropped). The destructor calls close(5000).
  virtual Status close(int give_up_ms) = 0;
};
std::unique_ptr<GroupCommitLog> make_group_commit_log(std::unique_ptr<DecisionLog> inner,
                                                      const GroupCommitOptions& options);
Result<std::unique_ptr<DecisionLog>> open_sqlite_log(const std::string& path);
Result<std::unique_ptr<DecisionLog>> open_sqlite_log(const std::string& path,
                                                     const SqliteLogOptions& options);

// A new decision ID: time-ordered and unique across nodes, "YYYYMMDDTHHMMSS.mmmZ-" + 16 hex
// digits from the OS CSPRNG (OpenSSL RAND_bytes), e.g. "20261128T140102.345Z-3f9a1c2b7d0e4a61".
// Lexicographic order of IDs is time order (to the millisecond; random within one millisecond).
std::string new_decision_id(int64_t time_unix_ms);
// The same from given random bits (tests; nodes that bring their own randomness).
std::string format_decision_id(int64_t time_unix_ms, uint64_t random_bits);

}  // namespace mailsift::decisions
