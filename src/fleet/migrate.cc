// mailsift migrate: embedded SQLite files -> fleet backends, then verification (see migrate.h).
//
// Sources are opened read-only with plain SQL (the Store / OutboundStore interfaces have no
// enumeration); the decision log is read through decisions::open_sqlite_log, one day at a time,
// so memory stays bounded by one day of decisions and by one scope of learned state.
#include "fleet/migrate.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "fleet/sqlite_source.h"
#include "store/le_blob.h"

namespace mailsift::fleet {
namespace {

using detail::col_text;
using detail::row;
using detail::SqliteSource;

using store::decode_le;  // the SQLite store's BLOB layout

constexpr size_t kBatch = 256;
constexpr int64_t kDayMs = 86'400'000;
// Enough to find one record among everything sharing a band with it.
constexpr size_t kMaxCandidates = 1'000'000;

enum class Kind { kStore, kLog, kOutbound };

struct Source {
  std::unique_ptr<SqliteSource> db;
  Kind kind;
};

// ---- learned state --------------------------------------------------------------------------

struct Learned {
  store::Class cls;
  std::vector<uint64_t> tokens;
};

Status migrate_store(const std::vector<SqliteSource*>& dbs, store::Store* dest, bool dry_run,
                     MigrateReport& report) {
  KindCount& messages = row(report, "learned messages");
  KindCount& tokens = row(report, "token counts");
  KindCount& fuzzy = row(report, "fuzzy records");
  std::set<std::string> scope_keys;
  for (SqliteSource* db : dbs) {
    if (auto st = db->each("SELECT key FROM scopes",
                           [&](sqlite3_stmt* s) { scope_keys.insert(col_text(s, 0)); });
        !st)
      return st;
  }
  for (const std::string& key : scope_keys) {
    auto scope = parse_scope_key(key);
    if (!scope)
      return scope.error();
    // One scope at a time: the digests seen (first source wins, like learning it once) and the
    // counts the destination must end up with.
    std::unordered_map<std::string, Learned> learned;
    for (SqliteSource* db : dbs) {
      Status st = db->each(
          "SELECT l.digest, l.cls, l.tokens FROM learned l JOIN scopes s ON s.id = l.scope "
          "WHERE s.key = ?1 ORDER BY l.digest",
          [&](sqlite3_stmt* s) {
            learned.try_emplace(
                col_text(s, 0),
                Learned{
                    sqlite3_column_int(s, 1) ? store::Class::kSpam : store::Class::kHam,
                    decode_le<uint64_t>(sqlite3_column_blob(s, 2), sqlite3_column_bytes(s, 2))});
          },
          key);
      if (!st)
        return st;
    }
    std::unordered_map<uint64_t, store::TokenCounts> expected;
    std::vector<store::LearnRequest> batch;
    auto flush = [&]() -> Status {
      if (batch.empty() || dry_run)
        return batch.clear(), Ok{};
      auto outcomes = dest->learn_batch(batch);
      batch.clear();
      if (!outcomes)
        return outcomes.error();
      for (auto o : *outcomes)
        if (o != store::LearnOutcome::kAlreadyLearned)
          messages.written++;
      return Ok{};
    };
    for (auto& [digest, l] : learned) {
      for (uint64_t t : l.tokens) {
        auto& c = expected[t];
        (l.cls == store::Class::kSpam ? c.spam : c.ham)++;
      }
      batch.push_back({*scope, digest, l.cls, l.tokens});
      if (batch.size() >= kBatch)
        if (auto st = flush(); !st)
          return st;
    }
    if (auto st = flush(); !st)
      return st;
    messages.source += learned.size();
    learned.clear();

    // Verify: totals and every token the records count.
    auto totals = dest->totals(*scope);
    if (!totals)
      return totals.error();
    // The destination's class totals of the scope: equal to the source's unless the fleet
    // learned other messages in the scope (then a visible mismatch, see docs/fleet.md).
    messages.destination += totals->ham_messages + totals->spam_messages;
    std::vector<uint64_t> ids;
    ids.reserve(expected.size());
    for (const auto& [t, c] : expected)
      ids.push_back(t);
    tokens.source += ids.size();
    for (size_t i = 0; i < ids.size(); i += 4096) {
      std::span<const uint64_t> chunk(ids.data() + i, std::min<size_t>(4096, ids.size() - i));
      auto got = dest->token_counts(*scope, chunk);
      if (!got)
        return got.error();
      for (size_t k = 0; k < chunk.size(); ++k)
        if ((*got)[k] == expected[chunk[k]])
          tokens.destination++;
    }

    // Fuzzy fingerprints of this scope: replace by (digest, reporter), then look each one up.
    std::map<std::pair<std::string, std::string>, store::FuzzyRecord> records;
    for (SqliteSource* db : dbs) {
      Status st = db->each(
          "SELECT f.digest, f.reporter, f.cls, f.bands, f.signature, f.added_unix FROM fuzzy f "
          "JOIN scopes s ON s.id = f.scope WHERE s.key = ?1",
          [&](sqlite3_stmt* s) {
            store::FuzzyRecord r;
            r.message_digest = col_text(s, 0);
            r.reporter = col_text(s, 1);
            r.cls = sqlite3_column_int(s, 2) ? store::Class::kSpam : store::Class::kHam;
            r.bands = decode_le<uint64_t>(sqlite3_column_blob(s, 3), sqlite3_column_bytes(s, 3));
            r.signature =
                decode_le<uint32_t>(sqlite3_column_blob(s, 4), sqlite3_column_bytes(s, 4));
            r.added_unix = sqlite3_column_int64(s, 5);
            records.try_emplace({r.message_digest, r.reporter}, std::move(r));
          },
          key);
      if (!st)
        return st;
    }
    fuzzy.source += records.size();
    for (const auto& entry : records) {
      // A plain reference, not a structured binding: clang 14 cannot capture bindings in lambdas.
      const store::FuzzyRecord& r = entry.second;
      // Written only when the destination does not hold it already (fuzzy_add would replace
      // it with the same content; skipping keeps "written" honest on a re-run).
      auto cands = dest->fuzzy_candidates(*scope, r.bands, kMaxCandidates);
      if (!cands)
        return cands.error();
      auto same = [&](const store::FuzzyRecord& c) {
        return c.message_digest == r.message_digest && c.reporter == r.reporter && c.cls == r.cls &&
               c.signature == r.signature && c.bands == r.bands;
      };
      bool present = std::any_of(cands->begin(), cands->end(), same);
      if (!present && !dry_run) {
        if (auto st = dest->fuzzy_add(*scope, r); !st)
          return st;
        fuzzy.written++;
        cands = dest->fuzzy_candidates(*scope, r.bands, kMaxCandidates);
        if (!cands)
          return cands.error();
        present = std::any_of(cands->begin(), cands->end(), same);
      }
      if (present)
        fuzzy.destination++;
    }
  }
  return Ok{};
}

// ---- decision log ---------------------------------------------------------------------------

Status migrate_log(const std::vector<SqliteSource*>& dbs, decisions::DecisionLog* dest,
                   bool dry_run, MigrateReport& report) {
  KindCount& decisions_row = row(report, "decisions");
  KindCount& recipients_row = row(report, "decision recipients");
  for (SqliteSource* db : dbs) {
    int64_t lo = 0, hi = -1;
    if (auto st = db->each("SELECT min(time_ms), max(time_ms) FROM decisions",
                           [&](sqlite3_stmt* s) {
                             if (sqlite3_column_type(s, 0) != SQLITE_NULL) {
                               lo = sqlite3_column_int64(s, 0);
                               hi = sqlite3_column_int64(s, 1);
                             }
                           });
        !st)
      return st;
    if (hi < lo)
      continue;
    auto src = decisions::open_sqlite_log(db->path());
    if (!src)
      return Error::config(db->path() + ": " + src.error().message);
    const int64_t first_day = lo - (((lo % kDayMs) + kDayMs) % kDayMs);
    for (int64_t day = first_day; day <= hi; day += kDayMs) {
      decisions::Query q;
      q.since_unix_ms = day;
      q.until_unix_ms = day + kDayMs;
      q.limit = 0;
      auto got = (*src)->query(q);
      if (!got)
        return got.error();
      if (got->empty())
        continue;
      auto have = dest->query(q);
      if (!have)
        return have.error();
      std::unordered_map<std::string, size_t> have_recipients;
      for (const auto& d : *have)
        have_recipients.emplace(d.id, d.recipients.size());
      std::vector<decisions::Decision> missing;
      for (auto& d : *got) {
        decisions_row.source++;
        recipients_row.source += d.recipients.size();
        if (!have_recipients.count(d.id))
          missing.push_back(std::move(d));
      }
      if (!missing.empty() && !dry_run) {
        for (size_t i = 0; i < missing.size(); i += kBatch) {
          std::span<const decisions::Decision> chunk(missing.data() + i,
                                                     std::min(kBatch, missing.size() - i));
          if (auto st = dest->record_batch(chunk); !st)
            return st;
          decisions_row.written += chunk.size();
          for (const auto& d : chunk)
            recipients_row.written += d.recipients.size();
        }
        if (auto st = dest->flush(); !st)
          return st;
        have = dest->query(q);
        if (!have)
          return have.error();
        have_recipients.clear();
        for (const auto& d : *have)
          have_recipients.emplace(d.id, d.recipients.size());
      }
      // Count what the destination holds of this day's source decisions (others may be there).
      auto again = (*src)->query(q);
      if (!again)
        return again.error();
      for (const auto& d : *again) {
        auto it = have_recipients.find(d.id);
        if (it == have_recipients.end())
          continue;
        decisions_row.destination++;
        recipients_row.destination += std::min(it->second, d.recipients.size());
      }
    }
  }
  return Ok{};
}

// ---- outbound state -------------------------------------------------------------------------

Status migrate_outbound(const std::vector<SqliteSource*>& dbs, outbound::OutboundStore* dest,
                        bool dry_run, MigrateReport& report) {
  KindCount& statuses = row(report, "account statuses");
  KindCount& counters = row(report, "counter buckets");
  KindCount& members = row(report, "recipient-set members");
  KindCount& values = row(report, "values");
  KindCount& alerts = row(report, "alerts");
  for (SqliteSource* db : dbs) {
    // Statuses: set (the source's latest change wins only if newer than the destination's).
    std::vector<outbound::AccountStatus> src_status;
    Status st =
        db->each("SELECT subject, level, reason, changed_at, changed_by, reversible FROM status",
                 [&](sqlite3_stmt* s) {
                   outbound::AccountStatus a;
                   std::string subject = col_text(s, 0);
                   auto colon = subject.find(':');
                   std::string kind = subject.substr(0, colon), id = subject.substr(colon + 1);
                   a.subject = kind == "domain"     ? outbound::Subject::domain(id)
                               : kind == "reseller" ? outbound::Subject::reseller(id)
                                                    : outbound::Subject::user(id);
                   a.level = static_cast<outbound::Level>(sqlite3_column_int(s, 1));
                   a.reason = col_text(s, 2);
                   a.changed_at_ms = sqlite3_column_int64(s, 3);
                   a.changed_by = col_text(s, 4);
                   a.reversible = sqlite3_column_int(s, 5) != 0;
                   src_status.push_back(std::move(a));
                 });
    if (!st)
      return st;
    for (const auto& a : src_status) {
      statuses.source++;
      auto have = dest->get_status(a.subject);
      if (!have)
        return have.error();
      auto same = [&](const std::optional<outbound::AccountStatus>& h) {
        return h && h->level == a.level && h->reason == a.reason &&
               h->changed_at_ms == a.changed_at_ms && h->changed_by == a.changed_by &&
               h->reversible == a.reversible;
      };
      if (!same(*have) && (!*have || (*have)->changed_at_ms <= a.changed_at_ms) && !dry_run) {
        if (auto w = dest->put_status(a); !w)
          return w;
        statuses.written++;
        have = dest->get_status(a.subject);
        if (!have)
          return have.error();
      }
      // A newer status set on the fleet after the switch also counts as migrated.
      if (same(*have) || (*have && (*have)->changed_at_ms > a.changed_at_ms))
        statuses.destination++;
    }

    // Counters: raise each bucket to the source value (never double-count on a re-run).
    struct Counter {
      std::string key;
      int64_t bucket, n, keep_from;
    };
    std::vector<Counter> src_counters;
    st = db->each(
        "SELECT key, bucket, n, min(bucket) OVER (PARTITION BY key) FROM counters ORDER BY key, "
        "bucket",
        [&](sqlite3_stmt* s) {
          src_counters.push_back({col_text(s, 0), sqlite3_column_int64(s, 1),
                                  sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3)});
        });
    if (!st)
      return st;
    for (const auto& c : src_counters) {
      counters.source++;
      auto have = dest->sum_counts(c.key, c.bucket, c.bucket);
      if (!have)
        return have.error();
      if (*have < c.n && !dry_run) {
        if (auto w = dest->add_count(c.key, c.bucket, c.n - *have, c.keep_from); !w)
          return w;
        counters.written++;
        have = dest->sum_counts(c.key, c.bucket, c.bucket);
        if (!have)
          return have.error();
      }
      if (*have >= c.n)
        counters.destination++;
    }

    // Recipient sets: set last-seen unless the destination saw the member at least as late.
    struct Member {
      std::string key, member;
      int64_t seen, keep_since;
    };
    std::vector<Member> src_members;
    st = db->each(
        "SELECT key, member, seen, min(seen) OVER (PARTITION BY key) FROM members ORDER BY key, "
        "seen",
        [&](sqlite3_stmt* s) {
          src_members.push_back({col_text(s, 0), col_text(s, 1), sqlite3_column_int64(s, 2),
                                 sqlite3_column_int64(s, 3)});
        });
    if (!st)
      return st;
    for (const auto& m : src_members) {
      members.source++;
      auto have = dest->has_member(m.key, m.member, m.seen);
      if (!have)
        return have.error();
      if (!*have && !dry_run) {
        auto w = dest->touch_member(m.key, m.member, m.seen, m.keep_since);
        if (!w)
          return w.error();
        members.written++;
        have = dest->has_member(m.key, m.member, m.seen);
        if (!have)
          return have.error();
      }
      if (*have)
        members.destination++;
    }

    std::vector<std::pair<std::string, std::string>> src_values;
    st = db->each("SELECT key, value FROM kv", [&](sqlite3_stmt* s) {
      src_values.emplace_back(col_text(s, 0), col_text(s, 1));
    });
    if (!st)
      return st;
    for (const auto& [k, v] : src_values) {
      values.source++;
      auto have = dest->get_value(k);
      if (!have)
        return have.error();
      if (*have != v && !dry_run) {
        if (auto w = dest->put_value(k, v); !w)
          return w;
        values.written++;
        have = dest->get_value(k);
        if (!have)
          return have.error();
      }
      if (*have == v)
        values.destination++;
    }

    // Alerts: append those not present yet (oldest first, so the destination stays newest-first).
    std::vector<outbound::Alert> src_alerts;
    st =
        db->each("SELECT time_ms, subject, kind, score, detail FROM alerts ORDER BY id",
                 [&](sqlite3_stmt* s) {
                   src_alerts.push_back({sqlite3_column_int64(s, 0), col_text(s, 1), col_text(s, 2),
                                         sqlite3_column_double(s, 3), col_text(s, 4)});
                 });
    if (!st)
      return st;
    auto key_of = [](const outbound::Alert& a) {
      return fmt::format("{}\x1f{}\x1f{}\x1f{}", a.time_ms, a.subject, a.kind, a.detail);
    };
    auto present_alerts = [&]() -> Result<std::unordered_set<std::string>> {
      auto have = dest->alerts("", 0);
      if (!have)
        return have.error();
      std::unordered_set<std::string> keys;
      for (const auto& a : *have)
        keys.insert(key_of(a));
      return keys;
    };
    auto have = present_alerts();
    if (!have)
      return have.error();
    for (const auto& a : src_alerts) {
      alerts.source++;
      if (have->count(key_of(a)))
        continue;
      if (dry_run)
        continue;
      if (auto w = dest->add_alert(a); !w)
        return w;
      alerts.written++;
      have->insert(key_of(a));
    }
    have = present_alerts();
    if (!have)
      return have.error();
    for (const auto& a : src_alerts)
      if (have->count(key_of(a)))
        alerts.destination++;
  }
  return Ok{};
}

}  // namespace

