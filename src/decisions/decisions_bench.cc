// decisions_bench — how fast the SQLite decision log records and answers support queries.
// Usage: decisions_bench [DIR] [DECISIONS]   (default: a temp dir, 200000 decisions)
// Records 200 decisions through record() (one durable transaction each), then bulk-loads the
// rest over 30 days (5000 users in 50 domains, 1-3 recipients each) and times typical queries.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "decisions/decisions.h"

using namespace mailsift::decisions;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "";
  if (dir.empty()) {
    std::string t = (std::filesystem::temp_directory_path() / "mailsift-dbench-XXXXXX").string();
    if (!mkdtemp(t.data()))
      return 1;
    dir = t;
  }
  const int total = argc > 2 ? std::atoi(argv[2]) : 200000;
  const std::string path = dir + "/" + kDecisionsFileName;
  auto opened = open_sqlite_log(path);
  if (!opened) {
    fmt::print(stderr, "{}\n", opened.error().describe());
    return 1;
  }
  auto& log = **opened;
  const int64_t t0 = 1795792500000;  // 2026-11-27T15:15Z
  auto start = Clock::now();
  constexpr int kRecorded = 200;
  for (int i = 0; i < kRecorded; ++i) {
    Decision d;
    d.id = new_decision_id(t0 + i);
    d.time_unix_ms = t0 + i;
    d.mail_from = fmt::format("sender{}@ext.example", i % 97);
    for (int r = 0; r < 2; ++r) {
      RecipientDecision rd;
      rd.address = fmt::format("user{}@dom{}.example", (i + r) % 5000, (i + r) % 50);
      rd.user = rd.address;
      rd.domain = fmt::format("dom{}.example", (i + r) % 50);
      rd.action = "no action";
      rd.symbols = {{"BAYES_HAM", -3.5}, {"RCVD_IN_DNSWL", -1}, {"HTML_MESSAGE", 0.1}};
      d.recipients.push_back(rd);
    }
    if (auto s = log.record(d); !s) {
      fmt::print(stderr, "{}\n", s.error().describe());
      return 1;
    }
  }
  const double record_ms = ms_since(start) / kRecorded;

  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  start = Clock::now();
  const std::string bulk = fmt::format(
      "BEGIN;"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<{0}) "
      "INSERT INTO decisions(id, time_ms, node, direction, queue_id, message_id, client_ip, "
      "helo, mail_from, auth_user, subject, digest, elapsed_us, errors, sender_key, "
      "message_id_key, ip_key, direction_key) "
      "SELECT printf('bulk%08d', i), {1} - i * (2592000000 / {0}), 'n1', 'inbound', "
      "printf('Q%08X', i), printf('<%d@ext>', i), printf('192.0.2.%d', i % 250), 'h', "
      "printf('sender%d@ext.example', i % 997), '', 'subject', '', 1000, '[]', "
      "printf('sender%d@ext.example', i % 997), printf('%d@ext', i), printf('192.0.2.%d', i % "
      "250), "
      "'inbound' FROM n;"
      "INSERT INTO recipients SELECT seq, k.k, time_ms, "
      "printf('user%d@dom%d.example', (seq * 7 + k.k) % 5000, (seq * 7 + k.k) % 50), "
      "printf('user%d@dom%d.example', (seq * 7 + k.k) % 5000, (seq * 7 + k.k) % 50), "
      "printf('dom%d.example', (seq * 7 + k.k) % 50), 'r1', 1.5, "
      "CASE WHEN seq % 10 = 0 THEN 'reject' ELSE 'no action' END, '', 'data', 'default', "
      "'[[\"BAYES_HAM\",-3.5],[\"RCVD_IN_DNSWL\",-1.0],[\"HTML_MESSAGE\",0.1]]', "
      "printf('user%d@dom%d.example', (seq * 7 + k.k) % 5000, (seq * 7 + k.k) % 50), "
      "printf('user%d@dom%d.example', (seq * 7 + k.k) % 5000, (seq * 7 + k.k) % 50), "
      "printf('dom%d.example', (seq * 7 + k.k) % 50), "
      "CASE WHEN seq % 10 = 0 THEN 'reject' ELSE 'no action' END "
      "FROM decisions, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) k "
      "WHERE id LIKE 'bulk%' AND k.k <= seq % 3;"
      "COMMIT; ANALYZE;",
      total, t0);
  char* err = nullptr;
  if (sqlite3_exec(db, bulk.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    fmt::print(stderr, "bulk: {}\n", err);
    return 1;
  }
  sqlite3_close(db);
  fmt::print("bulk load {} decisions: {:.0f} ms; file {:.1f} MB\n", total, ms_since(start),
             std::filesystem::file_size(path) / 1e6);
  fmt::print("record(): {:.2f} ms per decision (durable, 2 recipients)\n", record_ms);

  const int64_t hour = 3600000, day = 24 * hour;
  struct Case {
    const char* name;
    Query q;
  };
  auto make = [&](auto set) {
    Query q;
    set(q);
    return q;
  };
  const Case cases[] = {
      {"range 1h, newest 100", make([&](Query& q) {
         q.since_unix_ms = t0 - 5 * day;
         q.until_unix_ms = t0 - 5 * day + hour;
       })},
      {"recipient, at +-30m", make([&](Query& q) {
         q.recipient = "user1234@dom34.example";
         q.since_unix_ms = t0 - 5 * day - hour / 2;
         q.until_unix_ms = t0 - 5 * day + hour / 2;
       })},
      {"recipient, 30 days", make([&](Query& q) { q.recipient = "user1234@dom34.example"; })},
      {"user + reject, 7 days", make([&](Query& q) {
         q.user = "user1234@dom34.example";
         q.action = "reject";
         q.since_unix_ms = t0 - 7 * day;
       })},
      {"sender, 1 day", make([&](Query& q) {
         q.sender = "sender5@ext.example";
         q.since_unix_ms = t0 - 6 * day;
         q.until_unix_ms = t0 - 5 * day;
       })},
      {"domain, 1h", make([&](Query& q) {
         q.domain = "dom7.example";
         q.since_unix_ms = t0 - 5 * day;
         q.until_unix_ms = t0 - 5 * day + hour;
       })},
      {"queue id", make([&](Query& q) { q.queue_id = "Q00001234"; })},
  };
  for (const Case& c : cases) {
    auto r = log.query(c.q);  // warm
    start = Clock::now();
    constexpr int kRuns = 5;
    size_t n = 0;
    for (int i = 0; i < kRuns; ++i) {
      r = log.query(c.q);
      n = r ? r->size() : 0;
    }
    fmt::print("query {:<24} {:>4} results  {:8.2f} ms\n", c.name, n, ms_since(start) / kRuns);
  }
  start = Clock::now();
  auto removed = log.expire(t0 - 15 * day);
  fmt::print("expire half: {} decisions in {:.0f} ms\n", removed ? *removed : 0, ms_since(start));
  if (argc <= 1)
    std::filesystem::remove_all(dir);
  return 0;
}
