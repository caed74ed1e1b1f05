// PostgreSQL FeedbackStore (libpq, pg_conn's pool), in the configured schema
// (docs/fleet-tenants.md):
//   feedback_schema_migrations(version PRIMARY KEY, applied_at)  forward-only (pg_migrate.h)
//   feedback_reports(id bigserial, user_id, domain, reseller, digest, kind, sender, at_ms,
//                    trusted, signature bigint[], UNIQUE(user_id, digest, kind))
//   feedback_report_bands(band, report_id)   LSH bands of untrusted spam reports (campaigns)
//   feedback_reporters / feedback_senders / feedback_corrections / feedback_consent
//   feedback_changes(xid, at, topic, key)  corrections changes, for the replica (pg_changes.h)
// Bands (uint64) are stored as bigint with the same bits, like pg_store.cc's tokens.
//
// commit_report is one transaction: the report is inserted with ON CONFLICT DO NOTHING, so the
// same (user, digest, kind) committed by two nodes at once is stored and counted exactly once
// (the second waits on the unique index, then inserts nothing and applies no effects).
// Failure semantics (feedback.h): a dropped connection or timeout is kTemporary and nothing was
// acknowledged (the transaction is rolled back by the server); the client retries.
#include <fmt/format.h>

#include <set>

#include "fleet/fleet_tenant.h"
#include "fleet/pg_changes.h"
#include "fleet/pg_conn.h"
#include "fleet/pg_migrate.h"

namespace mailsift::fleet {
namespace {

using feedback::Consent;
using feedback::Corrections;
using feedback::Kind;
using feedback::ReportEffects;
using feedback::ReporterStats;
using feedback::ReportRecord;
using feedback::SenderStats;
using pg::Param;

const char* const kMigrations[] = {
    R"sql(
CREATE TABLE feedback_reports(id bigserial PRIMARY KEY, user_id text NOT NULL,
  domain text NOT NULL, reseller text NOT NULL, digest text NOT NULL, kind smallint NOT NULL,
  sender text NOT NULL, at_ms bigint NOT NULL, trusted boolean NOT NULL,
  signature bigint[] NOT NULL, UNIQUE(user_id, digest, kind));
CREATE TABLE feedback_report_bands(band bigint NOT NULL,
  report_id bigint NOT NULL REFERENCES feedback_reports(id) ON DELETE CASCADE);
CREATE INDEX feedback_report_bands_band ON feedback_report_bands(band);
CREATE INDEX feedback_report_bands_report ON feedback_report_bands(report_id);
CREATE TABLE feedback_reporters(user_id text PRIMARY KEY, agree bigint NOT NULL,
  disagree bigint NOT NULL, reports bigint NOT NULL);
CREATE TABLE feedback_senders(user_id text NOT NULL, sender text NOT NULL, spam bigint NOT NULL,
  ham bigint NOT NULL, last_at_ms bigint NOT NULL, PRIMARY KEY(user_id, sender));
CREATE TABLE feedback_corrections(user_id text PRIMARY KEY, missed_spam bigint NOT NULL,
  false_positive bigint NOT NULL);
CREATE TABLE feedback_consent(user_id text PRIMARY KEY, state smallint NOT NULL,
  at_ms bigint NOT NULL);
)sql",
    // 1 -> 2: the change feed the corrections replica follows (pg_changes.h,
    // feedback_replica.cc): the user of every changed feedback_corrections row.
    R"sql(
CREATE TABLE feedback_changes(xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  at timestamptz NOT NULL DEFAULT now(), topic text NOT NULL, key text NOT NULL);
CREATE INDEX feedback_changes_xid ON feedback_changes(xid);
CREATE INDEX feedback_changes_at ON feedback_changes(at);
CREATE FUNCTION feedback_note_correction() RETURNS trigger LANGUAGE plpgsql
  SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO feedback_changes(topic, key) VALUES ('corrections', NEW.user_id);
  END IF;
  IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.user_id <> NEW.user_id) THEN
    INSERT INTO feedback_changes(topic, key) VALUES ('corrections', OLD.user_id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER feedback_corrections_changes AFTER INSERT OR UPDATE OR DELETE
  ON feedback_corrections FOR EACH ROW EXECUTE FUNCTION feedback_note_correction();
)sql",
};

// pg_advisory_xact_lock key: "msfbkm" in ASCII.
constexpr const char* kMigrationLock = "120342406392685";

