// mailsift::fleet::testing — real Redis / PostgreSQL servers for tests.
//
// Owns: starting a private server on 127.0.0.1 and a free port with a temporary data directory,
// waiting until it answers, and stopping it (destructor). Never touches the system services.
// Fault helpers: kill (SIGKILL), pause/resume (SIGSTOP/SIGCONT: a server that hangs), restart
// on the same port and data.
//
// PostgreSQL refuses to run as root: when the test runs as root the server runs as the
// `postgres` user (runuser), and its data directory is owned by that user.
//
// Failure semantics: start() returns false with reason() set; available() is false (and
// reason() says why) when the server binaries are missing, so tests can GTEST_SKIP.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace mailsift::fleet::testing {

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
int free_port();

class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  static bool available(std::string* reason = nullptr);
  // replica_of_port > 0: starts as a replica of 127.0.0.1:replica_of_port.
  bool start(int replica_of_port = 0);
  void stop();     // SIGTERM and wait
  void kill();     // SIGKILL and wait (data dir kept)
  void pause();    // SIGSTOP: the server accepts nothing and answers nothing
  void resume();   // SIGCONT
  bool restart();  // start again on the same port
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  std::string address() const;  // "redis://127.0.0.1:PORT"
  const std::string& reason() const { return reason_; }
  // Runs one command (space-separated words) with hiredis; returns the reply as text ("" on
  // failure). For test set-up and inspection.
  std::string command(const std::string& words) const;

 private:
  bool wait_ready(int timeout_ms);
  std::string dir_;
  int port_ = 0;
  int replica_of_ = 0;
  pid_t pid_ = -1;
  std::string reason_;
};

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  static bool available(std::string* reason = nullptr);
  bool start();  // initdb (first time) + pg_ctl start -w
  void stop();   // pg_ctl stop -m fast
  void kill();   // SIGKILL the postmaster (children exit), like a crash
  void pause();  // SIGSTOP every server process
  void resume();
  bool restart();  // pg_ctl start on the same port and data
  bool running() const { return running_; }

  int port() const { return port_; }
  // "host=127.0.0.1 port=PORT user=postgres dbname=postgres"
  std::string dsn() const;
  // Tests' direct SQL: the first column of the first row ("" when none), or "ERROR <message>".
  std::string query_value(const std::string& sql) const;
  const std::string& reason() const { return reason_; }

 private:
  pid_t postmaster_pid() const;
  std::vector<pid_t> server_pids() const;
  bool run_as_owner(const std::vector<std::string>& argv, std::string* output = nullptr);
  std::string dir_;
  int port_ = 0;
  bool initialized_ = false;
  bool running_ = false;
  std::string reason_;
};

// Fault tests' stopwatch: whether a call succeeded, its error kind (kPermanent when it did), and
// how long it took — every call against a killed or hung server must end within its bound.
struct Timed {
  bool ok;
  ErrorKind kind;
  int64_t ms;
};
template <typename F>
Timed timed(F f) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = f();
  int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  return {r.ok(), r.ok() ? ErrorKind::kPermanent : r.error().kind, ms};
}

}  // namespace mailsift::fleet::testing
