// mailsift::ipwatch options — the provider's outbound IPs grouped in pools, the DNS blocklists to
// check them against, the schedule, and the Postfix lookup-table answer settings (ipwatch.*).
//
//   ipwatch.pools = "POOL=TRANSPORT:IP,IP;POOL2=TRANSPORT2:IP,..."   (';' or newlines between
//   pools; pools in order of preference; TRANSPORT is a master.cf service name, no ':')
//
// Failure semantics: options_from_config()/parse_pools() return a kConfig error quoting the bad
// entry (a pool without transport or IPs, an IP that is not an address, an IP in two pools, a
// duplicate pool name, a list whose kind is not ip/ip4). Nothing throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "dnsbl/lists.h"

namespace mailsift::ipwatch {

struct Pool {
  std::string name;
  std::string transport;         // the Postfix transport (master.cf service) that sends from it
  std::vector<std::string> ips;  // canonical text (inet_ntop)
};

Result<std::vector<Pool>> parse_pools(std::string_view text);
// Canonical text of an IPv4/IPv6 address, "" if `ip` is not one.
std::string canonical_ip(std::string_view ip);

struct Options {
  std::vector<Pool> pools;
  std::vector<dnsbl::ListSpec> lists;  // ip / ip4 lists only
  int64_t interval_seconds = 900;
  std::string default_transport;  // answered when every pool is unhealthy; "" = NOTFOUND
  std::string map_listen;         // socketmap listener; "" = none
  std::string map_name = "outbound_pool";
  std::string file = "ipwatch.db";
};

// ipwatch.*; lists from ipwatch.lists, or when it is empty the ip/ip4 lists of dnsbl.lists.
Result<Options> options_from_config(const Config& config);

}  // namespace mailsift::ipwatch
