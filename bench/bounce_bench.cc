// bounce_bench — issue 7's measurement of the bounce parser (run by bench/bounces).
//
//   bounce_bench [--mismatches] [--min-cpu SECONDS] [DIR]
//
// DIR (default: <source>/../shared/testdata/bounces) holds Sisimai's public set: maildir/*.eml,
// not-bounces/*.eml, expected.tsv (per file) and expected-per-recipient.tsv (per recipient).
// Prints, per recipient, the share whose reason / status / reply code / hard-bounce verdict match
// the expected labels, a confusion table of reasons (expected × got), the not-bounces correctly
// reported as not bounces, crashes (each file is parsed once in a forked child, so a crash is
// counted instead of ending the run) and throughput in bounces per CPU-second (process CPU time,
// files already in memory, parse + JSON rendering, repeated until --min-cpu seconds are spent).
// Figures are printed, never asserted (bounce_test holds the regression floors).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bounce/bounce.h"

namespace fs = std::filesystem;
using namespace mailsift::bounce;

namespace {

std::vector<std::string> split_tab(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == '\t')
      out.emplace_back();
    else if (c != '\r')
      out.back() += c;
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Tally {
  int n = 0, ok = 0;
  void add(bool good) {
    ++n;
    ok += good;
  }
  void print(const char* name) const {
    std::printf("  %-36s %4d/%-4d %6.1f %%\n", name, ok, n, n ? 100.0 * ok / n : 100.0);
  }
};

// 0: parsed and rendered; 1: parse returned an error (not mail); 2: crashed (signal).
int crash_check(const std::string& raw) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    return 2;
  if (pid == 0) {
    auto rep = parse(raw);
    if (!rep.ok())
      _exit(1);
    volatile size_t n = to_json(*rep).size() + to_text(*rep).size();
    (void)n;
    _exit(0);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) < 0)
    return 2;
  if (WIFSIGNALED(st))
    return 2;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool show_mismatches = false;
  double min_cpu = 2.0;
  std::string dir = std::string(MAILSIFT_SOURCE_DIR) + "/../shared/testdata/bounces";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mismatches")
      show_mismatches = true;
    else if (a == "--min-cpu" && i + 1 < argc)
      min_cpu = std::atof(argv[++i]);
    else if (a == "-h" || a == "--help") {
      std::printf("usage: bounce_bench [--mismatches] [--min-cpu SECONDS] [DIR]\n");
      return 0;
    } else
      dir = a;
  }
  std::ifstream files(dir + "/expected.tsv"), per(dir + "/expected-per-recipient.tsv");
  if (!files || !per) {
    std::fprintf(stderr, "bounce_bench: no expected.tsv / expected-per-recipient.tsv in %s\n",
                 dir.c_str());
    return 2;
  }
  std::map<std::string, int> n_rcpts;
  std::map<std::string, std::vector<std::vector<std::string>>> rows;
  std::string line;
  std::getline(files, line);
  while (std::getline(files, line)) {
    auto c = split_tab(line);
    if (c.size() >= 5)
      n_rcpts[c[0]] = std::atoi(c[4].c_str());
  }
  std::getline(per, line);
  while (std::getline(per, line)) {
    auto c = split_tab(line);
    c.resize(std::max<size_t>(c.size(), 9));
    rows[c[0]].push_back(c);
  }

  // Every message file of the set, in memory (bounces and not-bounces).
  struct Sample {
    std::string path;  // relative to dir
    std::string raw;
  };
  std::vector<Sample> samples;
  for (const auto& [path, _] : rows)
    samples.push_back({path, slurp(dir + "/" + path)});
  std::set<std::string> listed;
  for (const auto& s : samples)
    listed.insert(s.path);
  std::vector<std::string> extra;
  if (fs::exists(dir + "/not-bounces"))
    for (const auto& e : fs::directory_iterator(dir + "/not-bounces"))
      extra.push_back("not-bounces/" + e.path().filename().string());
  std::sort(extra.begin(), extra.end());
  for (const auto& p : extra)
    if (!listed.count(p))
      samples.push_back({p, slurp(dir + "/" + p)});

  // 1. Crashes: each file in a child process.
  int crashes = 0, errors = 0;
  for (const auto& s : samples) {
    int r = crash_check(s.raw);
    if (r == 2) {
      ++crashes;
      std::printf("CRASH %s\n", s.path.c_str());
    } else if (r == 1) {
      ++errors;
      std::printf("PARSE-ERROR %s\n", s.path.c_str());
    }
  }

  // 2. Accuracy.
  Tally reason, reason_either, status, reply, hard, count, not_bounce, feedback;
  std::map<std::string, std::map<std::string, int>> confusion;
  std::set<std::string> labels;
  std::vector<std::string> mismatches;
  for (const auto& s : samples) {
    auto rep = parse(s.raw);
    auto it = rows.find(s.path);
    bool expect_not = it == rows.end() || it->second[0][1] == "NOT-A-BOUNCE";
    if (expect_not) {
      bool good = !rep.ok() || rep->kind == Kind::kNotBounce;
      not_bounce.add(good);
      if (!good)
        mismatches.push_back(s.path + " taken for a " + to_string(rep->kind));
      continue;
    }
    int got_n = rep.ok() ? static_cast<int>(rep->recipients.size()) : -1;
    count.add(got_n == n_rcpts[s.path]);
    if (got_n != n_rcpts[s.path])
      mismatches.push_back(s.path + " recipients got " + std::to_string(got_n) + " want " +
                           std::to_string(n_rcpts[s.path]));
    for (const auto& e : it->second) {
      size_t idx = static_cast<size_t>(std::max(1, std::atoi(e[4].c_str())) - 1);
      const Recipient* g =
          rep.ok() && idx < rep->recipients.size() ? &rep->recipients[idx] : nullptr;
      std::string got = g ? g->reason : "(none)";
      std::string where = s.path + "#" + std::to_string(idx + 1);
      reason.add(got == e[1]);
      reason_either.add(got == e[1] || (!e[7].empty() && got == e[7]));
      confusion[e[1]][got]++;
      labels.insert(e[1]);
      labels.insert(got);
      if (got != e[1])
        mismatches.push_back(where + " reason got " + got + " want " + e[1] +
                             (e[7].empty() || e[7] == e[1] ? "" : " (5.1.0: " + e[7] + ")") +
                             " | " + (g ? g->status : "") + " | " +
                             (g ? g->diagnostic.substr(0, 200) : ""));
      if (!e[2].empty()) {
        status.add(g && g->status == e[2]);
        if (!g || g->status != e[2])
          mismatches.push_back(where + " status got " + (g ? g->status : "-") + " want " + e[2]);
      }
      if (!e[3].empty()) {
        reply.add(g && g->reply_code == e[3]);
        if (!g || g->reply_code != e[3])
          mismatches.push_back(where + " reply got " + (g ? g->reply_code : "-") + " want " + e[3]);
      }
      hard.add(g && (g->hard_bounce ? "true" : "false") == e[5]);
      if (!e[6].empty())
        feedback.add(g && g->feedback_type == e[6]);
    }
  }

  // 3. Throughput: parse + to_json over the in-memory set until min_cpu seconds are spent.
  size_t parsed = 0;
  double t0 = cpu_seconds(), t1 = t0;
  size_t sink = 0;
  while (t1 - t0 < min_cpu) {
    for (const auto& s : samples) {
      auto rep = parse(s.raw);
      if (rep.ok())
        sink += to_json(*rep).size();
      ++parsed;
    }
    t1 = cpu_seconds();
  }
  size_t bytes = 0;
  for (const auto& s : samples)
    bytes += s.raw.size();

  std::printf("bounce_bench: %s\n", dir.c_str());
  std::printf("  files %zu (%zu bounce/feedback/vacation samples, %zu not-bounces), %zu KiB\n",
              samples.size(), samples.size() - static_cast<size_t>(not_bounce.n),
              static_cast<size_t>(not_bounce.n), bytes / 1024);
  std::printf("\nper recipient (expected labels: Sisimai, expected-per-recipient.tsv)\n");
  reason.print("reason matches");
  reason_either.print("reason matches current or v5.1.0");
  status.print("status matches (where expected)");
  reply.print("reply code matches (where expected)");
  hard.print("hard/soft bounce matches");
  feedback.print("ARF feedback type matches");
  std::printf("per file\n");
  count.print("recipient count matches");
  not_bounce.print("not-bounces reported as not bounce");
  std::printf("  %-36s %d\n", "crashes", crashes);
  std::printf("  %-36s %d\n", "parse errors", errors);
  double cpu = t1 - t0;
  std::printf(
      "\nthroughput: %zu parses in %.3f CPU-s = %.0f bounces per CPU-second "
      "(parse + to_json, in memory; %.1f MB/CPU-s)\n",
      parsed, cpu, static_cast<double>(parsed) / cpu,
      static_cast<double>(bytes) * static_cast<double>(parsed) /
          static_cast<double>(samples.size()) / cpu / 1e6);

  // Confusion table: rows expected, columns got (numbered to keep the table narrow).
  std::vector<std::string> ls(labels.begin(), labels.end());
  std::printf("\nconfusion of reasons (rows: expected, columns: got; . = 0)\n%18s", "");
  for (size_t j = 0; j < ls.size(); ++j)
    std::printf("%3zu", j + 1);
  std::printf("\n");
  for (size_t i = 0; i < ls.size(); ++i) {
    auto row = confusion.find(ls[i]);
    if (row == confusion.end())
      continue;
    std::printf("%2zu %-15s", i + 1, ls[i].c_str());
    for (const auto& col : ls) {
      auto c = row->second.find(col);
      if (c == row->second.end())
        std::printf("  .");
      else
        std::printf("%3d", c->second);
    }
    std::printf("\n");
  }
  std::printf("columns:");
  for (size_t j = 0; j < ls.size(); ++j)
    std::printf(" %zu=%s", j + 1, ls[j].c_str());
  std::printf("\n\noff-diagonal (expected -> got: count)\n");
  std::vector<std::pair<int, std::string>> off;
  for (const auto& [e, row] : confusion)
    for (const auto& [g, n] : row)
      if (e != g)
        off.push_back({-n, e + " -> " + g});
  std::sort(off.begin(), off.end());
  for (const auto& [n, what] : off)
    std::printf("  %-36s %d\n", what.c_str(), -n);
  if (show_mismatches) {
    std::printf("\nmismatches\n");
    for (const auto& m : mismatches)
      std::printf("  %s\n", m.c_str());
  }
  return sink == 0 ? 1 : 0;
}
