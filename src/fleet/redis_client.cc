// The hiredis connection pool shared by the Redis backends: see redis_client.h.
#include "fleet/redis_client.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace mailsift::fleet::redis {

Result<Address> parse_address(const std::string& text) {
  Address a;
  std::string_view s = text;
  if (s.substr(0, 5) == "unix:") {
    a.unix_path = std::string(s.substr(5));
    if (a.unix_path.empty())
      return Error::config("redis address '" + text + "': empty socket path");
    return a;
  }
  if (s.substr(0, 8) == "redis://")
    s.remove_prefix(8);
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    std::string db(s.substr(slash + 1));
    s = s.substr(0, slash);
    if (!db.empty()) {
      char* end = nullptr;
      long v = std::strtol(db.c_str(), &end, 10);
      if (*end || v < 0)
        return Error::config("redis address '" + text + "': bad database number");
      a.db = static_cast<int>(v);
    }
  }
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return Error::config("redis address '" + text + "': expected HOST:PORT");
  a.host = std::string(s.substr(0, colon));
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  std::string port(s.substr(colon + 1));
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p <= 0 || p > 65535)
    return Error::config("redis address '" + text + "': bad port");
  a.port = static_cast<int>(p);
  return a;
}

// ---- connection pool (internal to this file; no anonymous namespace because Client::Pool
// holds these types) ----------------------------------------------------------------------

struct CtxDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Ctx = std::unique_ptr<redisContext, CtxDeleter>;

using Pool = Client::Pool;

// A checked-out connection; returned to the pool on destruction (dropped if broken).
class Conn {
 public:
  Conn(Pool* pool, Ctx ctx) : pool_(pool), ctx_(std::move(ctx)) {}
  Conn(Conn&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), ctx_(std::move(o.ctx_)), broken_(o.broken_) {}
  Conn& operator=(Conn&&) = delete;
  ~Conn();
  redisContext* get() const { return ctx_.get(); }
  void mark_broken() { broken_ = true; }

 private:
  Pool* pool_;
  Ctx ctx_;
  bool broken_ = false;
};

class Client::Pool {
 public:
  Pool(Address address, int timeout_ms, int size)
      : address_(std::move(address)), timeout_ms_(timeout_ms), size_(std::max(1, size)) {}

  Result<Conn> checkout() {
    Ctx ctx;
    {
      std::unique_lock lock(mu_);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
      if (!cv_.wait_until(lock, deadline, [&] { return !idle_.empty() || open_ < size_; }))
        return Error::temporary("redis: connection pool exhausted (timeout)");
      if (!idle_.empty()) {
        ctx = std::move(idle_.back());
        idle_.pop_back();
        return Conn(this, std::move(ctx));
      }
      ++open_;  // reserve a slot; connect outside the lock
    }
    auto made = connect();
    if (!made.ok()) {
      std::lock_guard lock(mu_);
      --open_;
      cv_.notify_one();
      return made.error();
    }
    return Conn(this, std::move(made).value());
  }

  void give_back(Ctx ctx, bool broken) {
    std::lock_guard lock(mu_);
    if (broken || !ctx || ctx->err)
      --open_;  // dropped: the next checkout reconnects
    else
      idle_.push_back(std::move(ctx));
    cv_.notify_one();
  }

  int timeout_ms() const { return timeout_ms_; }

 private:
  Result<Ctx> connect() {
    timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
    Ctx c(address_.unix_path.empty()
              ? redisConnectWithTimeout(address_.host.c_str(), address_.port, tv)
              : redisConnectUnixWithTimeout(address_.unix_path.c_str(), tv));
    if (!c)
      return Error::temporary("redis: cannot allocate a connection");
    if (c->err)
      return Error::temporary(fmt::format("redis: connect {}: {}", describe(), c->errstr));
    if (redisSetTimeout(c.get(), tv) != REDIS_OK)
      return Error::temporary("redis: cannot set the command timeout");
    redisEnableKeepAlive(c.get());
    if (address_.db != 0) {
      Reply r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", address_.db)));
      if (!r || r->type == REDIS_REPLY_ERROR)
        return Error::temporary(fmt::format("redis: SELECT {} failed", address_.db));
    }
    return c;
  }
  std::string describe() const {
    return address_.unix_path.empty() ? fmt::format("{}:{}", address_.host, address_.port)
                                      : address_.unix_path;
  }

