// mailsift::support — the case lookup's view of the outbound IP monitor (src/ipwatch).
//
// Owns: the adapters from ipwatch's IpState (pool, listings with since-when, problems) to the
// case report's IpState, for a running Monitor (mailsiftd) and for its store (the CLI, which has
// no monitor: it reads the last recorded round from ipwatch.db).
// Failure semantics: a store read error becomes an IpState whose detail says the state could not
// be read (never "not listed"); an IP that is not configured in any pool gives std::nullopt.
#pragma once

#include <string>
#include <vector>

#include "ipwatch/monitor.h"
#include "ipwatch/options.h"
#include "ipwatch/store.h"
#include "support/support.h"

namespace mailsift::support {

IpState to_case_ip_state(const ipwatch::IpState& s);
IpStateFn ip_state_from_monitor(const ipwatch::Monitor& monitor);
IpStateFn ip_state_from_store(ipwatch::Store& store, ipwatch::Options options);
// The steering history in ipwatch.db (written by mailsiftd's monitor): the pool in use at a
// moment and its IPs' listing episodes then.
RouteAtFn route_at_from_store(ipwatch::Store& store, ipwatch::Options options);
// Every IP of every configured pool, in configuration order.
std::vector<std::string> configured_outbound_ips(const ipwatch::Options& options);

}  // namespace mailsift::support
