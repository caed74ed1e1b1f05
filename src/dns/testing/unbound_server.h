// UnboundServer: a real DNS server for integration tests — `unbound -d` on 127.0.0.1, on a free
// private port, serving only the local-data lines a test gives it, from a temporary directory that
// the destructor removes after stopping the server.
//
//   mailsift::dns::testing::UnboundServer dns({
//       "example.test. 300 IN A 192.0.2.10",
//       "example.test. 300 IN TXT \"v=spf1 \" \"-all\"",
//       UnboundServer::ptr("192.0.2.10", "example.test"),
//   });
//   ASSERT_TRUE(dns.ok()) << dns.error();
//   options.servers = {dns.server()};  // "127.0.0.1:PORT"
//
// Zones: "test.", "in-addr.arpa." and "ip6.arpa." are `static` (names without local-data answer
// NXDOMAIN, names with data but not of the asked type NODATA) and "refused.test." is `refuse`
// (every query answers REFUSED). Extra local-zone lines ("bl.example. static") are added after
// these; a line for a zone name that is already listed replaces the default. Names outside every
// local zone get REFUSED too (no upstream is configured, access is loopback only).
//
// Failure semantics: the constructor never throws and never aborts; if unbound cannot be started
// (binary missing, no free port after several attempts) ok() is false and error() says why, with
// unbound's log. Tests should ASSERT_TRUE(server.ok()) << server.error(). The unbound binary is
// found as $MAILSIFT_UNBOUND, /usr/sbin/unbound, or `unbound` on PATH.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dns/resolver.h"

namespace mailsift::dns::testing {

class UnboundServer {
 public:
  explicit UnboundServer(std::vector<std::string> local_data,
                         std::vector<std::string> local_zones = {}) {
    zones_ = {"test. static", "in-addr.arpa. static", "ip6.arpa. static", "refused.test. refuse"};
    for (auto& z : local_zones) {
      auto name = z.substr(0, z.find(' '));
      std::erase_if(zones_, [&](const std::string& d) { return d.substr(0, d.find(' ')) == name; });
      zones_.push_back(std::move(z));
    }
    data_ = std::move(local_data);
    char tmpl[] = "/tmp/mailsift-unbound-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::mt19937 rng(std::random_device{}());
    for (int attempt = 0; attempt < 8 && !ok(); ++attempt) {
      uint16_t port = free_port(rng);
      if (port == 0)
        continue;
      start(port);
    }
  }

