// mailsift account — outbound account status and sending limits, for support.
//
//   mailsift account status   [USER | --domain D | --reseller R]   (no target: every restricted
//                                                                    account and recent alerts)
//   mailsift account suspend  USER|--domain D|--reseller R --reason TEXT [--by NAME] [--irreversible]
//   mailsift account disable  ...same...   (sending_disabled: the account may still receive)
//   mailsift account activate ...same...   (a non-reversible status needs --force)
//   mailsift account limits   USER [--reseller R]
//
// Works on <data_dir>/<outbound.file> (SQLite, shared with a running mailsiftd: the daemon sees
// a change at its next policy request).
// Exit codes: 0 done; 2 bad usage (no target, missing --reason, activate of an irreversible
// status without --force); 3 store unavailable.
#pragma once

#include <ostream>
#include <string>

#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::cli {

struct AccountOptions {
  std::string action;  // status|suspend|disable|activate|limits
  std::string user, domain, reseller, reason, by;
  bool irreversible = false, force = false;
};

// Registers `account` and its subcommands on app; returns the `account` command.
CLI::App* add_account_command(CLI::App& app, AccountOptions& options);

int run_account_command(const AccountOptions& options, const Config& config,
                        const std::string& data_dir, std::ostream& out, std::ostream& err);

}  // namespace mailsift::cli
