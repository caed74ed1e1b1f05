// mailsift::fleet — libpq connections with hard client-side deadlines, and a small pool.
//
// Owns: connecting (PQconnectStart + poll, bounded by timeout_ms even if the server hangs),
// running statements with parameters (PQsendQueryParams + poll, bounded by a deadline; a
// statement past its deadline drops the connection), and the pool the PostgreSQL backends share.
// Each new connection sets search_path to the configured schema and statement_timeout, so the
// server also gives up on its side.
//
// Failure semantics: any connection-level failure or deadline is kTemporary and marks the
// connection broken (the pool reconnects on the next checkout). SQL errors are kTemporary for
// the classes that mean "try again" (connection, resources, lock/serialization, operator
// intervention, 57014 query cancelled) and kPermanent otherwise; sqlstate() is kept for callers.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace mailsift::fleet::pg {

using Clock = std::chrono::steady_clock;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// A parameter: text or SQL NULL.
using Param = std::optional<std::string>;

struct ExecError {
  Error error;
  std::string sqlstate;
};

class Connection {
 public:
  explicit Connection(PGconn* c) : conn_(c) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement (no parameters: may hold several statements). Rows for SELECT.
  // On error returns the error and sets last_sqlstate().
  Result<PgResult> exec(const std::string& sql, const std::vector<Param>& params,
                        Clock::time_point deadline);
  Result<PgResult> exec(const std::string& sql, Clock::time_point deadline) {
    return exec(sql, {}, deadline);
  }
  const std::string& last_sqlstate() const { return sqlstate_; }
  bool broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }
  void mark_broken() { broken_ = true; }

 private:
  PGconn* conn_;
  bool broken_ = false;
  std::string sqlstate_;
};

class Pool;

// A checked-out connection, returned on destruction.
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
  Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), c_(std::move(o.c_)) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Connection* operator->() const { return c_.get(); }
  Connection& operator*() const { return *c_; }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> c_;
};

class Pool {
 public:
  Pool(std::string dsn, std::string schema, int timeout_ms, int size);
  // Waits up to timeout_ms for a free slot, connects if needed (bounded by timeout_ms).
  Result<Lease> checkout();
  void give_back(std::unique_ptr<Connection> c);
  int timeout_ms() const { return timeout_ms_; }
  Clock::time_point deadline() const {
    return Clock::now() + std::chrono::milliseconds(timeout_ms_);
  }

 private:
  Result<std::unique_ptr<Connection>> connect();
  std::string dsn_, schema_;
  int timeout_ms_, size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

// body() inside BEGIN ... COMMIT on c. body returns Status or Result<T>; when it fails, ROLLBACK
// and its error is returned; a failed BEGIN or COMMIT returns that error (a failed COMMIT has
// rolled back on the server, so nothing of body's writes remains).
template <typename F>
auto transaction(Connection& c, Clock::time_point until, F&& body) -> decltype(body()) {
  if (auto begin = c.exec("BEGIN", until); !begin.ok())
    return begin.error();
  auto result = body();
  if (!result.ok()) {
    (void)c.exec("ROLLBACK", until);
    return result;
  }
  if (auto commit = c.exec("COMMIT", until); !commit.ok())
    return commit.error();
  return result;
}

// Text made safe for a PostgreSQL text value: invalid UTF-8 sequences and NUL become U+FFFD.
std::string valid_utf8(std::string_view in);

// Error class for a SQLSTATE: temporary for 08 (connection), 53 (resources), 40 (rollback:
// serialization/deadlock), 55P03 (lock not available), 57 (operator intervention/cancel), 58.
bool is_temporary_sqlstate(const std::string& state);

}  // namespace mailsift::fleet::pg
