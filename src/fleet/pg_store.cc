// PostgreSQL store::Store (libpq), in the configured schema (docs/fleet.md):
//   store_schema_migrations(version PRIMARY KEY, applied_at)   forward-only, like the log's
//   store_tokens(scope, token, ham, spam)          PRIMARY KEY (scope, token)
//   store_totals(scope, ham, spam)                 PRIMARY KEY (scope)
//   store_learned(scope, digest, cls, tokens[])    PRIMARY KEY (scope, digest)
//   store_fuzzy(scope, digest, reporter, ...)      PRIMARY KEY (scope, digest, reporter)
//   store_fuzzy_bands(scope, band, digest, reporter)
// Tokens and bands (uint64) are stored as bigint with the same bits.
//
// learn/unlearn are one transaction each: an advisory lock on (scope, digest) serialises the same
// message across nodes; the token deltas (old record out, new one in) are merged per token and
// applied with ONE upsert in token order (INSERT ... ON CONFLICT DO UPDATE), so concurrent
// learns lock rows in the same order and cannot deadlock; then totals, then the record.
#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "fleet/fleet.h"
#include "fleet/pg_conn.h"
#include "fleet/pg_migrate.h"

namespace mailsift::fleet {
namespace {

using pg::Param;
using store::Class;
using store::ClassTotals;
using store::FuzzyRecord;
using store::LearnOutcome;
using store::LearnRequest;
using store::Scope;
using store::TokenCounts;

const char* const kStoreMigrations[] = {
    R"sql(
CREATE TABLE store_tokens(scope text NOT NULL, token bigint NOT NULL, ham bigint NOT NULL,
  spam bigint NOT NULL, PRIMARY KEY (scope, token));
CREATE TABLE store_totals(scope text PRIMARY KEY, ham bigint NOT NULL, spam bigint NOT NULL);
CREATE TABLE store_learned(scope text NOT NULL, digest text NOT NULL, cls smallint NOT NULL,
  tokens bigint[] NOT NULL, PRIMARY KEY (scope, digest));
CREATE TABLE store_fuzzy(scope text NOT NULL, digest text NOT NULL, reporter text NOT NULL,
  cls smallint NOT NULL, bands bigint[] NOT NULL, signature bigint[] NOT NULL,
  added_unix bigint NOT NULL, PRIMARY KEY (scope, digest, reporter));
CREATE TABLE store_fuzzy_bands(scope text NOT NULL, band bigint NOT NULL, digest text NOT NULL,
  reporter text NOT NULL, PRIMARY KEY (scope, band, digest, reporter));
CREATE INDEX store_fuzzy_bands_digest ON store_fuzzy_bands(scope, digest);
)sql",
};
constexpr const char* kStoreMigrationLock = "120342524290931";

std::string array_i64(const std::vector<int64_t>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i)
    out += (i ? "," : "") + std::to_string(v[i]);
  return out + "}";
}

std::vector<int64_t> signed_sorted_unique(std::span<const uint64_t> in) {
  std::vector<uint64_t> u(in.begin(), in.end());
  std::sort(u.begin(), u.end());
  u.erase(std::unique(u.begin(), u.end()), u.end());
  std::vector<int64_t> out;
  for (uint64_t x : u)
    out.push_back(static_cast<int64_t>(x));
  return out;
}

std::vector<int64_t> parse_array(const char* text) {
  std::vector<int64_t> out;
  const char* p = text;
  while (*p) {
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      char* end = nullptr;
      out.push_back(std::strtoll(p, &end, 10));
      p = end;
    } else {
      ++p;
    }
  }
  return out;
}

