// Test servers: see servers.h.
#include "fleet/testing/servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mailsift::fleet::testing {
namespace {

namespace fs = std::filesystem;

std::string make_temp_dir(const char* tag) {
  std::string t =
      (fs::temp_directory_path() / (std::string("mailsift-") + tag + "-XXXXXX")).string();
  return mkdtemp(t.data()) ? t : std::string();
}

// First existing executable among candidates; "" if none.
std::string find_binary(const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    if (c.empty())
      continue;
    if (c.find('/') != std::string::npos) {
      if (access(c.c_str(), X_OK) == 0)
        return c;
      continue;
    }
    const char* path = std::getenv("PATH");
    std::stringstream ss(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      std::string p = dir + "/" + c;
      if (access(p.c_str(), X_OK) == 0)
        return p;
    }
  }
  return "";
}

std::string redis_binary() {
  const char* env = std::getenv("MAILSIFT_REDIS_SERVER");
  return find_binary({env ? env : "", "redis-server", "/usr/bin/redis-server"});
}

// PostgreSQL's bin dir: $MAILSIFT_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin.
std::string pg_bindir() {
  if (const char* env = std::getenv("MAILSIFT_PG_BINDIR"))
    return env;
  glob_t g{};
  std::string best;
  if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, nullptr, &g) == 0) {
    std::vector<std::string> found(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;  // "9" < "15"
    });
    best = fs::path(found.back()).parent_path().string();
  }
  globfree(&g);
  if (best.empty()) {
    std::string p = find_binary({"pg_ctl"});
    if (!p.empty())
      best = fs::path(p).parent_path().string();
  }
  return best;
}

// fork + exec; returns the child's pid (or -1). stdout/stderr go to log_path when given.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  if (!log_path.empty()) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
  }
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0)
    dup2(devnull, 0);
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string reply_text(const redisReply* r) {
  if (!r)
    return "";
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < r->elements; ++i)
        out += (i ? "\n" : "") + reply_text(r->element[i]);
      return out;
    }
    default:
      return "";
  }
}

}  // namespace

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// ---- Redis --------------------------------------------------------------------------------

RedisServer::RedisServer() = default;

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    resume();
    stop();
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool RedisServer::available(std::string* reason) {
  if (!redis_binary().empty())
    return true;
  if (reason)
    *reason = "redis-server not found (install redis-server or set MAILSIFT_REDIS_SERVER)";
  return false;
}

bool RedisServer::start(int replica_of_port) {
  std::string bin = redis_binary();
  if (bin.empty()) {
    reason_ = "redis-server not found";
    return false;
  }
  if (dir_.empty())
    dir_ = make_temp_dir("redis");
  if (port_ == 0)
    port_ = free_port();
  replica_of_ = replica_of_port;
  std::vector<std::string> argv{bin,
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--dir",
                                dir_,
                                "--daemonize",
                                "no",
                                "--protected-mode",
                                "no"};
  if (replica_of_ > 0) {
    argv.insert(argv.end(), {"--replicaof", "127.0.0.1", std::to_string(replica_of_)});
  }
  pid_ = spawn(argv, dir_ + "/redis.log");
  if (pid_ <= 0) {
    reason_ = "fork failed";
    return false;
  }
  if (!wait_ready(10000)) {
    reason_ = "redis-server did not answer PING: " + slurp(dir_ + "/redis.log");
    kill();
    return false;
  }
  return true;
}

bool RedisServer::wait_ready(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (command("PING") == "PONG")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void RedisServer::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGTERM);
  wait_exit(pid_);
  pid_ = -1;
}

void RedisServer::kill() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  wait_exit(pid_);
  pid_ = -1;
}

void RedisServer::pause() {
  if (pid_ > 0)
    ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0)
    ::kill(pid_, SIGCONT);
}

bool RedisServer::restart() {
  if (pid_ > 0)
    stop();
  return start(replica_of_);
}

std::string RedisServer::address() const {
  return "redis://127.0.0.1:" + std::to_string(port_);
}