Param text(std::string_view s) {
  return pg::valid_utf8(s);
}
Param num(int64_t v) {
  return std::to_string(v);
}
Param kind_param(Kind k) {
  return num(k == Kind::kSpam ? 1 : 0);
}
const char* cell(const PGresult* r, int row, int col) {
  return PQgetvalue(r, row, col);
}
int64_t cell_i64(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

// A bigint[] literal ("{1,-2,3}").
template <typename T>
std::string int_array(const T& values) {
  std::string out = "{";
  bool first = true;
  for (auto v : values) {
    if (!first)
      out += ',';
    first = false;
    out += std::to_string(static_cast<int64_t>(v));
  }
  return out + "}";
}

// PostgreSQL's text form of a bigint[] back to uint32 values.
std::vector<uint32_t> parse_u32_array(const char* s) {
  std::vector<uint32_t> out;
  for (const char* p = s; *p;) {
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      char* end = nullptr;
      out.push_back(static_cast<uint32_t>(std::strtoll(p, &end, 10)));
      p = end;
    } else {
      ++p;
    }
  }
  return out;
}

class PostgresFeedbackStore final : public ReplicableFeedbackStore {
 public:
  explicit PostgresFeedbackStore(const PostgresOptions& o)
      : options_(o), pool_(o.dsn, o.schema, o.timeout_ms, o.pool_size) {}

  Status migrate() {
    return pg::migrate_forward(
        pool_, options_.schema,
        {"feedback store", "feedback_schema_migrations", kMigrationLock, kMigrations});
  }

  Result<bool> has_report(const std::string& user, const std::string& digest, Kind kind) override {
    auto r = run("SELECT 1 FROM feedback_reports WHERE user_id=$1 AND digest=$2 AND kind=$3",
                 {text(user), text(digest), kind_param(kind)});
    if (!r)
      return r.error();
    return PQntuples(r->get()) > 0;
  }

  Result<bool> commit_report(const ReportRecord& rep, const ReportEffects& fx) override {
    auto lease = pool_.checkout();
    if (!lease)
      return lease.error();
    pg::Connection& c = **lease;
    const auto until = pool_.deadline();
    return pg::transaction(c, until, [&]() -> Result<bool> {
      auto ins = c.exec(
          "INSERT INTO feedback_reports(user_id, domain, reseller, digest, kind, sender, at_ms, "
          "trusted, signature) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint[]) "
          "ON CONFLICT(user_id, digest, kind) DO NOTHING RETURNING id",
          {text(rep.user), text(rep.domain), text(rep.reseller), text(rep.digest),
           kind_param(rep.kind), text(rep.sender), num(rep.at_ms),
           Param(rep.trusted ? "true" : "false"), Param(int_array(rep.signature))},
          until);
      if (!ins)
        return ins.error();
      if (PQntuples(ins->get()) == 0)  // duplicate: nothing changed, nothing else changes
        return false;
      const std::string id = cell(ins->get(), 0, 0);
      if (rep.kind == Kind::kSpam && !rep.trusted && !rep.bands.empty()) {
        const std::set<uint64_t> bands(rep.bands.begin(), rep.bands.end());
        if (auto r = c.exec("INSERT INTO feedback_report_bands(band, report_id) "
                            "SELECT unnest($1::bigint[]), $2::bigint",
                            {Param(int_array(bands)), Param(id)}, until);
            !r)
          return r.error();
      }
      if (auto r = c.exec("INSERT INTO feedback_reporters(user_id, agree, disagree, reports) "
                          "VALUES($1, $2, $3, 1) ON CONFLICT(user_id) DO UPDATE SET "
                          "agree=feedback_reporters.agree+EXCLUDED.agree, "
                          "disagree=feedback_reporters.disagree+EXCLUDED.disagree, "
                          "reports=feedback_reporters.reports+1",
                          {text(rep.user), num(fx.agree), num(fx.disagree)}, until);
          !r)
        return r.error();
      if (!rep.sender.empty() && (fx.sender_spam || fx.sender_ham)) {
        if (auto r = c.exec("INSERT INTO feedback_senders(user_id, sender, spam, ham, last_at_ms) "
                            "VALUES($1, $2, $3, $4, $5) ON CONFLICT(user_id, sender) DO UPDATE SET "
                            "spam=feedback_senders.spam+EXCLUDED.spam, "
                            "ham=feedback_senders.ham+EXCLUDED.ham, last_at_ms=EXCLUDED.last_at_ms",
                            {text(rep.user), text(rep.sender), num(fx.sender_spam),
                             num(fx.sender_ham), num(rep.at_ms)},
                            until);
            !r)
          return r.error();
      }
      if (fx.missed_spam || fx.false_positive) {
        if (auto r =
                c.exec("INSERT INTO feedback_corrections(user_id, missed_spam, false_positive) "
                       "VALUES($1, $2, $3) ON CONFLICT(user_id) DO UPDATE SET "
                       "missed_spam=feedback_corrections.missed_spam+EXCLUDED.missed_spam, "
                       "false_positive=feedback_corrections.false_positive+EXCLUDED.false_positive",
                       {text(rep.user), num(fx.missed_spam), num(fx.false_positive)}, until);
            !r)
          return r.error();
      }
      return true;
    });
  }

