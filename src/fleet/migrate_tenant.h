// mailsift::fleet migrate (tenants and feedback) — copy the embedded tenants.db and feedback.db
// into the fleet's TenantStore / FeedbackStore (PostgreSQL from the CLI, memory in tests) and
// verify by reading the destination back; the rows join migrate.h's per-kind table.
//
// Owns: recognising the two file kinds by their tables, reading them read-only with plain SQL,
// writing through the interfaces, and the verification counts.
//   tenants.db: resellers, domains, users, policies, list entries, API keys. Added parents first;
//     an object already there equal to the source counts as present; list entries are matched by
//     (level, owner, kind, pattern) — the destination assigns new entry ids.
//   feedback.db: reports (with their LSH bands and signatures), consent, and the per-user
//     counters. The FeedbackStore interface only adds counters together with a report, so a
//     user's reliability and corrections ride on the user's first report, and a (user, sender)
//     reputation on the first report from that sender; commit_report is idempotent by (user,
//     digest, kind), so a re-run (or a run after a partial one) adds nothing twice.
// Failure semantics: as migrate.h — an unreadable source is kConfig, a destination error is
// returned as is (kTemporary when the server is down; re-running completes the copy), a
// verification mismatch is not an error (report.ok() is false).
#pragma once

#include <string>
#include <vector>

#include "feedback/feedback.h"
#include "fleet/migrate.h"
#include "tenant/tenant.h"

namespace mailsift::fleet {

enum class TenantFileKind { kOther, kTenants, kFeedback };
// kOther also for files that cannot be opened (migrate() reports those).
TenantFileKind tenant_file_kind(const std::string& path);

struct TenantMigrateTargets {
  tenant::TenantStore* tenants = nullptr;
  feedback::FeedbackStore* feedback = nullptr;
};

// Copies (unless dry_run) and verifies; appends kinds "tenant resellers", "tenant domains",
// "tenant users", "tenant policies", "tenant list entries", "tenant api keys", "feedback
// reports", "feedback reporters", "feedback senders", "feedback corrections", "feedback consent".
// kConfig when files of a kind are given without a destination for it.
Status migrate_tenant_files(const std::vector<std::string>& files, bool dry_run,
                            const TenantMigrateTargets& targets, MigrateReport& report);

}  // namespace mailsift::fleet
