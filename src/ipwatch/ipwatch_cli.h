// mailsift ipwatch — outbound IP blocklist status, history, an immediate check, and the delisting
// record support keeps per IP (on <data_dir>/<ipwatch.file>, shared with a running mailsiftd).
//
//   mailsift ipwatch status [IP] [--json]          pools, each IP's listings, delisting record,
//                                                  recent alerts
//   mailsift ipwatch history [IP] [--limit N] [--json]
//   mailsift ipwatch check [--json]                one round now (dns.* resolver), recorded
//                                                  like the daemon's (mailsiftd sees it next round)
//   mailsift ipwatch delisting IP [--state none|requested|delisted|rejected] [--note TEXT]
//                                 [--by NAME]      update (or, with neither, show) the record
//
// Exit codes: 0 done; 1 refused (IP not configured); 2 usage/config error; 3 store or DNS
// unavailable (retry).
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "core/config.h"

namespace CLI {
class App;
}

namespace mailsift::ipwatch {

class IpwatchCommands {
 public:
  explicit IpwatchCommands(CLI::App& app);
  ~IpwatchCommands();
  bool selected() const;
  int run(const Config& config, const std::string& data_dir, std::ostream& out, std::ostream& err);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsift::ipwatch