Result<store::Scope> parse_scope_key(const std::string& key) {
  if (key.size() < 2 || key[1] != ':')
    return Error::malformed("bad scope key '" + key + "'");
  const std::string id = key.substr(2);
  switch (key[0]) {
    case 'g':
      if (!id.empty())
        break;
      return store::Scope::global();
    case 'r':
      return store::Scope{store::Level::kReseller, id};
    case 'd':
      return store::Scope{store::Level::kDomain, id};
    case 'u':
      return store::Scope{store::Level::kUser, id};
  }
  return Error::malformed("bad scope key '" + key + "'");
}

bool MigrateReport::ok() const {
  return std::all_of(kinds.begin(), kinds.end(), [](const KindCount& k) { return k.ok(); });
}

std::string MigrateReport::table() const {
  std::string out = fmt::format("{:<24} {:>10} {:>10} {:>12}  {}\n", "kind", "source", "written",
                                "destination", "status");
  for (const auto& k : kinds)
    out += fmt::format("{:<24} {:>10} {:>10} {:>12}  {}\n", k.kind, k.source, k.written,
                       k.destination, k.ok() ? "ok" : (dry_run ? "missing" : "MISMATCH"));
  return out;
}

Result<MigrateReport> migrate(const MigrateOptions& options, const MigrateTargets& targets) {
  if (options.sources.empty())
    return Error::config("migrate: no source file given");
  // Recognise every source before writing anything.
  std::vector<Source> sources;
  for (const auto& path : options.sources) {
    auto db = std::make_unique<SqliteSource>();
    if (auto st = db->open(path); !st)
      return st.error();
    Kind kind;
    if (db->has_table("learned") && db->has_table("tokens") && db->has_table("scopes"))
      kind = Kind::kStore;
    else if (db->has_table("decisions") && db->has_table("recipients"))
      kind = Kind::kLog;
    else if (db->has_table("counters") && db->has_table("members") && db->has_table("status"))
      kind = Kind::kOutbound;
    else
      return Error::config(path +
                           ": not a mailsift store, decision log or outbound file (no known "
                           "tables)");
    if ((kind == Kind::kStore && !targets.store) || (kind == Kind::kLog && !targets.log) ||
        (kind == Kind::kOutbound && !targets.outbound))
      return Error::config(path + ": no destination for this kind of file");
    sources.push_back({std::move(db), kind});
  }
  auto of_kind = [&](Kind k) {
    std::vector<SqliteSource*> out;
    for (auto& s : sources)
      if (s.kind == k)
        out.push_back(s.db.get());
    return out;
  };
  MigrateReport report;
  report.dry_run = options.dry_run;
  // row() hands out references into kinds: no reallocation while they live (9 kinds at most).
  report.kinds.reserve(16);
  if (auto dbs = of_kind(Kind::kStore); !dbs.empty())
    if (auto st = migrate_store(dbs, targets.store, options.dry_run, report); !st)
      return st.error();
  if (auto dbs = of_kind(Kind::kLog); !dbs.empty())
    if (auto st = migrate_log(dbs, targets.log, options.dry_run, report); !st)
      return st.error();
  if (auto dbs = of_kind(Kind::kOutbound); !dbs.empty())
    if (auto st = migrate_outbound(dbs, targets.outbound, options.dry_run, report); !st)
      return st.error();
  return report;
}

}  // namespace mailsift::fleet
