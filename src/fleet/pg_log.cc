// PostgreSQL DecisionLog (libpq). Schema (docs/fleet.md), in the configured schema:
//   schema_migrations(version PRIMARY KEY, applied_at): forward-only, applied on open under an
//     advisory lock so that nodes starting together migrate once; a database newer than this
//     binary is refused (kConfig).
//   decisions            PARTITION BY RANGE (time_ms): envelope/connection fields, errors JSON,
//                        match keys (decisions/normalize.h); PRIMARY KEY (time_ms, id)
//   decision_recipients  PARTITION BY RANGE (time_ms): one row per recipient, match keys
//   decision_partitions  (from_ms, to_ms, suffix): the partitions made so far
// Partitions (decisions_pYYYYMMDD + decision_recipients_pYYYYMMDD, partition_days wide) are
// created on demand by record(); expire() drops whole partitions older than the cutoff and
// deletes rows in the partition that holds it. Indexes are declared on the parents (every
// partition gets them): (key, time_ms) for each query field, and id.
//
// record() is one transaction: an advisory lock on the id makes "record twice" idempotent across
// nodes, then the decision and its recipients are inserted. record_batch() is one transaction of
// a constant 4 statements whatever the batch size: the advisory locks of all its ids (sorted, so
// two nodes writing overlapping batches cannot deadlock), the ids already there, then every new
// decision in one INSERT ... SELECT FROM unnest(column arrays) and every recipient in another.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <ctime>
#include <map>
#include <mutex>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "decisions/normalize.h"
#include "fleet/fleet.h"
#include "fleet/pg_conn.h"
#include "fleet/pg_log_internal.h"
#include "fleet/pg_migrate.h"

namespace mailsift::fleet {
namespace {

using decisions::Decision;
using decisions::Query;
using decisions::RecipientDecision;
using decisions::SymbolHit;
using pg::Param;

// kMigrations[i] takes the schema from version i to i + 1.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE decisions(
  id text NOT NULL,
  time_ms bigint NOT NULL,
  node text NOT NULL,
  direction text NOT NULL,
  queue_id text NOT NULL,
  message_id text NOT NULL,
  client_ip text NOT NULL,
  helo text NOT NULL,
  mail_from text NOT NULL,
  auth_user text NOT NULL,
  subject text NOT NULL,
  digest text NOT NULL,
  elapsed_us bigint NOT NULL,
  errors text NOT NULL,
  sender_key text NOT NULL,
  message_id_key text NOT NULL,
  ip_key text NOT NULL,
  direction_key text NOT NULL,
  PRIMARY KEY (time_ms, id)
) PARTITION BY RANGE (time_ms);
CREATE INDEX decisions_id ON decisions(id);
CREATE INDEX decisions_sender ON decisions(sender_key, time_ms);
CREATE INDEX decisions_queue_id ON decisions(queue_id, time_ms);
CREATE INDEX decisions_message_id ON decisions(message_id_key, time_ms);
CREATE INDEX decisions_ip ON decisions(ip_key, time_ms);
CREATE TABLE decision_recipients(
  decision_id text NOT NULL,
  time_ms bigint NOT NULL,
  idx integer NOT NULL,
  address text NOT NULL,
  user_id text NOT NULL,
  domain text NOT NULL,
  reseller text NOT NULL,
  score double precision NOT NULL,
  action text NOT NULL,
  smtp_reply text NOT NULL,
  stage text NOT NULL,
  policy_source text NOT NULL,
  symbols text NOT NULL,
  address_key text NOT NULL,
  user_key text NOT NULL,
  domain_key text NOT NULL,
  action_key text NOT NULL,
  PRIMARY KEY (time_ms, decision_id, idx)
) PARTITION BY RANGE (time_ms);
CREATE INDEX decision_recipients_id ON decision_recipients(decision_id, time_ms);
CREATE INDEX decision_recipients_address ON decision_recipients(address_key, time_ms);
CREATE INDEX decision_recipients_user ON decision_recipients(user_key, time_ms);
CREATE INDEX decision_recipients_domain ON decision_recipients(domain_key, time_ms);
CREATE INDEX decision_recipients_reseller ON decision_recipients(reseller, time_ms);
CREATE INDEX decision_recipients_action ON decision_recipients(action_key, time_ms);
CREATE TABLE decision_partitions(
  from_ms bigint PRIMARY KEY,
  to_ms bigint NOT NULL,
  suffix text NOT NULL UNIQUE);
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

// Advisory lock keys (pg_advisory_xact_lock(bigint)): "msmigr" and "mspart" in ASCII.
constexpr const char* kMigrationLock = "120342524290930";
constexpr const char* kPartitionLock = "120342574101108";

constexpr int64_t kDayMs = 86'400'000;

double finite(double v) {
  if (std::isnan(v))
    return 0;
  return std::clamp(v, -DBL_MAX, DBL_MAX);
}

Param text(std::string_view s) {
  return pg::valid_utf8(s);
}
Param num(int64_t v) {
  return std::to_string(v);
}
Param real(double v) {
  return fmt::format("{}", finite(v));  // shortest text that round-trips exactly
}

std::string encode_symbols(const std::vector<SymbolHit>& symbols) {
  nlohmann::json j = nlohmann::json::array();
  for (const SymbolHit& s : symbols)
    j.push_back(nlohmann::json::array({s.name, finite(s.score)}));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<SymbolHit> decode_symbols(const char* text) {
  std::vector<SymbolHit> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array())
    return out;
  for (const auto& e : j) {
    if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number())
      out.push_back({e[0].get<std::string>(), e[1].get<double>()});
  }
  return out;
}

