// bench/outbound: replays a synthetic day of outbound traffic through the Postfix policy
// service (PolicyService::handle, i.e. Guard + decision log, exactly what the listener calls per
// request) and the content path's Guard::report_scanned, on the real SQLite stores, with the
// simulated time as the clock.
//
// Population (deterministic, --seed): --users users in domains of 20; 70% light senders (2-15
// messages a day), 25% medium (15-60), 5% heavy (60-150), sent in working hours; 1-4 recipients
// (5% of messages 10-30) mostly from the user's 40 contacts; every user has a home /24, 20% also
// a mobile one. Honest content scores 0-3 with a digest per message (5% of heavy users' mails
// are one newsletter digest). --compromised users are taken over at a random time after their
// first honest message: the attacker logs in from a never-seen network and sends one message of
// 8-15 new recipients every 5-20 s with one phishing digest scoring 12, until refused.
//
// Prints: decisions (RCPT requests answered), CPU seconds (user+sys of the whole process,
// background commit threads included), decisions per CPU-second, wall time, per compromised
// account the detection delay (attack messages with an accepted recipient before the hold),
// and false holds (honest users whose status is not active at the end).
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "decisions/decisions.h"
#include "outbound/guard.h"
#include "outbound/policy_server.h"
#include "outbound/store.h"

using namespace mailsift;
using namespace mailsift::outbound;

