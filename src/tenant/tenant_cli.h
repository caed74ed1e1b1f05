// mailsift tenant / mailsift lists — manage resellers, domains, users, policies, API keys and
// block/allow lists on the tenant store in the data directory (config tenant.file).
//
//   mailsift tenant reseller add ID [--name NAME]        mailsift tenant reseller list
//   mailsift tenant domain add NAME --reseller ID        mailsift tenant domain list [--reseller
//   ID] mailsift tenant user add ADDRESS                     mailsift tenant user list [--domain
//   NAME] mailsift tenant policy set (--reseller ID|--domain NAME|--user ADDRESS)
//        [--action folder|tag_subject|reject] [--spam-score X] [--reject-score X]
//        [--learning on|off] [--clear spam_action|spam_score|reject_score|learning_enabled ...]
//   mailsift tenant policy show (--user ADDRESS|--domain NAME|--reseller ID)
//        effective values with provenance (user, domain); a reseller's own overrides
//   mailsift tenant key create (--admin | --reseller ID) [--label TEXT]   prints the key once
//   mailsift tenant key list [--reseller ID]     mailsift tenant key revoke KEY_ID|KEY
//   mailsift tenant reseller|domain|user remove ID   removes it and everything below it
//   mailsift lists add (--user|--domain|--reseller OWNER) (--block|--allow) ENTRY
//        [--note TEXT] [--expires UNIX|+30d|+12h|YYYY-MM-DDTHH:MM:SSZ] [--by NAME]
//   mailsift lists remove ID
//   mailsift lists show (--user|--domain|--reseller OWNER)
//   mailsift lists check --user ADDRESS [--from SENDER] [--ip IP] [--domain D ...]
//        [--dmarc pass|fail]    every matching entry (all levels), the deciding one, since when
// Every command takes --json (one JSON document on stdout).
//
// Exit codes (as main.cc): 0 done; 1 refused (duplicate, unknown reseller/domain/user/entry);
// 2 usage or malformed value; 3 tenant store unavailable (retry).
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::tenant {

class TenantCommands {
 public:
  // Registers `tenant` and `lists` on the app.
  explicit TenantCommands(CLI::App& app);
  ~TenantCommands();
  // True when the parsed command line chose one of these commands.
  bool selected() const;
  // Runs it on <data_dir>/<tenant.file>; returns the exit code.
  int run(const Config& config, const std::string& data_dir, std::ostream& out, std::ostream& err);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsift::tenant
