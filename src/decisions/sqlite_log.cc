// SQLite DecisionLog: the embedded default (file kDecisionsFileName in the data dir).
//
// Layout (schema version in PRAGMA user_version, forward-only migrations in kMigrations; the
// full description with the reasons is in docs/decision-log.md):
//   decisions(seq, id UNIQUE, time_ms, envelope/connection fields..., errors JSON, *_key columns)
//   recipients(decision -> decisions.seq, idx, time_ms copy, tenant IDs, score, action, reply,
//              symbols JSON [[name, score], ...], *_key columns)   WITHOUT ROWID
// Match keys (normalize.h) are stored beside the original text and indexed together with
// time_ms, so "this recipient/sender/user in this range" is one index range scan.
//
// Durability: WAL + synchronous=FULL, each record() / record_batch() one BEGIN IMMEDIATE
// transaction (group commit on top: group_commit_log.cc).
// Thread-safety: one connection, one mutex; calls are serialised.
#include <sqlite3.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <mutex>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "decisions/decisions.h"
#include "decisions/normalize.h"
#include "decisions/sqlite_log_internal.h"
#include "sqlite/wal_buffer_vfs.h"

namespace mailsift::decisions {
namespace {

// kMigrations[i] takes user_version i to i + 1. The tables can share a file with the learning
// store (no name clashes), but the default is a separate decisions.db.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE decisions(
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  time_ms INTEGER NOT NULL,
  node TEXT NOT NULL,
  direction TEXT NOT NULL,
  queue_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  helo TEXT NOT NULL,
  mail_from TEXT NOT NULL,
  auth_user TEXT NOT NULL,
  subject TEXT NOT NULL,
  digest TEXT NOT NULL,
  elapsed_us INTEGER NOT NULL,
  errors TEXT NOT NULL,
  sender_key TEXT NOT NULL,
  message_id_key TEXT NOT NULL,
  ip_key TEXT NOT NULL,
  direction_key TEXT NOT NULL);
CREATE INDEX decisions_time ON decisions(time_ms, id);
CREATE INDEX decisions_sender ON decisions(sender_key, time_ms);
CREATE INDEX decisions_queue_id ON decisions(queue_id, time_ms);
CREATE INDEX decisions_message_id ON decisions(message_id_key, time_ms);
CREATE INDEX decisions_ip ON decisions(ip_key, time_ms);
CREATE TABLE recipients(
  decision INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  address TEXT NOT NULL,
  user TEXT NOT NULL,
  domain TEXT NOT NULL,
  reseller TEXT NOT NULL,
  score REAL NOT NULL,
  action TEXT NOT NULL,
  smtp_reply TEXT NOT NULL,
  stage TEXT NOT NULL,
  policy_source TEXT NOT NULL,
  symbols TEXT NOT NULL,
  address_key TEXT NOT NULL,
  user_key TEXT NOT NULL,
  domain_key TEXT NOT NULL,
  action_key TEXT NOT NULL,
  PRIMARY KEY(decision, idx)) WITHOUT ROWID;
CREATE INDEX recipients_address ON recipients(address_key, time_ms);
CREATE INDEX recipients_user ON recipients(user_key, time_ms);
CREATE INDEX recipients_domain ON recipients(domain_key, time_ms);
CREATE INDEX recipients_reseller ON recipients(reseller, time_ms);
CREATE INDEX recipients_action ON recipients(action_key, time_ms);
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);
constexpr int64_t kExpireBatch = 2000;  // rows per expire transaction: writers never wait long

// SQLite stores NaN as NULL (and JSON has no NaN/inf): keep every score a finite number.
double finite(double v) {
  if (std::isnan(v))
    return 0;
  return std::clamp(v, -DBL_MAX, DBL_MAX);
}

// Empty lists (most outbound decisions: no symbols, no errors) skip building a JSON value.
std::string encode_symbols(const std::vector<SymbolHit>& symbols) {
  if (symbols.empty())
    return "[]";
  nlohmann::json j = nlohmann::json::array();
  for (const SymbolHit& s : symbols)
    j.push_back(nlohmann::json::array({s.name, finite(s.score)}));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<SymbolHit> decode_symbols(const std::string& text) {
  std::vector<SymbolHit> out;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array())
    return out;
  for (const auto& e : j) {
    if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number())
      out.push_back({e[0].get<std::string>(), e[1].get<double>()});
  }
  return out;
}

