// mailsift::store — the narrow storage interface for learned state.
//
// Owns: what the engine persists — statistical token counts per scope, the record of which
// messages were learned as what (so learn is idempotent and unlearn reverses exactly), and
// near-duplicate fingerprints. Backends: in-memory (tests), SQLite (embedded default); Redis and
// PostgreSQL implement the same interface later. Callers never see backend specifics.
//
// Every key carries its Scope (global / reseller / domain / user + id); scopes never mix.
//
// Failure semantics: every call returns Result. A backend that cannot reach or write its data
// returns kTemporary (the caller tempfails; nothing is silently dropped). A successful learn()
// or unlearn() is durable when it returns (SQLite: committed in WAL with synchronous=FULL), and
// each is atomic: token deltas, class totals and the learned-message record change together.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace mailsift::store {

enum class Level { kGlobal = 0, kReseller = 1, kDomain = 2, kUser = 3 };

struct Scope {
  Level level = Level::kGlobal;
  std::string id;  // "" for global; reseller id, domain name or user address otherwise

  static Scope global() { return {Level::kGlobal, ""}; }
  // Stable text key, e.g. "g:", "r:acme", "d:example.com", "u:bob@example.com".
  std::string key() const;
  bool operator==(const Scope&) const = default;
};

enum class Class { kHam = 0, kSpam = 1 };
const char* to_string(Class c);

struct TokenCounts {
  uint32_t ham = 0;
  uint32_t spam = 0;
  bool operator==(const TokenCounts&) const = default;
};

struct ClassTotals {
  uint64_t ham_messages = 0;  // messages learned as ham in this scope
  uint64_t spam_messages = 0;
  bool operator==(const ClassTotals&) const = default;
};

// A message's contribution: its digest identifies it (learn twice = no-op), tokens are the
// de-duplicated feature hashes the classifier extracted.
struct LearnRequest {
  Scope scope;
  std::string message_digest;  // hex SHA-256 of the normalised message
  Class cls = Class::kSpam;
  std::vector<uint64_t> tokens;
};

enum class LearnOutcome {
  kLearned,         // counted as cls
  kAlreadyLearned,  // already counted as cls: nothing changed
  kRelearned,       // was counted as the other class: moved to cls
  kUnlearned,       // unlearn: removed
  kNotLearned,      // unlearn: there was nothing to remove for this digest and class
};
const char* to_string(LearnOutcome o);

// Near-duplicate fingerprint record (see fuzzy/). Bands are LSH band hashes used to find
// candidates; signature is the full min-hash used to compute similarity.
struct FuzzyRecord {
  std::string message_digest;
  Class cls = Class::kSpam;
  std::vector<uint64_t> bands;
  std::vector<uint32_t> signature;
  std::string reporter;  // who reported it ("" = operator/CLI); for independent-reporter counts
  int64_t added_unix = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Counts for each token, in order; unknown tokens are {0,0}.
  virtual Result<std::vector<TokenCounts>> token_counts(const Scope& scope,
                                                        std::span<const uint64_t> tokens) = 0;
  virtual Result<ClassTotals> totals(const Scope& scope) = 0;

  // Atomic and idempotent, see LearnOutcome. Unlearn removes exactly what learn added, using
  // the tokens recorded at learn time (the request's tokens are ignored for unlearn).
  virtual Result<LearnOutcome> learn(const LearnRequest& request) = 0;
  virtual Result<LearnOutcome> unlearn(const Scope& scope, const std::string& message_digest,
                                       Class cls) = 0;

  // Bulk training: outcomes in request order, as if learn() were called for each in turn. A
  // durable commit per message is what makes single learns slow (SQLite: ~one fsync and a WAL
  // write of every touched page each), so backends may commit the whole batch at once. On error
  // nothing is acknowledged; requests that were applied stay applied (each completely), so a
  // retry is safe. The default just loops.
  virtual Result<std::vector<LearnOutcome>> learn_batch(std::span<const LearnRequest> requests) {
    std::vector<LearnOutcome> out;
    out.reserve(requests.size());
    for (const LearnRequest& r : requests) {
      auto o = learn(r);
      if (!o.ok())
        return o.error();
      out.push_back(o.value());
    }
    return out;
  }

  // Several fuzzy records at once (bulk training), committed together where the backend can.
  // Same error semantics as learn_batch. The default just loops.
  virtual Status fuzzy_add_batch(const Scope& scope, std::span<const FuzzyRecord> records) {
    for (const FuzzyRecord& r : records) {
      Status st = fuzzy_add(scope, r);
      if (!st.ok()) return st;
    }
    return Ok{};
  }

  // Near-duplicate memory. add replaces a record with the same (scope, digest, reporter).
  virtual Status fuzzy_add(const Scope& scope, const FuzzyRecord& record) = 0;
  virtual Status fuzzy_remove(const Scope& scope, const std::string& message_digest) = 0;
  // Records sharing at least one band with `bands`, at most `limit`: most shared bands first,
  // ties by (digest, reporter) — every backend orders the same way.
  virtual Result<std::vector<FuzzyRecord>> fuzzy_candidates(const Scope& scope,
                                                            std::span<const uint64_t> bands,
                                                            size_t limit) = 0;

  // Scan-path batching hint: the engine announces the reads one recipient's checks are about to
  // make (totals and token_counts of every scope of `chain` for `tokens`, fuzzy_candidates for
  // `bands`), so a networked backend can fetch them in one round trip and answer those calls on
  // this thread from that snapshot until end_prefetch(). Local backends ignore it (default). Never
  // fails: on error the later calls fetch as usual and report it.
  virtual void prefetch(std::span<const Scope> chain, std::span<const uint64_t> tokens,
                        std::span<const uint64_t> bands) {
    (void)chain, (void)tokens, (void)bands;
  }
  virtual void end_prefetch() {}
};

// "memory:" or "sqlite:/path/to/file.db" (or a bare path, meaning sqlite).
Result<std::unique_ptr<Store>> open_store(const std::string& uri);

std::unique_ptr<Store> make_memory_store();
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

struct SqliteOptions {
  // How long a write waits for another process's write transaction before kTemporary.
  int busy_timeout_ms = 5000;
};
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path,
                                                 const SqliteOptions& options);

}  // namespace mailsift::store