  Result<std::vector<ReportRecord>> campaign_candidates(const std::vector<uint64_t>& bands,
                                                        int64_t since_ms) override {
    std::vector<ReportRecord> out;
    if (bands.empty())
      return out;
    const std::set<uint64_t> want(bands.begin(), bands.end());
    auto r =
        run("SELECT r.id, r.user_id, r.domain, r.reseller, r.digest, r.kind, r.sender, r.at_ms, "
            "r.trusted, r.signature FROM feedback_reports r WHERE r.kind=1 AND r.at_ms>=$2 AND "
            "r.id IN (SELECT report_id FROM feedback_report_bands WHERE band = ANY($1::bigint[])) "
            "ORDER BY r.id",
            {Param(int_array(want)), num(since_ms)});
    if (!r)
      return r.error();
    const PGresult* res = r->get();
    for (int i = 0; i < PQntuples(res); ++i) {
      ReportRecord x;
      x.id = cell_i64(res, i, 0);
      x.user = cell(res, i, 1);
      x.domain = cell(res, i, 2);
      x.reseller = cell(res, i, 3);
      x.digest = cell(res, i, 4);
      x.kind = cell_i64(res, i, 5) ? Kind::kSpam : Kind::kHam;
      x.sender = cell(res, i, 6);
      x.at_ms = cell_i64(res, i, 7);
      x.trusted = std::string_view(cell(res, i, 8)) == "t";
      x.signature = parse_u32_array(cell(res, i, 9));
      out.push_back(std::move(x));
    }
    return out;
  }

  Result<ReporterStats> reporter(const std::string& user) override {
    auto r = run("SELECT agree, disagree, reports FROM feedback_reporters WHERE user_id=$1",
                 {text(user)});
    if (!r)
      return r.error();
    if (PQntuples(r->get()) == 0)
      return ReporterStats{};
    return ReporterStats{cell_i64(r->get(), 0, 0), cell_i64(r->get(), 0, 1),
                         cell_i64(r->get(), 0, 2)};
  }
  Result<SenderStats> sender(const std::string& user, const std::string& sender) override {
    auto r =
        run("SELECT spam, ham, last_at_ms FROM feedback_senders WHERE user_id=$1 AND "
            "sender=$2",
            {text(user), text(sender)});
    if (!r)
      return r.error();
    if (PQntuples(r->get()) == 0)
      return SenderStats{};
    return SenderStats{cell_i64(r->get(), 0, 0), cell_i64(r->get(), 0, 1),
                       cell_i64(r->get(), 0, 2)};
  }
  Result<Corrections> corrections(const std::string& user) override {
    auto r = run("SELECT missed_spam, false_positive FROM feedback_corrections WHERE user_id=$1",
                 {text(user)});
    if (!r)
      return r.error();
    if (PQntuples(r->get()) == 0)
      return Corrections{};
    return Corrections{cell_i64(r->get(), 0, 0), cell_i64(r->get(), 0, 1)};
  }
  Result<std::pair<int64_t, int64_t>> report_counts(const std::string& user) override {
    auto r = run("SELECT kind, count(*) FROM feedback_reports WHERE user_id=$1 GROUP BY kind",
                 {text(user)});
    if (!r)
      return r.error();
    std::pair<int64_t, int64_t> out{0, 0};
    for (int i = 0; i < PQntuples(r->get()); ++i)
      (cell_i64(r->get(), i, 0) ? out.first : out.second) = cell_i64(r->get(), i, 1);
    return out;
  }
  Result<Consent> consent(const std::string& user) override {
    auto r = run("SELECT state FROM feedback_consent WHERE user_id=$1", {text(user)});
    if (!r)
      return r.error();
    if (PQntuples(r->get()) == 0)
      return Consent::kUnknown;
    return static_cast<Consent>(cell_i64(r->get(), 0, 0));
  }
  Status set_consent(const std::string& user, Consent consent, int64_t at_ms) override {
    auto r =
        run("INSERT INTO feedback_consent(user_id, state, at_ms) VALUES($1, $2, $3) "
            "ON CONFLICT(user_id) DO UPDATE SET state=EXCLUDED.state, at_ms=EXCLUDED.at_ms",
            {text(user), num(static_cast<int64_t>(consent)), num(at_ms)});
    if (!r)
      return r.error();
    return Ok{};
  }

