// mailsift doctor — is this customer domain's DNS right for its cluster? (docs/doctor.md)
//
//   mailsift doctor DOMAIN [--cluster NAME] [--json]
//
// Owns: the `doctor` subcommand: loads doctor.clusters_file, builds the resolver from the dns.*
// parameters (CaresResolver) and prints src/doctor's report (text, or one JSON object).
// Exit codes: 0 every finding pass or warn; 1 some finding fails; 2 usage or configuration error
// (no doctor.clusters_file, unreadable clusters/key file, bad dns.servers); 3 nothing failed but
// some check could not run (temporary DNS failure): retry later.
#pragma once

#include <ostream>
#include <string>

#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::cli {

struct DoctorOptions {
  std::string domain;
  std::string cluster;
  bool json = false;
};

CLI::App* add_doctor_command(CLI::App& app, DoctorOptions& options);

int run_doctor_command(const DoctorOptions& options, const Config& config, std::ostream& out,
                       std::ostream& err);

}  // namespace mailsift::cli
