// libpq connections with deadlines: see pg_conn.h.
#include "fleet/pg_conn.h"

#include <poll.h>

#include <fmt/format.h>

namespace mailsift::fleet::pg {
namespace {

// Waits until the socket is readable/writable or the deadline passes. false on timeout/error.
bool wait_socket(int fd, bool for_write, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0)
      return true;
    if (rc == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

}  // namespace

bool is_temporary_sqlstate(const std::string& s) {
  if (s.size() != 5)
    return true;  // no SQLSTATE: a client-side/connection problem
  std::string cls = s.substr(0, 2);
  return cls == "08" || cls == "53" || cls == "40" || cls == "57" || cls == "58" || s == "55P03" ||
         s == "55006";
}

std::string valid_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  static constexpr const char* kReplacement = "\xEF\xBF\xBD";
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    }
    bool ok = n > 0 && i + n < in.size();
    if (ok) {
      for (size_t k = 1; k <= n; ++k) {
        unsigned char cc = static_cast<unsigned char>(in[i + k]);
        if ((cc & 0xC0) != 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (cc & 0x3F);
      }
    }
    // Overlong, surrogates, beyond U+10FFFF.
    if (ok && ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
               (cp >= 0xD800 && cp <= 0xDFFF)))
      ok = false;
    if (!ok) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(in.substr(i, n + 1));
    i += n + 1;
  }
  return out;
}

Connection::~Connection() {
  PQfinish(conn_);
}

Result<PgResult> Connection::exec(const std::string& sql, const std::vector<Param>& params,
                                  Clock::time_point deadline) {
  sqlstate_.clear();
  if (broken())
    return Error::temporary("postgres: connection lost");
  std::vector<const char*> values;
  for (const Param& p : params)
    values.push_back(p ? p->c_str() : nullptr);
  int sent = params.empty() ? PQsendQuery(conn_, sql.c_str())
                            : PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()),
                                                nullptr, values.data(), nullptr, nullptr, 0);
  if (!sent) {
    broken_ = true;
    return Error::temporary("postgres: send: " + trim(PQerrorMessage(conn_)));
  }
  const int fd = PQsocket(conn_);
  // Flush (non-blocking mode: the output buffer may not fit in one write).
  while (true) {
    int f = PQflush(conn_);
    if (f == 0)
      break;
    if (f < 0 || !wait_socket(fd, true, deadline)) {
      broken_ = true;
      return Error::temporary(f < 0 ? "postgres: send failed" : "postgres: send timed out");
    }
  }
  PgResult last;
  while (true) {
    while (PQisBusy(conn_)) {
      if (!wait_socket(fd, false, deadline)) {
        broken_ = true;  // the server may still run it; statement_timeout ends it there
        return Error::temporary("postgres: statement timed out");
      }
      if (!PQconsumeInput(conn_)) {
        broken_ = true;
        return Error::temporary("postgres: " + trim(PQerrorMessage(conn_)));
      }
    }
    PGresult* r = PQgetResult(conn_);
    if (!r)
      break;
    PgResult res(r);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
      if (sqlstate_.empty()) {
        const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        sqlstate_ = code ? code : "";
        last = std::move(res);  // keep the first error
      }
      continue;  // drain the remaining results
    }
    if (sqlstate_.empty())
      last = std::move(res);
  }
  if (PQstatus(conn_) != CONNECTION_OK)
    broken_ = true;
  if (!sqlstate_.empty() || broken_) {
    std::string msg = last ? trim(PQresultErrorMessage(last.get())) : "";
    if (msg.empty())
      msg = trim(PQerrorMessage(conn_));
    std::string text = "postgres: " + msg + (sqlstate_.empty() ? "" : " [" + sqlstate_ + "]");
    if (broken_ || is_temporary_sqlstate(sqlstate_))
      return Error::temporary(text);
    return Error::permanent(text);
  }
  return last;
}

Pool::Pool(std::string dsn, std::string schema, int timeout_ms, int size)
    : dsn_(std::move(dsn)),
      schema_(std::move(schema)),
      timeout_ms_(timeout_ms),
      size_(std::max(1, size)) {}

Result<Lease> Pool::checkout() {
  {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline(), [&] { return !idle_.empty() || open_ < size_; }))
      return Error::temporary("postgres: connection pool exhausted (timeout)");
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_;
  }
  auto made = connect();
  if (!made.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    return made.error();
  }
  return Lease(this, std::move(made).value());
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  if (!c || c->broken())
    --open_;  // dropped (closed by the unique_ptr); the next checkout reconnects
  else
    idle_.push_back(std::move(c));
  cv_.notify_one();
}

Lease::~Lease() {
  if (pool_ && c_)
    pool_->give_back(std::move(c_));
}

Result<std::unique_ptr<Connection>> Pool::connect() {
  const auto until = deadline();
  PGconn* raw = PQconnectStart(dsn_.c_str());
  if (!raw)
    return Error::temporary(
        "postgres: cannot start a connection (out of memory, or libpq.so.5 "
        "could not be loaded)");
  auto conn = std::make_unique<Connection>(raw);
  if (PQstatus(raw) == CONNECTION_BAD)
    return Error::temporary("postgres: connect: " + trim(PQerrorMessage(raw)));
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED)
      return Error::temporary("postgres: connect: " + trim(PQerrorMessage(raw)));
    if (!wait_socket(PQsocket(raw), st == PGRES_POLLING_WRITING, until))
      return Error::temporary(fmt::format("postgres: connect timed out after {} ms", timeout_ms_));
    st = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0)
    return Error::temporary("postgres: cannot set non-blocking mode");
  char* ident = PQescapeIdentifier(raw, schema_.c_str(), schema_.size());
  if (!ident)
    return Error::config("postgres: bad schema name '" + schema_ + "'");
  std::string quoted = ident;
  PQfreemem(ident);
  auto set = conn->exec(fmt::format("SET search_path TO {}; SET statement_timeout = {}; "
                                    "SET lock_timeout = {}; SET client_encoding = 'UTF8'; "
                                    "SET client_min_messages = warning",
                                    quoted, timeout_ms_, timeout_ms_),
                        until);
  if (!set.ok())
    return set.error();
  return conn;
}

}  // namespace mailsift::fleet::pg
