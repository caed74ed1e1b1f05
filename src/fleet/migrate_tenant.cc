// mailsift migrate for tenants.db and feedback.db (see migrate_tenant.h). Sources are opened
// read-only with plain SQL (the FeedbackStore interface has no enumeration, and opening the
// tenant file through its store would migrate the source's schema).
#include "fleet/migrate_tenant.h"

#include <sqlite3.h>

#include <map>
#include <set>

#include <fmt/format.h>

#include "fleet/sqlite_source.h"

namespace mailsift::fleet {
namespace {

using detail::col_text;
using detail::row;
using detail::SqliteSource;

int64_t i64(sqlite3_stmt* st, int i) {
  return sqlite3_column_int64(st, i);
}
bool null(sqlite3_stmt* st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL;
}

// An add_* whose "already there" (kPermanent) is left to the verification.
Status added(const Status& st, KindCount& k) {
  if (st.ok()) {
    ++k.written;
    return Ok{};
  }
  if (st.error().kind == ErrorKind::kPermanent)
    return Ok{};
  return st;
}

// ---- tenants ------------------------------------------------------------------------------

Status migrate_tenants(SqliteSource& db, tenant::TenantStore& dest, bool dry_run,
                       MigrateReport& report) {
  using namespace tenant;
  std::vector<Reseller> resellers;
  std::vector<Domain> domains;
  std::vector<User> users;
  std::vector<std::tuple<Level, std::string, PolicyOverrides>> policies;
  std::vector<ListEntry> entries;
  std::vector<ApiKeyRecord> keys;
  Status st = db.each("SELECT id, name, created_at FROM resellers ORDER BY id", [&](auto* s) {
    resellers.push_back({col_text(s, 0), col_text(s, 1), i64(s, 2)});
  });
  if (st.ok())
    st = db.each("SELECT name, reseller, created_at FROM domains ORDER BY name", [&](auto* s) {
      domains.push_back({col_text(s, 0), col_text(s, 1), i64(s, 2)});
    });
  if (st.ok())
    st = db.each("SELECT address, domain, created_at FROM users ORDER BY address", [&](auto* s) {
      users.push_back({col_text(s, 0), col_text(s, 1), i64(s, 2)});
    });
  if (st.ok())
    st = db.each(
        "SELECT level, id, spam_action, spam_score, reject_score, learning_enabled FROM policies "
        "ORDER BY level, id",
        [&](auto* s) {
          PolicyOverrides p;
          if (!null(s, 2))
            p.spam_action = spam_action_from_string(col_text(s, 2));
          if (!null(s, 3))
            p.spam_score = sqlite3_column_double(s, 3);
          if (!null(s, 4))
            p.reject_score = sqlite3_column_double(s, 4);
          if (!null(s, 5))
            p.learning_enabled = i64(s, 5) != 0;
          policies.emplace_back(static_cast<Level>(i64(s, 0)), col_text(s, 1), p);
        });
  if (st.ok())
    st = db.each(
        "SELECT level, owner, kind, type, value, created_at, created_by, note, expires_at FROM "
        "list_entries ORDER BY id",
        [&](auto* s) {
          ListEntry e;
          e.level = static_cast<Level>(i64(s, 0));
          e.owner = col_text(s, 1);
          e.kind = list_kind_from_string(col_text(s, 2)).value_or(ListKind::kBlock);
          e.pattern.type = entry_type_from_string(col_text(s, 3)).value_or(EntryType::kAddress);
          e.pattern.value = col_text(s, 4);
          e.created_at = i64(s, 5);
          e.created_by = col_text(s, 6);
          e.note = col_text(s, 7);
          if (!null(s, 8))
            e.expires_at = i64(s, 8);
          entries.push_back(std::move(e));
        });
  if (st.ok() && db.has_table("api_keys"))  // schema version 1 had no keys
    st = db.each("SELECT hash, role, reseller, label, created_at FROM api_keys ORDER BY hash",
                 [&](auto* s) {
                   keys.push_back({col_text(s, 0),
                                   col_text(s, 1) == "admin" ? Role::kAdmin : Role::kReseller,
                                   col_text(s, 2), col_text(s, 3), i64(s, 4)});
                 });
  if (!st)
    return st;

  KindCount& kr = row(report, "tenant resellers");
  KindCount& kd = row(report, "tenant domains");
  KindCount& ku = row(report, "tenant users");
  KindCount& kp = row(report, "tenant policies");
  KindCount& ke = row(report, "tenant list entries");
  KindCount& kk = row(report, "tenant api keys");
  kr.source += resellers.size();
  kd.source += domains.size();
  ku.source += users.size();
  kp.source += policies.size();
  ke.source += entries.size();
  kk.source += keys.size();
  if (!dry_run) {  // parents first
    for (const auto& r : resellers)
      if (auto s = added(dest.add_reseller(r), kr); !s)
        return s;
    for (const auto& d : domains)
      if (auto s = added(dest.add_domain(d), kd); !s)
        return s;
    for (const auto& u : users)
      if (auto s = added(dest.add_user(u), ku); !s)
        return s;
    for (const auto& [level, id, p] : policies) {
      auto have = dest.get_policy(level, id);
      if (!have)
        return have.error();
      if (*have == p)
        continue;
      if (auto s = added(dest.set_policy(level, id, p), kp); !s)
        return s;
    }
    for (const auto& e : entries) {
      auto r = dest.add_list_entry(e);
      if (auto s = added(r ? Status(Ok{}) : Status(r.error()), ke); !s)
        return s;
    }
    for (const auto& k : keys)
      if (auto s = added(dest.add_api_key(k), kk); !s)
        return s;
  }
  // Verification: read every object back.
  for (const auto& r : resellers) {
    auto got = dest.get_reseller(r.id);
    if (!got)
      return got.error();
    kr.destination += *got && **got == r;
  }
  for (const auto& d : domains) {
    auto got = dest.get_domain(d.name);
    if (!got)
      return got.error();
    kd.destination += *got && **got == d;
  }
  for (const auto& u : users) {
    auto got = dest.get_user(u.address);
    if (!got)
      return got.error();
    ku.destination += *got && **got == u;
  }
  for (const auto& [level, id, p] : policies) {
    auto got = dest.get_policy(level, id);
    if (!got)
      return got.error();
    kp.destination += *got == p;
  }
  std::map<std::pair<Level, std::string>, std::vector<ListEntry>> by_owner;
  for (const auto& e : entries) {
    auto key = std::make_pair(e.level, e.owner);
    if (!by_owner.count(key)) {
      auto got = dest.list_entries(e.level, e.owner);
      if (!got)
        return got.error();
      by_owner[key] = std::move(*got);
    }
    for (ListEntry d : by_owner[key]) {
      d.id = e.id;  // ids are the destination's own
      if (d == e) {
        ++ke.destination;
        break;
      }
    }
  }
  for (const auto& k : keys) {
    auto got = dest.find_api_key(k.hash);
    if (!got)
      return got.error();
    kk.destination += *got && **got == k;
  }
  return Ok{};
}

// ---- feedback -----------------------------------------------------------------------------

std::vector<uint32_t> decode_u32(const std::string& s) {
  std::vector<uint32_t> v(s.size() / 4);
  for (size_t i = 0; i < v.size(); ++i)
    for (int b = 0; b < 4; ++b)
      v[i] |= static_cast<uint32_t>(static_cast<unsigned char>(s[i * 4 + b])) << (8 * b);
  return v;
}

Status migrate_feedback(SqliteSource& db, feedback::FeedbackStore& dest, bool dry_run,
                        MigrateReport& report) {
  using namespace feedback;
  std::vector<ReportRecord> reports;
  std::map<int64_t, std::vector<uint64_t>> bands;
  std::map<std::string, ReporterStats> reporters;
  std::map<std::pair<std::string, std::string>, SenderStats> senders;
  std::map<std::string, Corrections> corrections;
  std::map<std::string, std::pair<Consent, int64_t>> consent;
  Status st = db.each(
      "SELECT id, user, domain, reseller, digest, kind, sender, at_ms, trusted, signature FROM "
      "reports ORDER BY id",
      [&](auto* s) {
        ReportRecord r;
        r.id = i64(s, 0);
        r.user = col_text(s, 1);
        r.domain = col_text(s, 2);
        r.reseller = col_text(s, 3);
        r.digest = col_text(s, 4);
        r.kind = i64(s, 5) == 1 ? Kind::kSpam : Kind::kHam;
        r.sender = col_text(s, 6);
        r.at_ms = i64(s, 7);
        r.trusted = i64(s, 8) != 0;
        const auto* blob = static_cast<const char*>(sqlite3_column_blob(s, 9));
        r.signature = decode_u32(
            blob ? std::string(blob, static_cast<size_t>(sqlite3_column_bytes(s, 9))) : "");
        reports.push_back(std::move(r));
      });
  if (st.ok())
    st = db.each("SELECT report_id, band FROM report_bands ORDER BY report_id, band",
                 [&](auto* s) { bands[i64(s, 0)].push_back(static_cast<uint64_t>(i64(s, 1))); });
  if (st.ok())
    st = db.each("SELECT user, agree, disagree, reports FROM reporters", [&](auto* s) {
      reporters[col_text(s, 0)] = {i64(s, 1), i64(s, 2), i64(s, 3)};
    });
  if (st.ok())
    st = db.each("SELECT user, sender, spam, ham, last_at_ms FROM senders", [&](auto* s) {
      senders[{col_text(s, 0), col_text(s, 1)}] = {i64(s, 2), i64(s, 3), i64(s, 4)};
    });
  if (st.ok())
    st = db.each("SELECT user, missed_spam, false_positive FROM corrections", [&](auto* s) {
      corrections[col_text(s, 0)] = {i64(s, 1), i64(s, 2)};
    });
  if (st.ok())
    st = db.each("SELECT user, state, at_ms FROM consent", [&](auto* s) {
      consent[col_text(s, 0)] = {static_cast<Consent>(i64(s, 1)), i64(s, 2)};
    });
  if (!st)
    return st;

  KindCount& kr = row(report, "feedback reports");
  KindCount& krel = row(report, "feedback reporters");
  KindCount& ks = row(report, "feedback senders");
  KindCount& kc = row(report, "feedback corrections");
  KindCount& kcon = row(report, "feedback consent");
  kr.source += reports.size();
  krel.source += reporters.size();
  ks.source += senders.size();
  kc.source += corrections.size();
  kcon.source += consent.size();
  if (!dry_run) {
    std::set<std::string> user_done;
    std::set<std::pair<std::string, std::string>> sender_done;
    for (ReportRecord r : reports) {
      ReportEffects fx;
      bool carries_reporter = false, carries_corrections = false, carries_sender = false;
      // The user's counters ride on their first report, a sender's on its first report
      // (commit_report adds counters only with a report; see migrate_tenant.h).
      if (user_done.insert(r.user).second) {
        if (auto it = reporters.find(r.user); it != reporters.end()) {
          carries_reporter = true;
          fx.agree = it->second.agree;
          fx.disagree = it->second.disagree;
        }
        if (auto it = corrections.find(r.user); it != corrections.end()) {
          carries_corrections = true;
          fx.missed_spam = it->second.missed_spam;
          fx.false_positive = it->second.false_positive;
        }
      }
      if (!r.sender.empty() && sender_done.insert({r.user, r.sender}).second) {
        if (auto it = senders.find({r.user, r.sender}); it != senders.end()) {
          carries_sender = true;
          fx.sender_spam = it->second.spam_reports;
          fx.sender_ham = it->second.ham_reports;
        }
      }
      if (auto it = bands.find(r.id); it != bands.end())
        r.bands = it->second;
      r.id = 0;
      auto done = dest.commit_report(r, fx);
      if (!done)
        return done.error();
      if (*done) {
        ++kr.written;
        krel.written += carries_reporter;
        kc.written += carries_corrections;
        ks.written += carries_sender;
      }
    }
    for (const auto& [user, c] : consent) {
      auto have = dest.consent(user);
      if (!have)
        return have.error();
      if (*have == c.first)
        continue;
      if (auto s = dest.set_consent(user, c.first, c.second); !s)
        return s;
      ++kcon.written;
    }
  }
  for (const auto& r : reports) {
    auto got = dest.has_report(r.user, r.digest, r.kind);
    if (!got)
      return got.error();
    kr.destination += *got;
  }
  for (const auto& [user, want] : reporters) {
    auto got = dest.reporter(user);
    if (!got)
      return got.error();
    krel.destination +=
        got->agree == want.agree && got->disagree == want.disagree && got->reports == want.reports;
  }
  for (const auto& [key, want] : senders) {
    auto got = dest.sender(key.first, key.second);
    if (!got)
      return got.error();
    ks.destination +=
        got->spam_reports == want.spam_reports && got->ham_reports == want.ham_reports;
  }
  for (const auto& [user, want] : corrections) {
    auto got = dest.corrections(user);
    if (!got)
      return got.error();
    kc.destination +=
        got->missed_spam == want.missed_spam && got->false_positive == want.false_positive;
  }
  for (const auto& [user, want] : consent) {
    auto got = dest.consent(user);
    if (!got)
      return got.error();
    kcon.destination += *got == want.first;
  }
  return Ok{};
}

}  // namespace

TenantFileKind tenant_file_kind(const std::string& path) {
  SqliteSource db;
  if (!db.open(path))
    return TenantFileKind::kOther;
  if (db.has_table("resellers") && db.has_table("list_entries") && db.has_table("policies"))
    return TenantFileKind::kTenants;
  if (db.has_table("reports") && db.has_table("reporters") && db.has_table("consent"))
    return TenantFileKind::kFeedback;
  return TenantFileKind::kOther;
}

Status migrate_tenant_files(const std::vector<std::string>& files, bool dry_run,
                            const TenantMigrateTargets& targets, MigrateReport& report) {
  // Recognise every file and check destinations before writing anything.
  std::vector<std::pair<std::string, TenantFileKind>> todo;
  for (const auto& f : files) {
    const TenantFileKind k = tenant_file_kind(f);
    if (k == TenantFileKind::kOther)
      return Error::config(f + ": not a mailsift tenants.db or feedback.db");
    if ((k == TenantFileKind::kTenants && !targets.tenants) ||
        (k == TenantFileKind::kFeedback && !targets.feedback))
      return Error::config(f + ": no destination for this kind of file");
    todo.emplace_back(f, k);
  }
  report.kinds.reserve(report.kinds.size() + 16);  // row() references stay valid
  for (const auto& [f, k] : todo) {
    SqliteSource db;
    if (auto s = db.open(f); !s)
      return s;
    Status s = k == TenantFileKind::kTenants
                   ? migrate_tenants(db, *targets.tenants, dry_run, report)
                   : migrate_feedback(db, *targets.feedback, dry_run, report);
    if (!s)
      return s;
  }
  return Ok{};
}

}  // namespace mailsift::fleet
