// mailsift bounce — why did this mail come back, and what should the user do?
//
// Owns: the `bounce` subcommand's options, reading bounce files, stdin, an mbox or a maildir,
// printing one report per message (human text or JSON lines, see bounce/bounce.h) and, for
// --mbox / --maildir, a summary of counts per kind, per reason and per recipient domain.
//
// Failure semantics (exit codes as in main.cc): 0 every input was read and parsed (a message that
// is not a bounce is a result, not a failure); 1 some inputs were unreadable or not mail (each
// reported, the rest processed); 2 usage error (no input, or an mbox/maildir that cannot be
// opened, or --live without a usable resolver configuration). Needs no store; --live needs the
// dns.* settings (and doctor.clusters_file to check SPF and DKIM against the cluster) and runs
// the checks each recipient's advice names (src/doctor/bounce_checks.h); their results are data,
// not the exit code.
// SECURITY: bounces are untrusted text; the human output escapes control characters so they
// cannot drive the terminal.
#pragma once

#include <ostream>

#include <string>
#include <vector>
#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::cli {

struct BounceOptions {
  std::vector<std::string> files;  // message files, "-" for stdin
  std::string mbox;
  std::string maildir;
  bool json = false;
  bool summary_only = false;  // batch mode: print only the summary
  bool live = false;          // run the advice's DNS checks (domain doctor, iprev)
  std::string cluster;        // --live: check against this cluster (default: from the MX)
};

void add_bounce_options(CLI::App& command, BounceOptions& options);

int run_bounce_command(const BounceOptions& options, const Config& config, std::ostream& out,
                       std::ostream& err);

}  // namespace mailsift::cli