  Result<std::vector<ReportRecord>> forget_user(const std::string& user) override {
    auto lease = pool_.checkout();
    if (!lease)
      return lease.error();
    pg::Connection& c = **lease;
    const auto until = pool_.deadline();
    return pg::transaction(c, until, [&]() -> Result<std::vector<ReportRecord>> {
      auto rows = c.exec(
          "SELECT id, digest, kind, sender FROM feedback_reports WHERE user_id=$1 ORDER BY id "
          "FOR UPDATE",
          {text(user)}, until);
      if (!rows)
        return rows.error();
      std::vector<ReportRecord> out;
      for (int i = 0; i < PQntuples(rows->get()); ++i) {
        ReportRecord x;
        x.id = cell_i64(rows->get(), i, 0);
        x.user = user;
        x.digest = cell(rows->get(), i, 1);
        x.kind = cell_i64(rows->get(), i, 2) == 1 ? Kind::kSpam : Kind::kHam;
        x.sender = cell(rows->get(), i, 3);
        out.push_back(std::move(x));
      }
      // Bands go with their reports (ON DELETE CASCADE).
      for (const char* sql : {"DELETE FROM feedback_reports WHERE user_id=$1",
                              "DELETE FROM feedback_reporters WHERE user_id=$1",
                              "DELETE FROM feedback_senders WHERE user_id=$1",
                              "DELETE FROM feedback_corrections WHERE user_id=$1",
                              "DELETE FROM feedback_consent WHERE user_id=$1"}) {
        if (auto r = c.exec(sql, {text(user)}, until); !r)
          return r.error();
      }
      return out;
    });
  }

  Result<CorrectionsImage> load_corrections() override {
    auto lease = pool_.checkout();
    if (!lease)
      return lease.error();
    pg::Connection& c = **lease;
    CorrectionsImage image;
    Status s = pg::read_only_snapshot(c, pool_, [&]() -> Status {
      auto xmin = pg::snapshot_xmin(c, pool_.deadline());
      if (!xmin)
        return xmin.error();
      image.cursor.from = *xmin;
      return pg::for_each_row(
          c, "SELECT user_id, missed_spam, false_positive FROM feedback_corrections", 20000, pool_,
          [&](const PGresult* r, int i) {
            image.users.emplace_back(cell(r, i, 0),
                                     Corrections{cell_i64(r, i, 1), cell_i64(r, i, 2)});
          });
    });
    if (!s.ok())
      return s.error();
    return image;
  }
  Result<std::vector<ChangedKey>> changes(FeedCursor& cursor) override {
    return pg::read_changes(pool_, "feedback_changes", cursor);
  }
  Status prune_changes(int64_t older_than_s) override {
    return pg::prune_changes(pool_, "feedback_changes", older_than_s);
  }

 private:
  Result<pg::PgResult> run(const std::string& sql, const std::vector<Param>& params) {
    auto lease = pool_.checkout();
    if (!lease)
      return lease.error();
    return (*lease)->exec(sql, params, pool_.deadline());
  }

  PostgresOptions options_;
  pg::Pool pool_;
};

}  // namespace

int postgres_feedback_schema_version() {
  return static_cast<int>(std::size(kMigrations));
}

Result<std::unique_ptr<ReplicableFeedbackStore>> open_postgres_replicable_feedback_store(
    const PostgresOptions& options) {
  if (options.timeout_ms <= 0 || options.pool_size <= 0)
    return Error::config("postgres: timeout_ms and pool_size must be positive");
  if (options.schema.empty())
    return Error::config("postgres: empty schema name");
  auto s = std::make_unique<PostgresFeedbackStore>(options);
  if (Status m = s->migrate(); !m.ok())
    return m.error();
  return std::unique_ptr<ReplicableFeedbackStore>(std::move(s));
}

Result<std::unique_ptr<feedback::FeedbackStore>> open_postgres_feedback_store(
    const PostgresOptions& options) {
  auto s = open_postgres_replicable_feedback_store(options);
  if (!s)
    return s.error();
  return std::unique_ptr<feedback::FeedbackStore>(std::move(s).value());
}

}  // namespace mailsift::fleet