std::string encode_strings(const std::vector<std::string>& v) {
  if (v.empty())
    return "[]";
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> decode_strings(const std::string& text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array())
    return out;
  for (const auto& e : j) {
    if (e.is_string())
      out.push_back(e.get<std::string>());
  }
  return out;
}

// One prepared statement; Bound resets it when a use ends.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }
  int prepare(sqlite3* db, const std::string& sql, unsigned flags) {
    return sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), flags, &stmt_,
                              nullptr);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class Bound {
 public:
  explicit Bound(const Stmt& s) : s_(s.get()) {}
  ~Bound() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Bound& i64(int idx, int64_t v) {
    sqlite3_bind_int64(s_, idx, v);
    return *this;
  }
  Bound& real(int idx, double v) {
    sqlite3_bind_double(s_, idx, v);
    return *this;
  }
  // SQLITE_TRANSIENT: callers pass temporaries (keys computed inline).
  Bound& text(int idx, const std::string& v) {
    sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  int64_t col_i64(int c) const { return sqlite3_column_int64(s_, c); }
  double col_real(int c) const { return sqlite3_column_double(s_, c); }
  std::string col_text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c))
             : std::string();
  }

 private:
  sqlite3_stmt* s_;
};

constexpr const char* kDecisionColumns =
    "seq, id, time_ms, node, direction, queue_id, message_id, client_ip, helo, mail_from, "
    "auth_user, subject, digest, elapsed_us, errors";

}  // namespace

SqlQuery build_query_sql(const Query& q) {
  SqlQuery out;
  std::string& sql = out.sql;
  auto& params = out.params;
  sql = fmt::format("SELECT {} FROM decisions d WHERE 1", kDecisionColumns);
  auto add = [&](const char* clause, std::variant<int64_t, std::string> v) {
    params.push_back(std::move(v));
    sql += fmt::format(" AND {}?{}", clause, params.size());
  };
  if (q.since_unix_ms)
    add("d.time_ms >= ", *q.since_unix_ms);
  if (q.until_unix_ms)
    add("d.time_ms < ", *q.until_unix_ms);
  if (!q.id.empty())
    add("d.id = ", q.id);
  if (!q.sender.empty())
    add("d.sender_key = ", address_key(q.sender));
  if (!q.queue_id.empty())
    add("d.queue_id = ", q.queue_id);
  if (!q.message_id.empty())
    add("d.message_id_key = ", message_id_key(q.message_id));
  if (!q.client_ip.empty())
    add("d.ip_key = ", ip_key(q.client_ip));
  if (!q.direction.empty())
    add("d.direction_key = ", word_key(q.direction));
  const bool per_recipient = !q.recipient.empty() || !q.user.empty() || !q.domain.empty() ||
                             !q.reseller.empty() || !q.action.empty();
  if (per_recipient) {
    // One recipient row must satisfy every recipient filter; its time_ms copy lets the
    // (key, time_ms) index bound the scan.
    sql += " AND d.seq IN (SELECT r.decision FROM recipients r WHERE 1";
    if (!q.recipient.empty())
      add("r.address_key = ", address_key(q.recipient));
    if (!q.user.empty())
      add("r.user_key = ", user_key(q.user));
    if (!q.domain.empty())
      add("r.domain_key = ", domain_key(q.domain));
    if (!q.reseller.empty())
      add("r.reseller = ", q.reseller);
    if (!q.action.empty())
      add("r.action_key = ", word_key(q.action));
    if (q.since_unix_ms)
      add("r.time_ms >= ", *q.since_unix_ms);
    if (q.until_unix_ms)
      add("r.time_ms < ", *q.until_unix_ms);
    sql += ")";
  }
  sql += " ORDER BY d.time_ms DESC, d.id DESC";
  if (q.limit != 0) {
    params.push_back(static_cast<int64_t>(std::min<uint64_t>(q.limit, INT64_MAX)));
    sql += fmt::format(" LIMIT ?{}", params.size());
  }
  return out;
}

namespace {

class SqliteLog final : public DecisionLog {
 public:
  SqliteLog(std::string path, const SqliteLogOptions& options)
      : path_(std::move(path)), options_(options) {}
  ~SqliteLog() override {
    insert_decision_.reset();
    insert_recipient_.reset();
    select_recipients_.reset();
    if (db_)
      sqlite3_close_v2(db_);
  }