std::string RedisServer::command(const std::string& words) const {
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (!c || c->err) {
    if (c)
      redisFree(c);
    return "";
  }
  redisSetTimeout(c, tv);
  std::vector<std::string> parts;
  std::stringstream ss(words);
  std::string w;
  while (ss >> w)
    parts.push_back(w);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& p : parts) {
    argv.push_back(p.c_str());
    lens.push_back(p.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out = reply_text(r);
  if (r)
    freeReplyObject(r);
  redisFree(c);
  return out;
}

// ---- PostgreSQL ---------------------------------------------------------------------------

PostgresServer::PostgresServer() = default;

PostgresServer::~PostgresServer() {
  if (running_) {
    resume();
    stop();
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool PostgresServer::available(std::string* reason) {
  std::string dir = pg_bindir();
  if (!dir.empty() && access((dir + "/initdb").c_str(), X_OK) == 0 &&
      access((dir + "/pg_ctl").c_str(), X_OK) == 0)
    return true;
  if (reason)
    *reason =
        "PostgreSQL server binaries (initdb, pg_ctl) not found (install postgresql or set "
        "MAILSIFT_PG_BINDIR)";
  return false;
}

// As root, commands run as `postgres` through runuser (PostgreSQL refuses to run as root).
bool PostgresServer::run_as_owner(const std::vector<std::string>& argv, std::string* output) {
  std::vector<std::string> full;
  if (geteuid() == 0) {
    std::string runuser = find_binary({"runuser", "/usr/sbin/runuser", "/sbin/runuser"});
    if (runuser.empty()) {
      reason_ = "running as root and runuser is missing";
      return false;
    }
    full = {runuser, "-u", "postgres", "--"};
  }
  full.insert(full.end(), argv.begin(), argv.end());
  std::string log = dir_ + "/cmd.log";
  std::error_code ec;
  fs::remove(log, ec);
  pid_t pid = spawn(full, log);
  int rc = pid > 0 ? wait_exit(pid) : 127;
  if (output)
    *output = slurp(log);
  if (rc != 0) {
    reason_ = argv[0] + " exited " + std::to_string(rc) + ": " + slurp(log);
    return false;
  }
  return true;
}

bool PostgresServer::start() {
  std::string bin = pg_bindir();
  if (bin.empty()) {
    reason_ = "PostgreSQL binaries not found";
    return false;
  }
  if (dir_.empty()) {
    dir_ = make_temp_dir("pg");
    if (dir_.empty()) {
      reason_ = "mkdtemp failed";
      return false;
    }
    if (geteuid() == 0) {
      passwd* pw = getpwnam("postgres");
      if (!pw) {
        reason_ = "running as root and there is no postgres user";
        return false;
      }
      if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        reason_ = "chown of the data dir failed";
        return false;
      }
    }
  }
  if (port_ == 0)
    port_ = free_port();
  if (!initialized_) {
    if (!run_as_owner({bin + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "-E",
                       "UTF8", "--locale=C", "--no-sync"}))
      return false;
    initialized_ = true;
  }
  // Test settings: no fsync (speed; the data dir is thrown away), only TCP on 127.0.0.1.
  std::string opts = "-p " + std::to_string(port_) + " -k " + dir_ +
                     " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                     " -c full_page_writes=off -c max_connections=50";
  if (!run_as_owner({bin + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-o", opts,
                     "-w", "-t", "60", "start"}))
    return false;
  running_ = true;
  return true;
}

void PostgresServer::stop() {
  if (!running_)
    return;
  run_as_owner({pg_bindir() + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"});
  running_ = false;
}

pid_t PostgresServer::postmaster_pid() const {
  std::ifstream f(dir_ + "/data/postmaster.pid");
  pid_t pid = -1;
  f >> pid;
  return f ? pid : -1;
}

// The postmaster and its children (from /proc: parent == postmaster).
std::vector<pid_t> PostgresServer::server_pids() const {
  std::vector<pid_t> out;
  pid_t pm = postmaster_pid();
  if (pm <= 0)
    return out;
  out.push_back(pm);
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
      continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos)
      continue;
    std::stringstream ss(line.substr(close_paren + 2));
    char state;
    pid_t ppid = 0;
    ss >> state >> ppid;
    if (ppid == pm)
      out.push_back(std::stoi(name));
  }
  return out;
}

void PostgresServer::kill() {
  if (!running_)
    return;
  auto pids = server_pids();
  for (pid_t p : pids)
    ::kill(p, SIGKILL);
  // Wait until the postmaster is gone (it is not our child: poll).
  for (int i = 0; i < 500 && !pids.empty() && ::kill(pids[0], 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::error_code ec;
  fs::remove(dir_ + "/data/postmaster.pid", ec);
  running_ = false;
}

void PostgresServer::pause() {
  for (pid_t p : server_pids())
    ::kill(p, SIGSTOP);
}

void PostgresServer::resume() {
  for (pid_t p : server_pids())
    ::kill(p, SIGCONT);
}

bool PostgresServer::restart() {
  if (running_)
    stop();
  return start();
}

std::string PostgresServer::dsn() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
}

std::string PostgresServer::query_value(const std::string& sql) const {
  PGconn* c = PQconnectdb(dsn().c_str());
  std::string out;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
      out = PQgetvalue(r, 0, 0);
    else if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
      out = std::string("ERROR ") + PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

}  // namespace mailsift::fleet::testing
