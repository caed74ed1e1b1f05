// What the PostgreSQL decision log's record_batch costs: decisions/s, and CPU per decision on the
// PostgreSQL server and in this client, for each way of writing a batch (PostgresOptions::
// BatchWrite). Run by bench/pg_log_bench.sh, which starts a private PostgreSQL; by hand:
//
//   pg_log_bench --dsn DSN --postmaster PID [--mode arrays|per_decision]
//                [--decisions N] [--batch B] [--schema S] [--no-analyze]
//
// One thread writes N decisions (1–3 recipients, field sizes like real mail) in batches of B
// through record_batch, as the group-commit writer does. Server CPU = utime + stime of the
// postmaster and its children from /proc (plus cutime + cstime of the postmaster, so backends
// that exit count too), sampled before and after; client CPU = getrusage(RUSAGE_SELF). The
// partition and the connection are made by a warm-up batch outside the measurement, then the
// tables are ANALYZEd (steady state; --no-analyze: a partition autovacuum has not analyzed yet).
#include <sys/resource.h>
#include <unistd.h>

#include <dirent.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "decisions/decisions.h"
#include "fleet/fleet.h"

namespace {

using mailsift::decisions::Decision;
using mailsift::decisions::RecipientDecision;
using mailsift::fleet::PostgresOptions;

// utime, stime, cutime, cstime of /proc/PID/stat and its parent pid; false when gone.
bool read_stat(const std::string& pid, long* ppid, double* own, double* children) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return false;
  const auto close = line.rfind(')');
  if (close == std::string::npos)
    return false;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string w; rest >> w;)
    f.push_back(w);
  // Fields after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  if (f.size() < 15)
    return false;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  *ppid = std::atol(f[1].c_str());
  *own = (std::atof(f[11].c_str()) + std::atof(f[12].c_str())) / tick;
  *children = (std::atof(f[13].c_str()) + std::atof(f[14].c_str())) / tick;
  return true;
}

// CPU seconds of the PostgreSQL server so far: the postmaster with its reaped children, and every
// live child (backends, WAL writer, checkpointer, ...).
double server_cpu(long postmaster) {
  double total = 0;
  long ppid;
  double own, children;
  if (read_stat(std::to_string(postmaster), &ppid, &own, &children))
    total += own + children;
  DIR* dir = opendir("/proc");
  if (!dir)
    return total;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    if (read_stat(e->d_name, &ppid, &own, &children) && ppid == postmaster)
      total += own;
  }
  closedir(dir);
  return total;
}

