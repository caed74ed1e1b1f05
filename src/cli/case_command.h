// mailsift case / explain-draft — support's case lookup and draft explanation (src/support).
//
//   mailsift case --reseller R --user U --from S --to T --at "2026-11-27 10:15"
//                 --tz America/Toronto [--window 30m] [--json]
//   mailsift explain-draft --user U [--reseller R] [--json] FILE|-
//
// Reads <data_dir>/decisions.db, the tenant store (tenant.file), the outbound store
// (outbound.file, when it exists) and the learning store; writes nothing to any of them.
// Exit codes: 0 answered (also "no match" and unknown ids: the answer says so); 2 bad input
// (time, zone, window, file); 3 a store is unavailable.
#pragma once

#include <ostream>
#include <string>

#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::cli {

struct CaseCliOptions {
  std::string reseller, user, from, to, at, tz = "UTC", window = "30m", file;
  bool json = false;
};

// Registers `case` and `explain-draft`; returns them.
std::pair<CLI::App*, CLI::App*> add_case_commands(CLI::App& app, CaseCliOptions& options);
int run_case_command(const CaseCliOptions& o, const Config& config, const std::string& data_dir,
                     std::ostream& out, std::ostream& err);
int run_explain_draft_command(const CaseCliOptions& o, const Config& config,
                              const std::string& data_dir, std::ostream& out, std::ostream& err);

}  // namespace mailsift::cli