  Status open() {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (options_.create)
      flags |= SQLITE_OPEN_CREATE;
    // WAL frames of a commit go out in one write (sqlite/wal_buffer_vfs.h; nullptr = default).
    int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, sqlite::wal_buffer_vfs_name());
    if (rc != SQLITE_OK)
      return fail(rc, "open");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, options_.busy_timeout_ms);
    if (auto s = exec("PRAGMA journal_mode=WAL"); !s)
      return s;
    if (auto s = exec("PRAGMA synchronous=FULL"); !s)
      return s;
    // Every decision adds entries to several indexes with scattered keys (sender, IP, recipient,
    // user, domain): with SQLite's default 2 MB page cache most inserts re-read index pages from
    // the file (a fifth of the writer's CPU in bench/outbound). 64 MiB is allocated as used. A
    // larger WAL between checkpoints writes a hot page back to the database once instead of
    // once per 1000 frames; durability is unchanged (the WAL is synced at every commit).
    if (auto s = exec("PRAGMA cache_size=-65536"); !s)
      return s;
    if (auto s = exec("PRAGMA wal_autocheckpoint=8192"); !s)
      return s;
    if (auto s = migrate(); !s)
      return s;
    insert_decision_ = std::make_unique<Stmt>();
    insert_recipient_ = std::make_unique<Stmt>();
    select_recipients_ = std::make_unique<Stmt>();
    const std::pair<Stmt*, const char*> statements[] = {
        {insert_decision_.get(),
         "INSERT INTO decisions(id, time_ms, node, direction, queue_id, message_id, client_ip, "
         "helo, mail_from, auth_user, subject, digest, elapsed_us, errors, sender_key, "
         "message_id_key, ip_key, direction_key) "
         "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18) "
         "ON CONFLICT(id) DO NOTHING"},
        {insert_recipient_.get(),
         "INSERT INTO recipients(decision, idx, time_ms, address, user, domain, reseller, score, "
         "action, smtp_reply, stage, policy_source, symbols, address_key, user_key, domain_key, "
         "action_key) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"},
        {select_recipients_.get(),
         "SELECT address, user, domain, reseller, score, action, smtp_reply, stage, "
         "policy_source, symbols FROM recipients WHERE decision=?1 ORDER BY idx"},
    };
    for (const auto& [stmt, sql] : statements) {
      if (int prc = stmt->prepare(db_, sql, SQLITE_PREPARE_PERSISTENT); prc != SQLITE_OK)
        return fail(prc, "prepare");
    }
    return Ok{};
  }

  Status record(const Decision& d) override {
    return record_batch(std::span<const Decision>(&d, 1));
  }

  // One transaction for the whole batch: one commit (one fsync) however many decisions.
  Status record_batch(std::span<const Decision> batch) override {
    for (const Decision& d : batch) {
      if (d.id.empty())
        return Error::malformed("decision has no id");
    }
    if (batch.empty())
      return Ok{};
    try {
      std::lock_guard lock(mu_);
      return in_write_txn([&]() -> Status {
        for (const Decision& d : batch) {
          if (auto s = insert(d); !s)
            return s;
        }
        return Ok{};
      });
    } catch (const std::exception& e) {
      return Error::temporary(fmt::format("decision log {}: {}", path_, e.what()));
    }
  }

  Result<std::vector<Decision>> query(const Query& q) override {
    return guard<std::vector<Decision>>([&]() -> Result<std::vector<Decision>> {
      const SqlQuery built = build_query_sql(q);
      const std::string& sql = built.sql;
      const auto& params = built.params;
      std::lock_guard lock(mu_);
      Stmt stmt;
      if (int rc = stmt.prepare(db_, sql, 0); rc != SQLITE_OK)
        return fail(rc, "prepare query");
      for (size_t i = 0; i < params.size(); ++i) {
        const int idx = static_cast<int>(i + 1);
        if (const auto* n = std::get_if<int64_t>(&params[i])) {
          sqlite3_bind_int64(stmt.get(), idx, *n);
        } else {
          const auto& s = std::get<std::string>(params[i]);
          sqlite3_bind_text(stmt.get(), idx, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
        }
      }
      // One read transaction: the decisions and their recipients come from the same snapshot.
      if (auto s = exec("BEGIN"); !s)
        return s.error();
      auto out = read_rows(stmt);
      if (!out) {
        (void)exec("ROLLBACK");
        return out;
      }
      if (auto s = exec("COMMIT"); !s) {
        (void)exec("ROLLBACK");
        return s.error();
      }
      return out;
    });
  }

  Result<size_t> expire(int64_t older_than_unix_ms) override {
    return guard<size_t>([&]() -> Result<size_t> {
      size_t total = 0;
      for (;;) {
        std::lock_guard lock(mu_);  // released between batches so record() interleaves
        int64_t removed = 0;
        Status s = in_write_txn([&]() -> Status {
          static const char* const kSql[] = {
              "DELETE FROM recipients WHERE decision IN (SELECT seq FROM decisions "
              "WHERE time_ms < ?1 ORDER BY time_ms, seq LIMIT ?2)",
              "DELETE FROM decisions WHERE seq IN (SELECT seq FROM decisions "
              "WHERE time_ms < ?1 ORDER BY time_ms, seq LIMIT ?2)",
          };
          for (const char* sql : kSql) {
            Stmt st;
            if (int rc = st.prepare(db_, sql, 0); rc != SQLITE_OK)
              return fail(rc, "prepare expire");
            Bound b(st);
            b.i64(1, older_than_unix_ms).i64(2, kExpireBatch);
            if (int rc = b.step(); rc != SQLITE_DONE)
              return fail(rc, "expire");
          }
          removed = sqlite3_changes64(db_);
          return Ok{};
        });
        if (!s)
          return s.error();
        total += static_cast<size_t>(removed);
        if (removed < kExpireBatch)
          return total;
      }
    });
  }

 private:
  // Inside a write transaction. An id already present is skipped (a retry).
  Status insert(const Decision& d) {
    int64_t seq = 0;
    {
      Bound b(*insert_decision_);
      b.text(1, d.id).i64(2, d.time_unix_ms).text(3, d.node).text(4, d.direction);
      b.text(5, d.queue_id).text(6, d.message_id).text(7, d.client_ip).text(8, d.helo);
      b.text(9, d.mail_from).text(10, d.auth_user).text(11, d.subject);
      b.text(12, d.digest).i64(13, d.elapsed_us).text(14, encode_strings(d.errors));
      b.text(15, address_key(d.mail_from)).text(16, message_id_key(d.message_id));
      b.text(17, ip_key(d.client_ip)).text(18, word_key(d.direction));
      if (int rc = b.step(); rc != SQLITE_DONE)
        return fail(rc, "insert decision");
      if (sqlite3_changes(db_) == 0)
        return Ok{};  // already recorded: a retry
      seq = sqlite3_last_insert_rowid(db_);
    }
    for (size_t i = 0; i < d.recipients.size(); ++i) {
      const RecipientDecision& r = d.recipients[i];
      Bound b(*insert_recipient_);
      b.i64(1, seq).i64(2, static_cast<int64_t>(i)).i64(3, d.time_unix_ms);
      b.text(4, r.address).text(5, r.user).text(6, r.domain).text(7, r.reseller);
      b.real(8, finite(r.score)).text(9, r.action).text(10, r.smtp_reply);
      b.text(11, r.stage).text(12, r.policy_source).text(13, encode_symbols(r.symbols));
      b.text(14, address_key(r.address)).text(15, user_key(r.user));
      b.text(16, domain_key(r.domain)).text(17, word_key(r.action));
      if (int rc = b.step(); rc != SQLITE_DONE)
        return fail(rc, "insert recipient");
    }
    return Ok{};
  }

  Result<std::vector<Decision>> read_rows(Stmt& stmt) {
    std::vector<std::pair<int64_t, Decision>> rows;
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      sqlite3_stmt* s = stmt.get();
      auto text = [&](int col) {
        const auto* p = sqlite3_column_text(s, col);
        return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s, col))
                 : std::string();
      };
      Decision d;
      d.id = text(1);
      d.time_unix_ms = sqlite3_column_int64(s, 2);
      d.node = text(3);
      d.direction = text(4);
      d.queue_id = text(5);
      d.message_id = text(6);
      d.client_ip = text(7);
      d.helo = text(8);
      d.mail_from = text(9);
      d.auth_user = text(10);
      d.subject = text(11);
      d.digest = text(12);
      d.elapsed_us = sqlite3_column_int64(s, 13);
      d.errors = decode_strings(text(14));
      rows.emplace_back(sqlite3_column_int64(s, 0), std::move(d));
    }
    if (rc != SQLITE_DONE)
      return fail(rc, "query");
    std::vector<Decision> out;
    out.reserve(rows.size());
    for (auto& [seq, d] : rows) {
      Bound b(*select_recipients_);
      b.i64(1, seq);
      while ((rc = b.step()) == SQLITE_ROW) {
        RecipientDecision r;
        r.address = b.col_text(0);
        r.user = b.col_text(1);
        r.domain = b.col_text(2);
        r.reseller = b.col_text(3);
        r.score = b.col_real(4);
        r.action = b.col_text(5);
        r.smtp_reply = b.col_text(6);
        r.stage = b.col_text(7);
        r.policy_source = b.col_text(8);
        r.symbols = decode_symbols(b.col_text(9));
        d.recipients.push_back(std::move(r));
      }
      if (rc != SQLITE_DONE)
        return fail(rc, "read recipients");
      out.push_back(std::move(d));
    }
    return out;
  }

  Error fail(int rc, std::string_view what) const {
    std::string msg = fmt::format("decision log {}: {}: {}", path_, what, sqlite3_errstr(rc));
    if (db_ && sqlite3_errcode(db_) == rc) {
      std::string detail = sqlite3_errmsg(db_);
      if (detail != sqlite3_errstr(rc))
        msg += " (" + detail + ")";
    }
    int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
      msg +=
          "; the file is damaged or not a mailsift decision log: restore it from a backup or "
          "move it away (a new empty log is created on the next start)";
    }
    return Error::temporary(std::move(msg));
  }

  template <typename T, typename F>
  Result<T> guard(F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return Error::temporary(fmt::format("decision log {}: {}", path_, e.what()));
    }
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK)
      return fail(rc, sql);
    return Ok{};
  }

  // BEGIN IMMEDIATE ... COMMIT around body; ROLLBACK on any error. Caller holds mu_.
  template <typename F>
  Status in_write_txn(F&& body) {
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    Status s = body();
    if (s)
      s = exec("COMMIT");
    if (!s) {
      Error e = s.error();
      (void)exec("ROLLBACK");
      return e;
    }
    return Ok{};
  }

  Status migrate() {
    return in_write_txn([&]() -> Status {
      sqlite3_stmt* st = nullptr;
      int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr);
      if (rc != SQLITE_OK)
        return fail(rc, "read schema version");
      rc = sqlite3_step(st);
      int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
      sqlite3_finalize(st);
      if (rc != SQLITE_ROW)
        return fail(rc, "read schema version");
      if (version > kSchemaVersion) {
        return Error::config(fmt::format(
            "decision log {}: schema version {} is newer than this mailsift understands ({})",
            path_, version, kSchemaVersion));
      }
      for (int v = version; v < kSchemaVersion; ++v) {
        if (auto s = exec(kMigrations[v]); !s)
          return s;
      }
      // user_version is per file: another mailsift database (the learning store) has one too.
      // Refuse it rather than read or write tables that are not ours.
      sqlite3_stmt* check = nullptr;
      rc = sqlite3_prepare_v2(
          db_, "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='recipients'", -1,
          &check, nullptr);
      if (rc != SQLITE_OK)
        return fail(rc, "read schema");
      rc = sqlite3_step(check);
      const bool ours = rc == SQLITE_ROW && sqlite3_column_int(check, 0) == 1;
      sqlite3_finalize(check);
      if (rc != SQLITE_ROW)
        return fail(rc, "read schema");
      if (!ours) {
        return Error::config(fmt::format(
            "{} is not a mailsift decision log (schema version {} without its tables; is it the "
            "learning store? the decision log lives in its own file, {})",
            path_, version, kDecisionsFileName));
      }
      if (version != kSchemaVersion) {
        std::string set = fmt::format("PRAGMA user_version={}", kSchemaVersion);
        if (auto s = exec(set.c_str()); !s)
          return s;
      }
      return Ok{};
    });
  }

  std::string path_;
  SqliteLogOptions options_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
  std::unique_ptr<Stmt> insert_decision_, insert_recipient_, select_recipients_;
};

}  // namespace

Result<std::unique_ptr<DecisionLog>> open_sqlite_log(const std::string& path) {
  return open_sqlite_log(path, SqliteLogOptions{});
}

Result<std::unique_ptr<DecisionLog>> open_sqlite_log(const std::string& path,
                                                     const SqliteLogOptions& options) {
  try {
    auto log = std::make_unique<SqliteLog>(path, options);
    if (auto s = log->open(); !s)
      return s.error();
    return std::unique_ptr<DecisionLog>(std::move(log));
  } catch (const std::exception& e) {
    return Error::temporary("decision log " + path + ": " + e.what());
  }
}

}  // namespace mailsift::decisions
