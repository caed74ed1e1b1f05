// mailsift log — what mailsiftd decided, when and for whom: the support staff's search.
//
// Owns: the `log` subcommand's options, turning them into a decisions::Query (local times in
// any IANA zone -> UTC range), and printing the matches (human blocks or JSON lines).
//
// Failure semantics (exit codes as in main.cc): 0 matches printed or none found (the "no match"
// message says what was searched); 2 bad option, time, duration or zone; 3 decision log
// unavailable (locked, damaged, unreadable). A data dir without a decision log yet is "no match"
// with a note on stderr.
// SECURITY: decisions hold text from untrusted mail (subject, HELO, addresses); the human output
// escapes control characters so they cannot drive the terminal.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>

#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::cli {

struct LogOptions {
  std::string since, until;  // local date-time in `tz` (or with an explicit offset / Z)
  std::string at;            // with `window`: [at - window, at + window)
  std::string window;        // "30m" when --at is given without it
  std::string tz = "UTC";
  std::string from, to, user, domain, reseller, queue_id, message_id, ip, action, direction, id;
  size_t limit = 100;  // 0 = no limit
  bool json = false;
};

// Registers the options on the `log` subcommand, bound to `options`.
void add_log_options(CLI::App& command, LogOptions& options);

// Runs the search against the configured decision log (decisions.backend: <data_dir>/decisions.db
// or the fleet's PostgreSQL log); returns the process exit code.
int run_log_command(const LogOptions& options, const Config& config, const std::string& data_dir,
                    std::ostream& out, std::ostream& err);

}  // namespace mailsift::cli
