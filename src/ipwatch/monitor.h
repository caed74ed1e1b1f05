// mailsift::ipwatch::Monitor — checks the provider's outbound IPs against DNS blocklists on a
// schedule, records listing/delisting history and alerts in a Store, keeps the delisting record
// of each IP, and decides which pool's Postfix transport new mail should use.
//
// Owns: one check round (run_round: the RFC 5782 test points of every list, then every IP against
// every trusted list, through dnsbl::check_health / dnsbl::check_ip on the injected Resolver), the
// transitions it finds (listed / delisted) and the health snapshot other threads read (state_of,
// states, pools, choose, map_reply). The caller schedules rounds (mailsiftd: an Asio timer on its
// own strand); run_round must not run concurrently with itself (the Resolver is used by one
// thread). Readers may call the snapshot functions from any thread (a mutex guards it).
//
// Failure semantics (what a round does with each answer; nothing throws):
//   listed (a valid 127.0.0.0/8 answer, per the list's code map)   -> listed; a new episode
//   not listed (NXDOMAIN/NODATA)                                   -> delisted if it was listed
//   not checked (SERVFAIL, timeout)                                -> previous state kept, said so
//   query refused / resolver rewrites answers                      -> previous state kept,
//                                                                     reported (never a listing)
// A list whose RFC 5782 test points show a refusing or rewriting resolver, or a zone that lists
// everything or cannot be reached, is not read at all that round (state kept, reported once per
// change as a list_problem alert). A store error ends the round with that error (nothing
// half-recorded is trusted: the next round compares against the store again). State lives in the
// store, so a CLI `ipwatch check` and the daemon agree; open_listing() is idempotent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dns/resolver.h"
#include "ipwatch/options.h"
#include "ipwatch/store.h"

namespace mailsift::ipwatch {

struct Listed {
  std::string list, zone;
  int64_t since_ms = 0;
  std::string codes, name;
};

// What support (and the case lookup) needs about one outbound IP.
struct IpState {
  std::string ip, pool;
  bool healthy = true;                // on no list (as far as the last trusted answers say)
  std::vector<Listed> listed;         // the lists it is on, since when
  int64_t last_checked_ms = 0;        // newest check of any list
  std::vector<std::string> problems;  // "LIST: not checked (...), kept previous state"
};

struct PoolState {
  std::string name, transport;
  bool healthy = true;  // every IP of the pool is healthy
  std::vector<std::string> listed_ips;
};

struct Choice {
  std::string transport;  // "" = none (answer NOTFOUND)
  std::string pool;       // "" when falling back
  bool fallback = false;  // every pool unhealthy
};
// The first healthy pool in configuration order; when none is healthy, `default_transport`.
Choice choose_pool(const std::vector<PoolState>& pools, const std::string& default_transport);

// The states of every configured IP, built from the store (any process may call it).
Result<std::vector<IpState>> read_states(Store& store, const Options& options);
// One IP (canonicalised); nullopt when it is not a configured outbound IP.
Result<std::optional<IpState>> read_state(Store& store, const Options& options,
                                          std::string_view ip);
std::vector<PoolState> pool_states(const Options& options, const std::vector<IpState>& states);

// Support's update of a delisting record: a new request state and/or a note (appended as
// "<UTC> <by>: <note>"). kPermanent when `ip` is not a configured outbound IP.
Result<DelistingRecord> update_delisting(Store& store, const Options& options, std::string_view ip,
                                         std::optional<RequestState> state, std::string_view note,
                                         std::string_view by, int64_t now_ms);

struct RoundReport {
  int64_t at_ms = 0;
  std::vector<std::string> listed;    // "IP on LIST (codes)" newly listed this round
  std::vector<std::string> delisted;  // "IP from LIST"
  std::vector<std::string> problems;  // lists or answers not read, state kept
  bool all_unhealthy = false;
};

class Monitor {
 public:
  using Clock = std::function<int64_t()>;  // unix milliseconds
  using Log = std::function<void(std::string_view level, std::string_view fields)>;

  Monitor(Options options, Store& store, dns::Resolver& resolver, Clock clock, Log log);

  // Loads the snapshot from the store (no DNS): mailsiftd calls it at start so the lookup table
  // answers from what the last run knew before the first round finishes.
  Status load();
  Result<RoundReport> run_round();

  // Snapshot readers, any thread.
  std::optional<IpState> state_of(std::string_view ip) const;
  std::vector<IpState> states() const;
  std::vector<PoolState> pools() const;
  Choice choose() const;
  // The socketmap reply (encoded netstring) to one decoded request payload "NAME KEY".
  std::string map_reply(std::string_view payload);

  const Options& options() const { return options_; }

 private:
  void log(std::string_view level, const std::string& fields) const;
  Status refresh();
  Status note_transition(const std::string& ip, const std::string& list, bool listed,
                         const std::string& detail, int64_t now);

  Options options_;
  Store& store_;
  dns::Resolver& resolver_;
  Clock clock_;
  Log log_;
  std::map<std::string, std::string> list_health_;   // list -> last health text (round thread)
  bool all_unhealthy_reported_ = false;              // round thread
  std::optional<SteeringRecord> steering_recorded_;  // round thread; read from the store once
  bool steering_loaded_ = false;                     // round thread

  mutable std::mutex mu_;
  std::vector<IpState> states_;
  std::vector<PoolState> pools_;
  std::atomic<int64_t> fallback_logged_ms_{0};
};

}  // namespace mailsift::ipwatch