int64_t i64(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

class PostgresStore final : public store::Store {
 public:
  explicit PostgresStore(const PostgresOptions& o)
      : options_(o), pool_(o.dsn, o.schema, o.timeout_ms, o.pool_size) {}

  Status migrate() {
    return pg::migrate_forward(
        pool_, options_.schema,
        {"store", "store_schema_migrations", kStoreMigrationLock, kStoreMigrations});
  }

  Result<std::vector<TokenCounts>> token_counts(const Scope& scope,
                                                std::span<const uint64_t> tokens) override {
    std::vector<TokenCounts> out(tokens.size());
    if (tokens.empty())
      return out;
    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    auto rows = (*lease)->exec(
        "SELECT token, greatest(ham, 0), greatest(spam, 0) FROM store_tokens "
        "WHERE scope = $1 AND token = ANY($2::bigint[])",
        {key(scope), array_i64(signed_sorted_unique(tokens))}, pool_.deadline());
    if (!rows.ok())
      return rows.error();
    std::map<uint64_t, TokenCounts> found;
    for (int i = 0; i < PQntuples(rows->get()); ++i) {
      found[static_cast<uint64_t>(i64(rows->get(), i, 0))] = {
          static_cast<uint32_t>(std::min<int64_t>(i64(rows->get(), i, 1), UINT32_MAX)),
          static_cast<uint32_t>(std::min<int64_t>(i64(rows->get(), i, 2), UINT32_MAX))};
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto it = found.find(tokens[i]);
      if (it != found.end())
        out[i] = it->second;
    }
    return out;
  }

  Result<ClassTotals> totals(const Scope& scope) override {
    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    auto rows = (*lease)->exec(
        "SELECT greatest(ham, 0), greatest(spam, 0) FROM store_totals WHERE scope = $1",
        {key(scope)}, pool_.deadline());
    if (!rows.ok())
      return rows.error();
    if (PQntuples(rows->get()) == 0)
      return ClassTotals{};
    return ClassTotals{static_cast<uint64_t>(i64(rows->get(), 0, 0)),
                       static_cast<uint64_t>(i64(rows->get(), 0, 1))};
  }

  Result<LearnOutcome> learn(const LearnRequest& r) override {
    return change(r.scope, r.message_digest, r.cls, signed_sorted_unique(r.tokens), true);
  }

  Result<LearnOutcome> unlearn(const Scope& scope, const std::string& digest, Class cls) override {
    return change(scope, digest, cls, {}, false);
  }

  Status fuzzy_add(const Scope& scope, const FuzzyRecord& rec) override {
    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    pg::Connection& c = **lease;
    const auto until = pool_.deadline();
    std::vector<int64_t> sig;
    for (uint32_t s : rec.signature)
      sig.push_back(s);
    std::vector<int64_t> bands;
    for (uint64_t b : rec.bands)
      bands.push_back(static_cast<int64_t>(b));
    const Param k = key(scope), d = pg::valid_utf8(rec.message_digest),
                rep = pg::valid_utf8(rec.reporter);
    return pg::transaction(c, until, [&]() -> Status {
      if (auto r = c.exec("DELETE FROM store_fuzzy_bands WHERE scope=$1 AND digest=$2 AND "
                          "reporter=$3",
                          {k, d, rep}, until);
          !r.ok())
        return r.error();
      if (auto r =
              c.exec("INSERT INTO store_fuzzy VALUES($1,$2,$3,$4,$5::bigint[],$6::bigint[],$7) "
                     "ON CONFLICT (scope, digest, reporter) DO UPDATE SET cls = excluded.cls, "
                     "bands = excluded.bands, signature = excluded.signature, "
                     "added_unix = excluded.added_unix",
                     {k, d, rep, std::string(rec.cls == Class::kHam ? "0" : "1"), array_i64(bands),
                      array_i64(sig), std::to_string(rec.added_unix)},
                     until);
          !r.ok())
        return r.error();
      if (auto r = c.exec("INSERT INTO store_fuzzy_bands SELECT $1, b, $2, $3 FROM "
                          "unnest($4::bigint[]) AS b ON CONFLICT DO NOTHING",
                          {k, d, rep, array_i64(signed_sorted_unique(rec.bands))}, until);
          !r.ok())
        return r.error();
      return Ok{};
    });
  }

  Status fuzzy_remove(const Scope& scope, const std::string& digest) override {
    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    pg::Connection& c = **lease;
    const auto until = pool_.deadline();
    const Param k = key(scope), d = pg::valid_utf8(digest);
    return pg::transaction(c, until, [&]() -> Status {
      if (auto r =
              c.exec("DELETE FROM store_fuzzy_bands WHERE scope=$1 AND digest=$2", {k, d}, until);
          !r.ok())
        return r.error();
      if (auto r = c.exec("DELETE FROM store_fuzzy WHERE scope=$1 AND digest=$2", {k, d}, until);
          !r.ok())
        return r.error();
      return Ok{};
    });
  }

  Result<std::vector<FuzzyRecord>> fuzzy_candidates(const Scope& scope,
                                                    std::span<const uint64_t> bands,
                                                    size_t limit) override {
    std::vector<FuzzyRecord> out;
    if (limit == 0 || bands.empty())
      return out;
    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    auto rows = (*lease)->exec(
        "SELECT f.digest, f.reporter, f.cls, f.bands, f.signature, f.added_unix FROM "
        "(SELECT digest, reporter, count(*) AS n FROM store_fuzzy_bands WHERE scope = $1 AND "
        "band = ANY($2::bigint[]) GROUP BY digest, reporter) c JOIN store_fuzzy f ON "
        "f.scope = $1 AND f.digest = c.digest AND f.reporter = c.reporter "
        "ORDER BY c.n DESC, f.digest COLLATE \"C\", f.reporter COLLATE \"C\" LIMIT $3",
        {key(scope), array_i64(signed_sorted_unique(bands)),
         std::to_string(std::min<uint64_t>(limit, INT64_MAX))},
        pool_.deadline());
    if (!rows.ok())
      return rows.error();
    const PGresult* r = rows->get();
    for (int i = 0; i < PQntuples(r); ++i) {
      FuzzyRecord rec;
      rec.message_digest = PQgetvalue(r, i, 0);
      rec.reporter = PQgetvalue(r, i, 1);
      rec.cls = i64(r, i, 2) == 0 ? Class::kHam : Class::kSpam;
      for (int64_t b : parse_array(PQgetvalue(r, i, 3)))
        rec.bands.push_back(static_cast<uint64_t>(b));
      for (int64_t s : parse_array(PQgetvalue(r, i, 4)))
        rec.signature.push_back(static_cast<uint32_t>(s));
      rec.added_unix = i64(r, i, 5);
      out.push_back(std::move(rec));
    }
    return out;
  }

 private:
  static Param key(const Scope& s) { return pg::valid_utf8(s.key()); }

  // learn (add = true) or unlearn of one digest, atomically.
  Result<LearnOutcome> change(const Scope& scope, const std::string& digest, Class cls,
                              std::vector<int64_t> tokens, bool add) {
    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    pg::Connection& c = **lease;
    const auto until = pool_.deadline();
    const Param k = key(scope), d = pg::valid_utf8(digest);
    const int cls_num = cls == Class::kHam ? 0 : 1;
    LearnOutcome outcome = LearnOutcome::kLearned;
    Status st = pg::transaction(c, until, [&]() -> Status {
      if (auto r = c.exec("SELECT pg_advisory_xact_lock(hashtextextended($1 || E'\\n' || $2, 0))",
                          {k, d}, until);
          !r.ok())
        return r.error();
      auto prev = c.exec("SELECT cls, tokens FROM store_learned WHERE scope=$1 AND digest=$2",
                         {k, d}, until);
      if (!prev.ok())
        return prev.error();
      const bool had = PQntuples(prev->get()) > 0;
      const int prev_cls = had ? static_cast<int>(i64(prev->get(), 0, 0)) : -1;
      // token -> (ham delta, spam delta)
      std::map<int64_t, std::pair<int64_t, int64_t>> delta;
      int64_t dh = 0, ds = 0;
      auto apply = [&](int which, const std::vector<int64_t>& toks, int64_t by) {
        for (int64_t t : toks)
          (which == 0 ? delta[t].first : delta[t].second) += by;
        (which == 0 ? dh : ds) += by;
      };
      if (!add) {
        if (!had || prev_cls != cls_num) {
          outcome = LearnOutcome::kNotLearned;
          return Ok{};
        }
        apply(prev_cls, parse_array(PQgetvalue(prev->get(), 0, 1)), -1);
        outcome = LearnOutcome::kUnlearned;
      } else {
        if (had && prev_cls == cls_num) {
          outcome = LearnOutcome::kAlreadyLearned;
          return Ok{};
        }
        if (had) {
          apply(prev_cls, parse_array(PQgetvalue(prev->get(), 0, 1)), -1);
          outcome = LearnOutcome::kRelearned;
        }
        apply(cls_num, tokens, +1);
      }
      std::vector<int64_t> tk, hs, ss;
      for (const auto& [t, p] : delta) {
        if (p.first == 0 && p.second == 0)
          continue;
        tk.push_back(t);
        hs.push_back(p.first);
        ss.push_back(p.second);
      }
      if (!tk.empty()) {
        // One upsert in token order (the map is sorted): a new row takes the delta as is
        // (never negative in practice: exact accounting), an existing one adds it.
        if (auto r =
                c.exec("INSERT INTO store_tokens(scope, token, ham, spam) SELECT $1, t, h, s FROM "
                       "unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS x(t, h, s) ORDER BY t "
                       "ON CONFLICT (scope, token) DO UPDATE SET "
                       "ham = greatest(store_tokens.ham + excluded.ham, 0), "
                       "spam = greatest(store_tokens.spam + excluded.spam, 0)",
                       {k, array_i64(tk), array_i64(hs), array_i64(ss)}, until);
            !r.ok())
          return r.error();
        if (auto r = c.exec("DELETE FROM store_tokens WHERE scope = $1 AND token = "
                            "ANY($2::bigint[]) AND ham <= 0 AND spam <= 0",
                            {k, array_i64(tk)}, until);
            !r.ok())
          return r.error();
      }
      if (auto r = c.exec("INSERT INTO store_totals VALUES($1, $2, $3) ON CONFLICT (scope) DO "
                          "UPDATE SET ham = greatest(store_totals.ham + excluded.ham, 0), "
                          "spam = greatest(store_totals.spam + excluded.spam, 0)",
                          {k, std::to_string(dh), std::to_string(ds)}, until);
          !r.ok())
        return r.error();
      if (!add) {
        if (auto r =
                c.exec("DELETE FROM store_learned WHERE scope=$1 AND digest=$2", {k, d}, until);
            !r.ok())
          return r.error();
      } else if (auto r = c.exec(
                     "INSERT INTO store_learned VALUES($1, $2, $3, $4::bigint[]) ON CONFLICT "
                     "(scope, digest) DO UPDATE SET cls = excluded.cls, tokens = excluded.tokens",
                     {k, d, std::to_string(cls_num), array_i64(tokens)}, until);
                 !r.ok()) {
        return r.error();
      }
      return Ok{};
    });
    if (!st.ok())
      return st.error();
    return outcome;
  }

  PostgresOptions options_;
  pg::Pool pool_;
};

}  // namespace

Result<std::unique_ptr<store::Store>> open_postgres_store(const PostgresOptions& options) {
  if (options.timeout_ms <= 0 || options.pool_size <= 0)
    return Error::config("postgres: timeout_ms and pool_size must be positive");
  if (options.schema.empty())
    return Error::config("postgres: empty schema name");
  auto s = std::make_unique<PostgresStore>(options);
  if (Status m = s->migrate(); !m.ok())
    return m.error();
  return std::unique_ptr<store::Store>(std::move(s));
}

}  // namespace mailsift::fleet