  Address address_;
  int timeout_ms_;
  int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Ctx> idle_;
  int open_ = 0;  // connections idle + checked out + being made
};

Conn::~Conn() {
  if (pool_)
    pool_->give_back(std::move(ctx_), broken_);
}

Client::Client(Address address, int timeout_ms, int pool_size)
    : pool_(std::make_unique<Pool>(std::move(address), timeout_ms, pool_size)),
      sha_mu_(std::make_unique<std::mutex>()) {}

Client::~Client() = default;

// Runs a script for each argument list (numkeys first, then keys and args) in one pipeline.
// EVALSHA first; if the server lost its script cache (restart, failover), the NOSCRIPT
// replies are re-run with EVAL (safe: a NOSCRIPT command did nothing).
Result<std::vector<Reply>> Client::eval(std::string& sha_slot, const char* script,
                                        const std::vector<Command>& args) {
  std::string sha;
  {
    std::lock_guard lock(*sha_mu_);
    sha = sha_slot;
  }
  if (sha.empty()) {
    auto loaded = run({{"SCRIPT", "LOAD", script}});
    if (!loaded.ok())
      return loaded.error();
    const redisReply* r = (*loaded)[0].get();
    if (r->type != REDIS_REPLY_STRING)
      return Error::temporary("redis: SCRIPT LOAD failed");
    sha.assign(r->str, r->len);
    std::lock_guard lock(*sha_mu_);
    sha_slot = sha;
  }
  std::vector<Command> cmds;
  for (const Command& a : args) {
    Command c{"EVALSHA", sha};
    c.insert(c.end(), a.begin(), a.end());
    cmds.push_back(std::move(c));
  }
  auto replies = run(cmds);
  if (!replies.ok())
    return replies;
  std::vector<size_t> retry;
  for (size_t i = 0; i < replies->size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT"))
      retry.push_back(i);
  }
  if (retry.empty())
    return replies;
  std::vector<Command> again;
  for (size_t i : retry) {
    Command c{"EVAL", script};
    c.insert(c.end(), args[i].begin(), args[i].end());
    again.push_back(std::move(c));
  }
  auto second = run(again);
  if (!second.ok())
    return second.error();
  for (size_t j = 0; j < retry.size(); ++j)
    (*replies)[retry[j]] = std::move((*second)[j]);
  {
    std::lock_guard lock(*sha_mu_);
    sha_slot.clear();  // reload next time
  }
  return replies;
}

// Sends every command, then reads every reply: one round trip. Any I/O error or timeout drops
// the connection and is kTemporary; server error replies are returned to the caller, except
// the ones that mean "not usable now" (LOADING, READONLY, MASTERDOWN, BUSY) → kTemporary.
Result<std::vector<Reply>> Client::run(const std::vector<Command>& cmds) {
  auto conn = pool_->checkout();
  if (!conn.ok())
    return conn.error();
  redisContext* c = conn->get();
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const Command& cmd : cmds) {
    argv.clear();
    lens.clear();
    for (const std::string& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      conn->mark_broken();
      return Error::temporary(std::string("redis: ") + c->errstr);
    }
  }
  std::vector<Reply> out;
  out.reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || !raw) {
      conn->mark_broken();
      return Error::temporary(std::string("redis: ") + (c->err ? c->errstr : "no reply") +
                              (c->err == REDIS_ERR_IO && errno == EAGAIN ? " (timeout)" : ""));
    }
    out.emplace_back(static_cast<redisReply*>(raw));
  }
  for (const Reply& r : out) {
    if (r->type != REDIS_REPLY_ERROR)
      continue;
    std::string_view e(r->str, r->len);
    for (std::string_view busy :
         {"LOADING", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK"}) {
      if (e.starts_with(busy))
        return Error::temporary("redis: " + std::string(e));
    }
  }
  return out;
}

}  // namespace mailsift::fleet::redis