std::string encode_strings(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> decode_strings(const char* text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array())
    return out;
  for (const auto& e : j)
    if (e.is_string())
      out.push_back(e.get<std::string>());
  return out;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// "p20261127" (UTC date of the partition start); 'm' for a minus sign in far-past years.
std::string suffix_for(int64_t from_ms) {
  time_t secs = static_cast<time_t>(floor_div(from_ms, 1000));
  tm t{};
  char buf[32] = {0};
  if (gmtime_r(&secs, &t) && strftime(buf, sizeof buf, "%Y%m%d", &t) > 0) {
    std::string s = std::string("p") + buf;
    std::replace(s.begin(), s.end(), '-', 'm');
    // Partitions narrower than a day would share a date: add the hour/minute of the start.
    if (from_ms % kDayMs != 0)
      s += fmt::format("_{}", floor_div(from_ms, 1000) % 86400);
    return s;
  }
  return fmt::format("ms{}",
                     from_ms < 0 ? "m" + std::to_string(-from_ms) : std::to_string(from_ms));
}

// A PostgreSQL text[] literal.
std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i)
      out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Builds a PostgreSQL array literal one element at a time (every element quoted, so text with
// braces, commas, spaces or the word NULL stays literal; numbers parse from quoted text too).
class ArrayLiteral {
 public:
  void add(const std::string& v) {
    out_ += out_.size() > 1 ? ",\"" : "\"";
    for (char c : v) {
      if (c == '"' || c == '\\')
        out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  std::string done() && { return std::move(out_) + "}"; }

 private:
  std::string out_ = "{";
};

// The columns of one decisions row and one decision_recipients row, in the order of these lists
// and of the parameters decision_row() / recipient_row() return; shared by every write path.
constexpr const char* kDecisionColumns =
    "id, time_ms, node, direction, queue_id, message_id, client_ip, helo, mail_from, auth_user, "
    "subject, digest, elapsed_us, errors, sender_key, message_id_key, ip_key, direction_key";
constexpr const char* kDecisionTypes[] = {"text",   "bigint", "text", "text", "text", "text",
                                          "text",   "text",   "text", "text", "text", "text",
                                          "bigint", "text",   "text", "text", "text", "text"};
constexpr size_t kDecisionCols = std::size(kDecisionTypes);
constexpr const char* kRecipientColumns =
    "decision_id, time_ms, idx, address, user_id, domain, reseller, score, action, smtp_reply, "
    "stage, policy_source, symbols, address_key, user_key, domain_key, action_key";
constexpr const char* kRecipientTypes[] = {
    "text", "bigint", "integer", "text", "text", "text", "text", "double precision", "text", "text",
    "text", "text",   "text",    "text", "text", "text", "text"};
constexpr size_t kRecipientCols = std::size(kRecipientTypes);

std::vector<Param> decision_row(const Decision& d) {
  return {text(d.id),
          num(d.time_unix_ms),
          text(d.node),
          text(d.direction),
          text(d.queue_id),
          text(d.message_id),
          text(d.client_ip),
          text(d.helo),
          text(d.mail_from),
          text(d.auth_user),
          text(d.subject),
          text(d.digest),
          num(d.elapsed_us),
          text(encode_strings(d.errors)),
          text(decisions::address_key(d.mail_from)),
          text(decisions::message_id_key(d.message_id)),
          text(decisions::ip_key(d.client_ip)),
          text(decisions::word_key(d.direction))};
}

std::vector<Param> recipient_row(const Decision& d, size_t i) {
  const RecipientDecision& r = d.recipients[i];
  return {text(d.id),
          num(d.time_unix_ms),
          num(static_cast<int64_t>(i)),
          text(r.address),
          text(r.user),
          text(r.domain),
          text(r.reseller),
          real(r.score),
          text(r.action),
          text(r.smtp_reply),
          text(r.stage),
          text(r.policy_source),
          text(encode_symbols(r.symbols)),
          text(decisions::address_key(r.address)),
          text(decisions::user_key(r.user)),
          text(decisions::domain_key(r.domain)),
          text(decisions::word_key(r.action))};
}

// "INSERT INTO table(columns) SELECT * FROM unnest($1::type[], ...)": one statement, one array
// parameter per column, whatever the number of rows (no parameter limit, constant SQL text).
std::string unnest_insert(const char* table, const char* columns,
                          std::span<const char* const> types) {
  std::string sql = fmt::format("INSERT INTO {}({}) SELECT * FROM unnest(", table, columns);
  for (size_t k = 0; k < types.size(); ++k)
    sql += fmt::format("{}${}::{}[]", k ? "," : "", k + 1, types[k]);
  return sql + ")";
}

const char* cell(const PGresult* r, int row, int col) {
  return PQgetvalue(r, row, col);
}
int64_t cell_i64(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

}  // namespace

namespace pg_log_detail {

Result<std::vector<std::string>> stored_ids(pg::Connection& c, const std::string& id_array,
                                            pg::Clock::time_point until) {
  // Through the id index, always: a new day's partition has no statistics until autovacuum
  // first analyses it (a minute or more), and without them the planner chose a sequential scan
  // of the whole partition for every batch (bench/fleet: ~40 ms per batch at 20,000 rows, most
  // of PostgreSQL's CPU there). SET LOCAL: until the end of the caller's transaction only.
  if (auto r = c.exec("SET LOCAL enable_seqscan = off", until); !r.ok())
    return r.error();
  auto seen =
      c.exec("SELECT DISTINCT id FROM decisions WHERE id = ANY($1::text[])", {id_array}, until);
  if (!seen.ok())
    return seen.error();
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(seen->get()); ++i)
    out.emplace_back(PQgetvalue(seen->get(), i, 0));
  return out;
}

std::string text_array(std::span<const std::string> values) {
  ArrayLiteral a;
  for (const std::string& v : values)
    a.add(v);
  return std::move(a).done();
}

}  // namespace pg_log_detail

namespace {

class PostgresLog final : public decisions::DecisionLog {
 public:
  explicit PostgresLog(const PostgresOptions& o)
      : options_(o),
        span_ms_(kDayMs * std::max(1, o.partition_days)),
        pool_(o.dsn, o.schema, o.timeout_ms, o.pool_size) {}

  Status migrate() {
    return pg::migrate_forward(pool_, options_.schema,
                               {"decision log", "schema_migrations", kMigrationLock, kMigrations});
  }

  Status record(const Decision& d) override {
    if (d.id.empty())
      return Error::malformed("decision has no id");
    // One retry when the partition vanished under us (another node expired it).
    for (int attempt = 0;; ++attempt) {
      auto lease = pool_.checkout();
      if (!lease.ok())
        return lease.error();
      const auto until = pool_.deadline();
      if (Status p = ensure_partition(**lease, d.time_unix_ms, until); !p.ok())
        return p;
      Status s = insert(**lease, d, until);
      // 23514: no partition of the parent holds the row (dropped by another node's expire).
      if (s.ok() || attempt > 0 || s.error().message.find("[23514]") == std::string::npos)
        return s;
      std::lock_guard lock(mu_);
      known_.clear();
    }
  }

  // The group-commit writer's batches in ONE transaction (bench/fleet: one commit per batch
  // instead of one per decision). Same outcome as record() each: idempotent by id; when a
  // partition vanished under the batch (another node's expire) it is rolled back and retried
  // decision by decision, which keeps record()'s retry.
  Status record_batch(std::span<const Decision> ds) override {
    if (ds.size() <= 1)
      return DecisionLog::record_batch(ds);
    for (const Decision& d : ds)
      if (d.id.empty())
        return Error::malformed("decision has no id");
    {
      auto lease = pool_.checkout();
      if (!lease.ok())
        return lease.error();
      pg::Connection& c = **lease;
      const auto until = pool_.deadline();
      for (const Decision& d : ds)
        if (Status p = ensure_partition(c, d.time_unix_ms, until); !p.ok())
          return p;
      Status st = pg::transaction(c, until, [&]() -> Status {
        if (options_.batch_write == PostgresOptions::BatchWrite::kArrays)
          return insert_batch(c, ds, until);
        for (const Decision& d : ds)
          if (Status one = insert_body(c, d, until); !one.ok())
            return one;
        return Ok{};
      });
      if (st.ok())
        return Ok{};
      if (st.error().message.find("[23514]") == std::string::npos)
        return st;
      std::lock_guard lock(mu_);
      known_.clear();
    }
    return DecisionLog::record_batch(ds);
  }

  Result<std::vector<Decision>> query(const Query& q) override {
    std::vector<Param> params;
    auto add = [&](std::string clause, Param v) {
      params.push_back(std::move(v));
      return fmt::format(" AND {}${}", clause, params.size());
    };
    std::string sql =
        "SELECT d.id, d.time_ms, d.node, d.direction, d.queue_id, d.message_id, d.client_ip, "
        "d.helo, d.mail_from, d.auth_user, d.subject, d.digest, d.elapsed_us, d.errors "
        "FROM decisions d WHERE true";
    if (q.since_unix_ms)
      sql += add("d.time_ms >= ", num(*q.since_unix_ms));
    if (q.until_unix_ms)
      sql += add("d.time_ms < ", num(*q.until_unix_ms));
    if (!q.id.empty())
      sql += add("d.id = ", text(q.id));
    if (!q.sender.empty())
      sql += add("d.sender_key = ", text(decisions::address_key(q.sender)));
    if (!q.queue_id.empty())
      sql += add("d.queue_id = ", text(q.queue_id));
    if (!q.message_id.empty())
      sql += add("d.message_id_key = ", text(decisions::message_id_key(q.message_id)));
    if (!q.client_ip.empty())
      sql += add("d.ip_key = ", text(decisions::ip_key(q.client_ip)));
    if (!q.direction.empty())
      sql += add("d.direction_key = ", text(decisions::word_key(q.direction)));
    if (!q.recipient.empty() || !q.user.empty() || !q.domain.empty() || !q.reseller.empty() ||
        !q.action.empty()) {
      // One recipient row must satisfy every recipient filter.
      sql +=
          " AND EXISTS (SELECT 1 FROM decision_recipients r WHERE r.decision_id = d.id AND "
          "r.time_ms = d.time_ms";
      if (!q.recipient.empty())
        sql += add("r.address_key = ", text(decisions::address_key(q.recipient)));
      if (!q.user.empty())
        sql += add("r.user_key = ", text(decisions::user_key(q.user)));
      if (!q.domain.empty())
        sql += add("r.domain_key = ", text(decisions::domain_key(q.domain)));
      if (!q.reseller.empty())
        sql += add("r.reseller = ", text(q.reseller));
      if (!q.action.empty())
        sql += add("r.action_key = ", text(decisions::word_key(q.action)));
      sql += ")";
    }
    sql += " ORDER BY d.time_ms DESC, d.id DESC";
    if (q.limit != 0)
      sql += fmt::format(" LIMIT {}", std::min<uint64_t>(q.limit, INT64_MAX));

    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    const auto until = pool_.deadline();
    auto rows = (*lease)->exec(sql, params, until);
    if (!rows.ok())
      return rows.error();
    const PGresult* r = rows->get();
    std::vector<Decision> out(PQntuples(r));
    if (out.empty())
      return out;
    std::vector<std::string> ids;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < PQntuples(r); ++i) {
      Decision& d = out[i];
      d.id = cell(r, i, 0);
      d.time_unix_ms = cell_i64(r, i, 1);
      d.node = cell(r, i, 2);
      d.direction = cell(r, i, 3);
      d.queue_id = cell(r, i, 4);
      d.message_id = cell(r, i, 5);
      d.client_ip = cell(r, i, 6);
      d.helo = cell(r, i, 7);
      d.mail_from = cell(r, i, 8);
      d.auth_user = cell(r, i, 9);
      d.subject = cell(r, i, 10);
      d.digest = cell(r, i, 11);
      d.elapsed_us = cell_i64(r, i, 12);
      d.errors = decode_strings(cell(r, i, 13));
      ids.push_back(d.id);
      lo = std::min(lo, d.time_unix_ms);
      hi = std::max(hi, d.time_unix_ms);
    }
    // The recipients of every decision found, in one statement (time bounds prune partitions).
    auto rr = (*lease)->exec(
        "SELECT decision_id, time_ms, address, user_id, domain, reseller, score, action, "
        "smtp_reply, stage, policy_source, symbols FROM decision_recipients "
        "WHERE decision_id = ANY($1::text[]) AND time_ms >= $2 AND time_ms <= $3 "
        "ORDER BY decision_id, time_ms, idx",
        {Param(array_literal(ids)), num(lo), num(hi)}, until);
    if (!rr.ok())
      return rr.error();
    const PGresult* rec = rr->get();
    std::map<std::pair<std::string, int64_t>, std::vector<RecipientDecision>> by_decision;
    for (int i = 0; i < PQntuples(rec); ++i) {
      RecipientDecision x;
      x.address = cell(rec, i, 2);
      x.user = cell(rec, i, 3);
      x.domain = cell(rec, i, 4);
      x.reseller = cell(rec, i, 5);
      x.score = std::strtod(cell(rec, i, 6), nullptr);
      x.action = cell(rec, i, 7);
      x.smtp_reply = cell(rec, i, 8);
      x.stage = cell(rec, i, 9);
      x.policy_source = cell(rec, i, 10);
      x.symbols = decode_symbols(cell(rec, i, 11));
      by_decision[{cell(rec, i, 0), cell_i64(rec, i, 1)}].push_back(std::move(x));
    }
    for (Decision& d : out) {
      auto it = by_decision.find({d.id, d.time_unix_ms});
      if (it != by_decision.end())
        d.recipients = std::move(it->second);
    }
    return out;
  }

  Result<size_t> expire(int64_t cutoff) override {
    auto lease = pool_.checkout();
    if (!lease.ok())
      return lease.error();
    pg::Connection& c = **lease;
    auto parts = c.exec(
        "SELECT from_ms, to_ms, suffix FROM decision_partitions WHERE from_ms < $1 "
        "ORDER BY from_ms",
        {num(cutoff)}, pool_.deadline());
    if (!parts.ok())
      return parts.error();
    size_t removed = 0;
    for (int i = 0; i < PQntuples(parts->get()); ++i) {
      const int64_t from = cell_i64(parts->get(), i, 0), to = cell_i64(parts->get(), i, 1);
      const std::string suffix = cell(parts->get(), i, 2);
      // One short transaction per partition: DROP locks the parent tables briefly.
      const auto until = pool_.deadline();
      auto rows = pg::transaction(c, until, [&]() -> Result<size_t> {
        if (auto r = c.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kPartitionLock), until);
            !r.ok())
          return r.error();
        if (to <= cutoff) {
          auto n = c.exec(fmt::format("SELECT count(*) FROM decisions_{}", suffix), until);
          if (!n.ok())
            return n.error();
          const size_t dropped = static_cast<size_t>(cell_i64(n->get(), 0, 0));
          if (auto r = c.exec(fmt::format("DROP TABLE IF EXISTS decisions_{0}, "
                                          "decision_recipients_{0}",
                                          suffix),
                              until);
              !r.ok())
            return r.error();
          if (auto r =
                  c.exec("DELETE FROM decision_partitions WHERE from_ms = $1", {num(from)}, until);
              !r.ok())
            return r.error();
          return dropped;
        }
        // Partly past the cutoff: delete its old rows only.
        auto n = c.exec("DELETE FROM decisions WHERE time_ms >= $1 AND time_ms < $2",
                        {num(from), num(cutoff)}, until);
        if (!n.ok())
          return n.error();
        const size_t deleted =
            static_cast<size_t>(std::strtoull(PQcmdTuples(n->get()), nullptr, 10));
        if (auto r = c.exec("DELETE FROM decision_recipients WHERE time_ms >= $1 AND time_ms < $2",
                            {num(from), num(cutoff)}, until);
            !r.ok())
          return r.error();
        return deleted;
      });
      if (!rows.ok())
        return rows.error();
      removed += *rows;
      if (to <= cutoff) {
        std::lock_guard lock(mu_);
        known_.erase(std::remove_if(known_.begin(), known_.end(),
                                    [&](const auto& k) { return k.first == from; }),
                     known_.end());
      }
    }
    return removed;
  }

 private:
  // Makes sure a partition holds time_ms: cached, else under the partition advisory lock look it
  // up and create it (clipped so it never overlaps a neighbour made with another span).
  Status ensure_partition(pg::Connection& c, int64_t time_ms, pg::Clock::time_point until) {
    {
      std::lock_guard lock(mu_);
      for (const auto& [from, to] : known_)
        if (time_ms >= from && time_ms < to)
          return Ok{};
    }
    using Bounds = std::pair<int64_t, int64_t>;
    auto made = pg::transaction(c, until, [&]() -> Result<Bounds> {
      if (auto r = c.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kPartitionLock), until);
          !r.ok())
        return r.error();
      auto have = c.exec(
          "SELECT from_ms, to_ms FROM decision_partitions WHERE from_ms <= $1 AND to_ms > $1",
          {num(time_ms)}, until);
      if (!have.ok())
        return have.error();
      int64_t from, to;
      if (PQntuples(have->get()) > 0) {
        from = cell_i64(have->get(), 0, 0);
        to = cell_i64(have->get(), 0, 1);
      } else {
        from = floor_div(time_ms, span_ms_) * span_ms_;
        to = from + span_ms_;
        auto bounds = c.exec(
            "SELECT (SELECT max(to_ms) FROM decision_partitions WHERE to_ms <= $1), "
            "(SELECT min(from_ms) FROM decision_partitions WHERE from_ms > $1)",
            {num(time_ms)}, until);
        if (!bounds.ok())
          return bounds.error();
        if (!PQgetisnull(bounds->get(), 0, 0))
          from = std::max(from, cell_i64(bounds->get(), 0, 0));
        if (!PQgetisnull(bounds->get(), 0, 1))
          to = std::min(to, cell_i64(bounds->get(), 0, 1));
        const std::string suffix = suffix_for(from);
        const std::string ddl = fmt::format(
            "CREATE TABLE decisions_{0} PARTITION OF decisions FOR VALUES FROM ({1}) TO ({2}); "
            "CREATE TABLE decision_recipients_{0} PARTITION OF decision_recipients "
            "FOR VALUES FROM ({1}) TO ({2})",
            suffix, from, to);
        if (auto r = c.exec(ddl, until); !r.ok())
          return r.error();
        if (auto r = c.exec("INSERT INTO decision_partitions VALUES($1, $2, $3)",
                            {num(from), num(to), Param(suffix)}, until);
            !r.ok())
          return r.error();
      }
      return Bounds{from, to};
    });
    if (!made.ok())
      return made.error();
    std::lock_guard lock(mu_);
    known_.emplace_back(made->first, made->second);
    return Ok{};
  }

  Status insert(pg::Connection& c, const Decision& d, pg::Clock::time_point until) {
    return pg::transaction(c, until, [&] { return insert_body(c, d, until); });
  }

  // One decision inside the caller's transaction; already there (same id) = nothing to do.
  Status insert_body(pg::Connection& c, const Decision& d, pg::Clock::time_point until) {
    // Same id from two nodes / a retry: serialised by the lock, the second sees the first.
    if (auto r =
            c.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {text(d.id)}, until);
        !r.ok())
      return r.error();
    auto seen = c.exec("SELECT 1 FROM decisions WHERE id = $1 LIMIT 1", {text(d.id)}, until);
    if (!seen.ok())
      return seen.error();
    if (PQntuples(seen->get()) > 0)
      return Ok{};
    auto ins = c.exec(fmt::format("INSERT INTO decisions({}) VALUES{}", kDecisionColumns,
                                  placeholders(1, kDecisionCols)),
                      decision_row(d), until);
    if (!ins.ok())
      return ins.error();
    if (!d.recipients.empty()) {
      std::vector<Param> params;
      for (size_t i = 0; i < d.recipients.size(); ++i)
        for (Param& p : recipient_row(d, i))
          params.push_back(std::move(p));
      auto rr =
          c.exec(fmt::format("INSERT INTO decision_recipients({}) VALUES{}", kRecipientColumns,
                             placeholders(d.recipients.size(), kRecipientCols)),
                 params, until);
      if (!rr.ok())
        return rr.error();
    }
    return Ok{};
  }

  // "($1,...,$cols),(...)" for rows rows.
  static std::string placeholders(size_t rows, size_t cols) {
    std::string out;
    for (size_t r = 0; r < rows; ++r) {
      out += r ? ",(" : "(";
      for (size_t k = 0; k < cols; ++k)
        out += fmt::format("{}${}", k ? "," : "", r * cols + k + 1);
      out += ")";
    }
    return out;
  }

  // A whole batch inside the caller's transaction, in a constant number of statements. Same
  // outcome as insert_body() per decision in order: an id already in the table, or seen earlier
  // in the batch, is skipped (the first one wins).
  Status insert_batch(pg::Connection& c, std::span<const Decision> ds,
                      pg::Clock::time_point until) {
    // Ids as stored (valid_utf8), so two raw ids that store the same are one id here too.
    std::vector<std::string> ids;
    ids.reserve(ds.size());
    ArrayLiteral id_array;
    for (const Decision& d : ds) {
      ids.push_back(pg::valid_utf8(d.id));
      id_array.add(ids.back());
    }
    const Param id_param = std::move(id_array).done();
    // Every id's lock in one statement, in hash order: a deterministic order across nodes (no
    // lock cycle between two overlapping batches). The same locks record() takes.
    if (auto r = c.exec("SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT "
                        "hashtextextended(x, 0) AS h FROM unnest($1::text[]) AS x ORDER BY 1) AS s",
                        {id_param}, until);
        !r.ok())
      return r.error();
    auto seen = pg_log_detail::stored_ids(c, *id_param, until);
    if (!seen.ok())
      return seen.error();
    std::unordered_set<std::string> skip(seen->begin(), seen->end());
    std::vector<const Decision*> fresh;
    for (size_t i = 0; i < ds.size(); ++i)
      if (skip.insert(ids[i]).second)  // not there, and not earlier in the batch
        fresh.push_back(&ds[i]);
    if (fresh.empty())
      return Ok{};
    std::vector<std::vector<Param>> rows, recipient_rows;
    rows.reserve(fresh.size());
    for (const Decision* d : fresh) {
      rows.push_back(decision_row(*d));
      for (size_t i = 0; i < d->recipients.size(); ++i)
        recipient_rows.push_back(recipient_row(*d, i));
    }
    if (Status s = insert_rows(c, "decisions", kDecisionColumns, kDecisionTypes, rows, until);
        !s.ok())
      return s;
    return insert_rows(c, "decision_recipients", kRecipientColumns, kRecipientTypes, recipient_rows,
                       until);
  }

  // rows into table in one INSERT ... SELECT FROM unnest(one array per column): constant SQL
  // text, no parameter limit (multi-row VALUES, chunked under 65,535 parameters, cost up to 2x
  // the server CPU in bench/pg_log_bench: docs/fleet.md).
  Status insert_rows(pg::Connection& c, const char* table, const char* columns,
                     std::span<const char* const> types,
                     const std::vector<std::vector<Param>>& rows, pg::Clock::time_point until) {
    if (rows.empty())
      return Ok{};
    std::vector<ArrayLiteral> arrays(types.size());
    for (const auto& row : rows)
      for (size_t k = 0; k < types.size(); ++k)
        arrays[k].add(*row[k]);
    std::vector<Param> params;
    params.reserve(types.size());
    for (ArrayLiteral& a : arrays)
      params.push_back(std::move(a).done());
    auto r = c.exec(unnest_insert(table, columns, types), params, until);
    if (!r.ok())
      return r.error();
    return Ok{};
  }

  PostgresOptions options_;
  int64_t span_ms_;
  pg::Pool pool_;
  std::mutex mu_;
  std::vector<std::pair<int64_t, int64_t>> known_;  // partitions known to exist [from, to)
};

}  // namespace

int postgres_log_schema_version() {
  return kSchemaVersion;
}

Result<std::unique_ptr<decisions::DecisionLog>> open_postgres_log(const PostgresOptions& options) {
  if (options.timeout_ms <= 0 || options.pool_size <= 0)
    return Error::config("postgres: timeout_ms and pool_size must be positive");
  if (options.schema.empty())
    return Error::config("postgres: empty schema name");
  auto log = std::make_unique<PostgresLog>(options);
  if (Status m = log->migrate(); !m.ok())
    return m.error();
  return std::unique_ptr<decisions::DecisionLog>(std::move(log));
}

}  // namespace mailsift::fleet
