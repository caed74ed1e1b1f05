// "A process killed with SIGKILL in the middle of training loses no acknowledged learn and
// leaves no corrupt state": runs store_kill_helper, kills it at several moments, and checks the
// database directly (integrity, every ACKed digest present, counts exactly the sum of the
// learned records) and through the Store API.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.h"

extern char** environ;

namespace mailsift::store {
namespace {

// Runs the helper, returns the digests it acknowledged before being SIGKILLed at `kill_after`.
std::vector<std::string> run_and_kill(const std::string& db, int seed,
                                      std::chrono::milliseconds kill_after) {
  int fds[2];
  if (pipe(fds) != 0)
    return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string helper = STORE_KILL_HELPER, seed_text = std::to_string(seed);
  char* argv[] = {helper.data(), const_cast<char*>(db.c_str()), seed_text.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, helper.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  EXPECT_EQ(rc, 0) << "spawn " << helper;
  if (rc != 0) {
    close(fds[0]);
    return {};
  }
  std::string buffer;
  char chunk[4096];
  auto read_some = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
      return false;
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0)
      return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  };
  // Start the clock once the helper has opened the store, so the kill lands in training.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (buffer.find("READY\n") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    read_some(50);
  }
  auto deadline = std::chrono::steady_clock::now() + kill_after;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    read_some(static_cast<int>(std::max<int64_t>(1, left.count())));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "helper died early";
  while (read_some(100)) {
  }  // lines written before the kill were acknowledged too
  close(fds[0]);

  std::vector<std::string> acked;
  size_t pos = 0;
  for (size_t nl; (nl = buffer.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    std::string line = buffer.substr(pos, nl - pos);
    if (line.rfind("ACK ", 0) == 0)
      acked.push_back(line.substr(4));
  }
  return acked;  // a trailing partial line (no '\n') is not an acknowledgement
}

struct Checked {
  std::map<std::string, std::string> scope_of_digest;  // digest -> scope key
  std::map<std::pair<std::string, uint64_t>, TokenCounts> expected;
  std::map<std::string, ClassTotals> expected_totals;
};

// Verifies the raw database: integrity, and counts == sums over learned records.
Checked check_database(const std::string& path) {
  Checked out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  auto query = [&](const char* sql, auto&& row) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      row(st);
    EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db);
    sqlite3_finalize(st);
  };
  std::vector<std::string> integrity;
  query("PRAGMA integrity_check", [&](sqlite3_stmt* st) {
    integrity.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  });
  EXPECT_EQ(integrity, std::vector<std::string>{"ok"});

  query("SELECT s.key, l.digest, l.cls, l.tokens FROM learned l JOIN scopes s ON s.id = l.scope",
        [&](sqlite3_stmt* st) {
          std::string key = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
          std::string digest = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
          bool ham = sqlite3_column_int(st, 2) == 0;
          const auto* blob = static_cast<const unsigned char*>(sqlite3_column_blob(st, 3));
          int bytes = sqlite3_column_bytes(st, 3);
          EXPECT_EQ(bytes % 8, 0);
          for (int i = 0; i + 8 <= bytes; i += 8) {
            uint64_t t = 0;
            for (int b = 0; b < 8; ++b)
              t |= uint64_t{blob[i + b]} << (8 * b);
            TokenCounts& c = out.expected[{key, t}];
            (ham ? c.ham : c.spam) += 1;
          }
          ClassTotals& tot = out.expected_totals[key];
          (ham ? tot.ham_messages : tot.spam_messages) += 1;
          out.scope_of_digest[digest] = key;
        });
  size_t rows = 0;
  query("SELECT s.key, t.token, t.ham, t.spam FROM tokens t JOIN scopes s ON s.id = t.scope",
        [&](sqlite3_stmt* st) {
          ++rows;
          std::string key = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
          uint64_t token = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
          auto it = out.expected.find({key, token});
          ASSERT_NE(it, out.expected.end()) << "stored token without a learned record";
          EXPECT_EQ(sqlite3_column_int64(st, 2), it->second.ham);
          EXPECT_EQ(sqlite3_column_int64(st, 3), it->second.spam);
        });
  EXPECT_EQ(rows, out.expected.size()) << "learned tokens missing from the counts";
  size_t totals_rows = 0;
  query(
      "SELECT s.key, t.ham_messages, t.spam_messages FROM totals t JOIN scopes s "
      "ON s.id = t.scope",
      [&](sqlite3_stmt* st) {
        ++totals_rows;
        std::string key = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        const ClassTotals& want = out.expected_totals[key];
        EXPECT_EQ(static_cast<uint64_t>(sqlite3_column_int64(st, 1)), want.ham_messages);
        EXPECT_EQ(static_cast<uint64_t>(sqlite3_column_int64(st, 2)), want.spam_messages);
      });
  EXPECT_EQ(totals_rows, out.expected_totals.size());
  sqlite3_close(db);
  return out;
}

Scope scope_from_key(const std::string& key) {
  if (key == "g:")
    return Scope::global();
  Level level = key[0] == 'd' ? Level::kDomain : key[0] == 'u' ? Level::kUser : Level::kReseller;
  return Scope{level, key.substr(2)};
}

TEST(StoreDurability, SigkillDuringTrainingLosesNoAcknowledgedLearn) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mailsift-kill-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string db = tmpl + "/store.db";
  size_t total_acked = 0;
  const int kill_ms[] = {150, 320, 90, 260};
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto acked = run_and_kill(db, round + 1, std::chrono::milliseconds(kill_ms[round]));
    total_acked += acked.size();
    std::printf("round %d: killed after %d ms, %zu learns acknowledged\n", round, kill_ms[round],
                acked.size());
    Checked state = check_database(db);
    for (const auto& d : acked) {
      EXPECT_TRUE(state.scope_of_digest.count(d)) << "acknowledged learn lost: " << d;
    }
    // The Store API agrees with the records after recovery.
    auto store = open_sqlite_store(db);
    ASSERT_TRUE(store.ok()) << store.error().describe();
    std::map<std::string, std::vector<uint64_t>> tokens_by_scope;
    for (const auto& [key_token, c] : state.expected)
      tokens_by_scope[key_token.first].push_back(key_token.second);
    for (const auto& [key, tokens] : tokens_by_scope) {
      auto counts = (*store)->token_counts(scope_from_key(key), tokens);
      ASSERT_TRUE(counts.ok());
      for (size_t i = 0; i < tokens.size(); ++i) {
        const TokenCounts& want = state.expected[{key, tokens[i]}];
        ASSERT_EQ((*counts)[i].ham, want.ham);
        ASSERT_EQ((*counts)[i].spam, want.spam);
      }
      auto totals = (*store)->totals(scope_from_key(key));
      ASSERT_TRUE(totals.ok());
      EXPECT_EQ(totals->ham_messages, state.expected_totals[key].ham_messages);
      EXPECT_EQ(totals->spam_messages, state.expected_totals[key].spam_messages);
    }
  }
  EXPECT_GT(total_acked, 0u) << "helper never acknowledged a learn";
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace mailsift::store