double client_cpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// A decision shaped like the scan path's: ULID-like id, real-looking headers, 1–3 recipients
// with a handful of symbols each.
Decision make_decision(std::mt19937_64& rng, int64_t i, int64_t t) {
  auto hex = [&](size_t n) {
    std::string s;
    for (size_t k = 0; k < n; ++k)
      s += "0123456789abcdef"[rng() % 16];
    return s;
  };
  Decision d;
  d.id = fmt::format("01JD{:08X}{}", i, hex(14));
  d.time_unix_ms = t;
  d.node = "mx-node-03";
  d.direction = rng() % 10 ? "inbound" : "outbound";
  d.queue_id = "4Y" + hex(9);
  d.message_id = fmt::format("<{}.{}@mail.sender{}.example.com>", hex(16), i, rng() % 500);
  d.client_ip = fmt::format("198.51.{}.{}", rng() % 256, rng() % 256);
  d.helo = fmt::format("mail{}.sender{}.example.com", rng() % 9, rng() % 500);
  d.mail_from = fmt::format("newsletter+{}@sender{}.example.com", hex(6), rng() % 500);
  d.subject = fmt::format("Your weekly digest #{}: offers, updates and news from our team", i);
  d.digest = hex(64);
  d.elapsed_us = 800 + static_cast<int64_t>(rng() % 4000);
  if (rng() % 20 == 0)
    d.errors = {"dnsbl: zen.example: timeout"};
  const int recipients = 1 + static_cast<int>(rng() % 3);
  for (int r = 0; r < recipients; ++r) {
    RecipientDecision x;
    const auto user = rng() % 100000;
    x.address = fmt::format("user{}@customer{}.example.net", user, user % 3000);
    x.user = fmt::format("u{}", user);
    x.domain = fmt::format("customer{}.example.net", user % 3000);
    x.reseller = fmt::format("reseller{}", user % 40);
    x.score = static_cast<double>(rng() % 2000) / 100.0 - 5;
    x.action = x.score > 10 ? "reject" : x.score > 5 ? "add header" : "no action";
    x.smtp_reply = x.action == "reject" ? "550 5.7.1 Message rejected as spam" : "";
    x.stage = "data";
    x.policy_source = "domain";
    for (const char* s : {"BAYES_HAM", "DKIM_VALID", "SPF_PASS", "DMARC_PASS", "HTML_MESSAGE"})
      x.symbols.push_back({s, static_cast<double>(rng() % 400) / 100.0 - 2});
    d.recipients.push_back(std::move(x));
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dsn, mode = "arrays", schema;
  long postmaster = 0;
  int64_t n = 20000, batch = 256;
  bool analyze = true;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--no-analyze") {
      analyze = false;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", k.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (k == "--dsn")
      dsn = v;
    else if (k == "--postmaster")
      postmaster = std::atol(v.c_str());
    else if (k == "--mode")
      mode = v;
    else if (k == "--decisions")
      n = std::atoll(v.c_str());
    else if (k == "--batch")
      batch = std::atoll(v.c_str());
    else if (k == "--schema")
      schema = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (dsn.empty() || postmaster <= 0 || n <= 0 || batch <= 0) {
    std::fprintf(stderr,
                 "usage: pg_log_bench --dsn DSN --postmaster PID [--mode arrays|per_decision] "
                 "[--decisions N] [--batch B] [--schema S] [--no-analyze]\n");
    return 2;
  }
  PostgresOptions o;
  o.dsn = dsn;
  o.schema = schema.empty() ? fmt::format("bench_{}_{}", mode, getpid()) : schema;
  o.timeout_ms = 30000;
  o.pool_size = 1;
  if (mode == "arrays")
    o.batch_write = PostgresOptions::BatchWrite::kArrays;
  else if (mode == "per_decision")
    o.batch_write = PostgresOptions::BatchWrite::kPerDecision;
  else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  auto log = mailsift::fleet::open_postgres_log(o);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.error().describe().c_str());
    return 1;
  }
  std::mt19937_64 rng(42);
  const int64_t t0 = 1795780800000;  // 2026-11-27T12:00:00Z: every decision in one partition
  std::vector<Decision> all;
  all.reserve(n + batch);
  for (int64_t i = 0; i < n + batch; ++i)
    all.push_back(make_decision(rng, i, t0 + i));
  // Warm-up: the partition, the pooled connection, the first plans.
  if (auto s = (*log)->record_batch(std::span<const Decision>(all).subspan(n)); !s.ok()) {
    std::fprintf(stderr, "warm-up: %s\n", s.error().describe().c_str());
    return 1;
  }
  // Statistics, as autovacuum gives a partition within its first minute: without them the
  // planner guesses 0.5 % of the rows per id and scans the whole partition for the existing-id
  // check (both modes). --no-analyze measures that first minute.
  if (analyze) {
    PGconn* c = PQconnectdb(dsn.c_str());
    PGresult* r = PQexec(
        c, fmt::format("ANALYZE \"{0}\".decisions, \"{0}\".decision_recipients", o.schema).c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
      std::fprintf(stderr, "ANALYZE: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    if (!ok)
      return 1;
  }
  const double srv0 = server_cpu(postmaster), cli0 = client_cpu();
  const auto w0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < n; first += batch) {
    const auto part = std::span<const Decision>(all).subspan(first, std::min(batch, n - first));
    if (auto s = (*log)->record_batch(part); !s.ok()) {
      std::fprintf(stderr, "record_batch: %s\n", s.error().describe().c_str());
      return 1;
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double srv = server_cpu(postmaster) - srv0, cli = client_cpu() - cli0;
  std::printf(
      "mode=%-12s batch=%-4lld decisions=%lld  %8.0f decisions/s  server %6.1f us/decision  "
      "client %5.1f us/decision%s\n",
      mode.c_str(), static_cast<long long>(batch), static_cast<long long>(n), n / wall,
      srv * 1e6 / n, cli * 1e6 / n, analyze ? "" : "  (no ANALYZE)");
  return 0;
}
