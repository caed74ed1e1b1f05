// mailsift::fleet migrate — copy embedded SQLite state into the fleet backends (issue 9 point 6).
//
// Owns: reading the embedded files (mailsift.db: learned messages and fuzzy fingerprints;
// decisions.db: the decision log; outbound.db: account statuses, sending counters, recipient
// sets, values, alerts — each file's kind is recognised by its tables), writing them through the
// destination interfaces (store::Store, decisions::DecisionLog, outbound::OutboundStore; the CLI
// passes Redis / PostgreSQL ones, tests may pass memory ones), and verifying afterwards by
// reading the destination back (a per-kind table, source vs destination).
//
// Idempotent: learned messages are re-learned by digest (already-learned = no-op), fuzzy records
// replace by (scope, digest, reporter), decisions are recorded by id, statuses / values / set
// members are set, counters are raised only by the difference (source − destination) per bucket,
// alerts already present (same time, subject, kind, detail) are skipped. A second run copies
// nothing and reports the same table. Token counts are never copied as numbers: they follow from
// the learned-message records, so unlearn keeps working on the destination.
//
// Failure semantics: an unreadable/unknown source file is kConfig (nothing written); a
// destination error is returned as is (kTemporary when a server is down) — what was written stays
// written and a re-run completes it. A verification mismatch is not an error: report.ok() is false.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "decisions/decisions.h"
#include "outbound/store.h"
#include "store/store.h"

namespace mailsift::fleet {

struct MigrateOptions {
  std::vector<std::string> sources;  // SQLite files (mailsift.db, decisions.db, outbound.db...)
  bool dry_run = false;              // read and compare only; write nothing
};

// Where each kind goes; a null target means "the run has no destination for it" (a source of that
// kind is then kConfig).
struct MigrateTargets {
  store::Store* store = nullptr;
  decisions::DecisionLog* log = nullptr;
  outbound::OutboundStore* outbound = nullptr;
};

struct KindCount {
  std::string kind;
  uint64_t source = 0;       // distinct items in the sources
  uint64_t written = 0;      // items this run changed in the destination
  uint64_t destination = 0;  // items the destination holds equal to the source after the run
  // Token counts / learned messages: equal. Counters: the destination may only have more (live
  // traffic after the switch), so destination counts buckets holding at least the source value.
  bool ok() const { return destination == source; }
};

struct MigrateReport {
  std::vector<KindCount> kinds;
  bool dry_run = false;
  bool ok() const;
  std::string table() const;  // aligned text table: kind, source, written, destination, status
};

Result<MigrateReport> migrate(const MigrateOptions& options, const MigrateTargets& targets);

// Parses Scope::key() text back ("g:", "r:acme", "d:example.com", "u:bob@example.com").
Result<store::Scope> parse_scope_key(const std::string& key);

}  // namespace mailsift::fleet