namespace {

constexpr int64_t kDayStart = 1'764'288'000'000;  // 2025-11-28T00:00:00Z
constexpr int64_t kSec = 1000, kMin = 60 * kSec, kHour = 60 * kMin;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

struct Msg {
  int64_t at;
  int user;
  bool attack;
  std::vector<std::string> rcpts;
  std::string ip;
  double score;
  std::string digest;
};

struct Opts {
  int users = 10000;
  int compromised = 10;
  uint32_t seed = 42;
  std::string dir = "/tmp/mailsift-outbound-bench";
  int flush_ms = -1;  // -1: config default (outbound.store.flush_ms)
  std::string log = "sqlite";
  std::vector<std::pair<std::string, std::string>> sets;  // --set KEY=VALUE (config)
};

// CPU seconds of each live thread of this process (/proc/self/task), oldest first, with its
// name: shows which of the replay thread, the outbound store's flusher and the decision log's
// writer the CPU went to.
std::string per_thread_cpu() {
  std::vector<std::pair<long, std::string>> rows;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(e.path() / "stat");
    std::string line;
    std::getline(f, line);
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos)
      continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14)
        utime = std::stol(field);
      if (i == 15)
        stime = std::stol(field);
    }
    rows.emplace_back(
        std::stol(e.path().filename().string()),
        fmt::format("{} {:.2f}", line.substr(open + 1, close - open - 1), (utime + stime) / tick));
  }
  std::sort(rows.begin(), rows.end());
  std::string out;
  for (const auto& [tid, text] : rows)
    out += (out.empty() ? "" : ", ") + text;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--users")
      o.users = std::stoi(next());
    else if (a == "--compromised")
      o.compromised = std::stoi(next());
    else if (a == "--seed")
      o.seed = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--dir")
      o.dir = next();
    else if (a == "--flush-ms")
      o.flush_ms = std::stoi(next());
    else if (a == "--log")
      o.log = next();
    else if (a == "--set" && i + 1 < argc && std::strchr(argv[i + 1], '=')) {
      const std::string kv = next();
      o.sets.emplace_back(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
    } else {
      fmt::print(stderr,
                 "usage: outbound_sim [--users N] [--compromised K] [--seed S] [--dir D] "
                 "[--flush-ms MS] [--log sqlite|memory] [--set KEY=VALUE]...\n");
      return 2;
    }
  }
  std::mt19937_64 rng(o.seed);
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };

  // ---- population and honest traffic
  std::vector<Msg> msgs;
  std::vector<std::string> login(o.users);
  std::vector<int64_t> first_msg(o.users, INT64_MAX);
  for (int u = 0; u < o.users; ++u) {
    login[u] = fmt::format("user{}@d{}.example", u, u / 20);
    const double kind = std::uniform_real_distribution<double>(0, 1)(rng);
    const int64_t n = kind < 0.70 ? uni(2, 15) : kind < 0.95 ? uni(15, 60) : uni(60, 150);
    const bool heavy = n >= 60;
    const std::string home = fmt::format("10.{}.{}.{}", (u >> 8) & 255, u & 255, uni(1, 254));
    const bool mobile = chance(0.2);
    const std::string mob = fmt::format("100.{}.{}.{}", (u >> 8) & 255, u & 255, uni(1, 254));
    const std::string newsletter = fmt::format("news-{}", u);
    for (int64_t m = 0; m < n; ++m) {
      Msg x;
      x.user = u;
      x.attack = false;
      x.at = kDayStart + uni(8 * kHour, 18 * kHour);
      x.ip = mobile && chance(0.3) ? mob : home;
      const int64_t nr = chance(0.05) ? uni(10, 30) : uni(1, 4);
      for (int64_t r = 0; r < nr; ++r)
        x.rcpts.push_back(
            chance(0.8) ? fmt::format("c{}-{}@contacts{}.example", u, uni(0, 39), uni(0, 9))
                        : fmt::format("n{}@elsewhere{}.example", uni(0, 1 << 30), uni(0, 999)));
      x.score = std::uniform_real_distribution<double>(0, 3)(rng);
      x.digest = heavy && chance(0.05) ? newsletter : fmt::format("m-{}-{}", u, m);
      first_msg[u] = std::min(first_msg[u], x.at);
      msgs.push_back(std::move(x));
    }
  }
  // ---- compromised accounts: attack traffic is generated lazily (it stops at the hold)
  std::vector<int> victims;
  std::vector<int64_t> attack_start;
  while (static_cast<int>(victims.size()) < std::min(o.compromised, o.users)) {
    int u = static_cast<int>(uni(0, o.users - 1));
    if (std::find(victims.begin(), victims.end(), u) != victims.end())
      continue;
    victims.push_back(u);
    attack_start.push_back(std::max(first_msg[u] + kMin, kDayStart + uni(10 * kHour, 20 * kHour)));
  }
  for (size_t v = 0; v < victims.size(); ++v) {
    int64_t t = attack_start[v];
    for (int m = 0; m < 400; ++m) {  // more than enough: stops counting once refused
      Msg x;
      x.user = victims[v];
      x.attack = true;
      x.at = t;
      x.ip = fmt::format("203.0.{}.{}", v, uni(1, 254));
      for (int64_t r = 0, nr = uni(8, 15); r < nr; ++r)
        x.rcpts.push_back(fmt::format("victim{}@target{}.example", uni(0, 1 << 30), uni(0, 99)));
      x.score = 12;
      x.digest = fmt::format("phish-{}", v);
      msgs.push_back(std::move(x));
      t += uni(5, 20) * kSec;
    }
  }
  std::stable_sort(msgs.begin(), msgs.end(),
                   [](const Msg& a, const Msg& b) { return a.at < b.at; });

  // ---- stores, guard, policy service (as mailsiftd builds them)
  std::filesystem::remove_all(o.dir);
  std::filesystem::create_directories(o.dir);
  Config config;
  for (const auto& [k, v] : o.sets) {
    if (auto st = config.set(k, v); !st) {
      fmt::print(stderr, "--set {}={}: {}\n", k, v, st.error().describe());
      return 2;
    }
  }
  if (o.flush_ms >= 0)
    (void)config.set("outbound.store.flush_ms", std::to_string(o.flush_ms));
  auto gc = GuardConfig::from_config(config);
  auto store = open_sqlite_store((std::filesystem::path(o.dir) / kOutboundFileName).string(), 5000,
                                 static_cast<int>(config.get_int("outbound.store.flush_ms")));
  if (!store) {
    fmt::print(stderr, "outbound store: {}\n", store.error().describe());
    return 3;
  }
  std::unique_ptr<decisions::DecisionLog> log;
  if (o.log == "memory") {
    log = decisions::make_memory_log();
  } else {
    auto l = decisions::open_sqlite_log((std::filesystem::path(o.dir) / "decisions.db").string());
    if (!l) {
      fmt::print(stderr, "decision log: {}\n", l.error().describe());
      return 3;
    }
    decisions::GroupCommitOptions g;
    g.flush_ms = static_cast<int>(config.get_int("decisions.flush_ms"));
    g.batch_max = static_cast<size_t>(config.get_int("decisions.batch_max"));
    g.queue_max = static_cast<size_t>(config.get_int("decisions.queue_max"));
    log = decisions::make_group_commit_log(std::move(l).value(), g);
  }
  int64_t now = kDayStart;
  Guard guard(**store, *gc, [&] { return now; });
  PolicyService service(guard, *log, PolicyServiceOptions{"bench", {}}, [&] { return now; });

  // ---- replay
  std::vector<int> delay(victims.size(), 0);
  std::vector<bool> held(victims.size(), false);
  std::vector<int64_t> held_at(victims.size(), 0);
  uint64_t decisions = 0, refused = 0, messages = 0, errors = 0;
  const double cpu0 = cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  uint64_t seq = 0;
  for (const Msg& m : msgs) {
    size_t vi = 0;
    if (m.attack) {
      vi = std::find(victims.begin(), victims.end(), m.user) - victims.begin();
      if (held[vi])
        continue;  // the attacker got a 5.7.1 and this account sends nothing more
    }
    now = m.at;
    ++messages;
    const std::string instance = fmt::format("{:x}", ++seq);
    size_t accepted = 0;
    bool hold_seen = false;
    for (const auto& r : m.rcpts) {
      PolicyRequest req;
      req.attrs = {{"request", "smtpd_access_policy"},
                   {"protocol_state", "RCPT"},
                   {"sasl_username", login[m.user]},
                   {"sender", login[m.user]},
                   {"recipient", r},
                   {"client_address", m.ip},
                   {"instance", instance}};
      const std::string action = service.handle(req);
      ++decisions;
      if (action == "DUNNO") {
        ++accepted;
      } else {
        ++refused;
        if (action.rfind("451 4.3.0", 0) == 0)
          ++errors;
        if (action.find("Sending disabled") != std::string::npos)
          hold_seen = true;
        break;  // the client gives up on this message's remaining recipients
      }
    }
    if (accepted > 0) {
      if (auto st = guard.report_scanned(Identity::from(login[m.user]), m.score, m.digest,
                                         static_cast<int64_t>(accepted));
          !st)
        ++errors;
    }
    if (m.attack) {
      if (accepted > 0)
        ++delay[vi];
      auto st = guard.effective_status(Identity::from(login[m.user]));
      if (hold_seen || (st && st->level != Level::kActive)) {
        held[vi] = true;
        held_at[vi] = now;
      }
    }
  }
  (void)log->flush();
  const double cpu = cpu_seconds() - cpu0;
  const std::string threads = per_thread_cpu();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  int false_holds = 0;
  for (int u = 0; u < o.users; ++u) {
    if (std::find(victims.begin(), victims.end(), u) != victims.end())
      continue;
    auto st = guard.effective_status(Identity::from(login[u]));
    if (!st || st->level != Level::kActive)
      ++false_holds;
  }
  int worst = 0, not_held = 0;
  std::string per;
  for (size_t v = 0; v < victims.size(); ++v) {
    per += fmt::format(" {}{}", delay[v], held[v] ? "" : "(not held)");
    worst = std::max(worst, delay[v]);
    not_held += held[v] ? 0 : 1;
  }
  fmt::print("users {} compromised {} messages {} decisions {} refused {} errors {}\n", o.users,
             victims.size(), messages, decisions, refused, errors);
  fmt::print("detection delay (attack messages sent before the hold):{}; worst {}; not held {}\n",
             per, worst, not_held);
  fmt::print("false holds among honest users: {}\n", false_holds);
  fmt::print(
      "cpu {:.2f} s, wall {:.2f} s: {:.0f} policy decisions per CPU-second ({:.0f}/s wall)\n", cpu,
      wall, decisions / cpu, decisions / wall);
  fmt::print("cpu seconds per thread (whole run, setup included): {}\n", threads);
  return (not_held == 0 && false_holds == 0 && errors == 0) ? 0 : 1;
}