  ~UnboundServer() {
    stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  UnboundServer(const UnboundServer&) = delete;
  UnboundServer& operator=(const UnboundServer&) = delete;

  bool ok() const { return pid_ > 0 && port_ != 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& directory() const { return dir_; }

  // A local-data line for the PTR record of `ip` (IPv4 or IPv6) pointing at `name`.
  static std::string ptr(std::string_view ip, std::string_view name, int ttl = 300) {
    std::string rev = reverse_ip(ip);
    bool v6 = ip.find(':') != std::string_view::npos;
    return rev + (v6 ? ".ip6.arpa. " : ".in-addr.arpa. ") + std::to_string(ttl) + " IN PTR " +
           std::string(name) + ".";
  }

 private:
  // A port in the dynamic range that is free for both UDP and TCP right now. unbound binds it a
  // few milliseconds later; a lost race shows up as a failed start and the next attempt.
  static uint16_t free_port(std::mt19937& rng) {
    std::uniform_int_distribution<int> dist(20000, 59999);
    for (int i = 0; i < 50; ++i) {
      auto port = static_cast<uint16_t>(dist(rng));
      if (can_bind(SOCK_DGRAM, port) && can_bind(SOCK_STREAM, port))
        return port;
    }
    return 0;
  }
  static bool can_bind(int type, uint16_t port) {
    int fd = socket(AF_INET, type, 0);
    if (fd < 0)
      return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  }

  static std::string binary() {
    if (const char* env = std::getenv("MAILSIFT_UNBOUND"); env && *env)
      return env;
    if (access("/usr/sbin/unbound", X_OK) == 0)
      return "/usr/sbin/unbound";
    return "unbound";
  }

  static std::string quote(const std::string& s) {
    // unbound.conf values in single quotes may contain double quotes (TXT data) but not single
    // quotes; use double quotes when the line has a single quote and no double quote.
    if (s.find('\'') != std::string::npos && s.find('"') == std::string::npos)
      return "\"" + s + "\"";
    return "'" + s + "'";
  }

  void write_config(uint16_t port) {
    std::ofstream c(dir_ + "/unbound.conf");
    c << "server:\n"
      << "  interface: 127.0.0.1@" << port << "\n"
      << "  port: " << port << "\n"
      << "  do-ip6: no\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
      << "  directory: \"" << dir_ << "\"\n"
      << "  pidfile: \"" << dir_ << "/unbound.pid\"\n"
      << "  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  num-threads: 1\n"
      << "  msg-cache-size: 1m\n  rrset-cache-size: 1m\n  outgoing-range: 64\n"
      << "  access-control: 127.0.0.0/8 allow\n"
      << "  module-config: \"iterator\"\n";
    for (const auto& z : zones_) {
      auto sp = z.find(' ');
      c << "  local-zone: \"" << z.substr(0, sp) << "\" "
        << (sp == std::string::npos ? "static" : z.substr(sp + 1)) << "\n";
    }
    for (const auto& d : data_)
      c << "  local-data: " << quote(d) << "\n";
    c << "remote-control:\n  control-enable: no\n";
  }

  void start(uint16_t port) {
    write_config(port);
    std::string bin = binary(), conf = dir_ + "/unbound.conf", log = dir_ + "/unbound.log";
    // Everything the child needs is prepared before fork(): only async-signal-safe calls after.
    const char* argv[] = {bin.c_str(), "-d", "-c", conf.c_str(), nullptr};
    int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      error_ = "fork failed";
      if (logfd >= 0)
        close(logfd);
      return;
    }
    if (pid == 0) {
      // If the test process dies without running the destructor (crash, abort, timeout kill),
      // unbound must not outlive it on a shared machine. (Tied to the forking thread: construct
      // servers on a thread that lives as long as they do, e.g. the test's main thread.)
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent)
        _exit(0);  // the parent is already gone
      if (logfd >= 0) {
        dup2(logfd, 1);
        dup2(logfd, 2);
      }
      execvp(argv[0], const_cast<char* const*>(argv));
      _exit(127);
    }
    if (logfd >= 0)
      close(logfd);
    pid_ = pid;
    port_ = port;
    // Ready when it answers a query; gone if the process exited (port taken, bad config).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        port_ = 0;
        error_ = "unbound exited (status " + std::to_string(status) + "): " + read_log();
        return;
      }
      if (answers()) {
        error_.clear();
        return;
      }
    }
    stop();
    error_ = "unbound did not answer within 10 s: " + read_log();
  }

  // Sends "test. SOA" over UDP and waits up to 100 ms for any response.
  bool answers() const {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
      return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const unsigned char q[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0, 0, 0, 0, 0,
                               0,    4,    't',  'e',  's', 't', 0, 0, 6, 0, 1};
    bool got = false;
    if (sendto(fd, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
        static_cast<ssize_t>(sizeof q)) {
      pollfd p{fd, POLLIN, 0};
      unsigned char buf[512];
      if (poll(&p, 1, 100) == 1 && recv(fd, buf, sizeof buf, 0) >= 12)
        got = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    close(fd);
    return got;
  }

  std::string read_log() const {
    std::ifstream in(dir_ + "/unbound.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  void stop() {
    if (pid_ <= 0)
      return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // up to 2 s for a clean exit, then SIGKILL
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::vector<std::string> zones_, data_;
  std::string dir_, error_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace mailsift::dns::testing
