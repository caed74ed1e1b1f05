// mailsift::ipwatch store — what the outbound-IP monitor remembers: one row per listing episode
// (IP, list, listed at, return codes, delisted at), the last check of each (IP, list), the
// delisting record support keeps per IP, the alerts (listed / delisted / resolver problem) and
// the steering history (which pool Postfix was sent to, since when).
//
// Backends: SQLite (ipwatch.db in the data directory, WAL, shared by mailsiftd and the CLI, via
// src/sqlite) and memory (tests). Both pass one conformance suite (store_test.cc).
//
// Failure semantics: every call returns Status/Result; SQLite BUSY/IOERR are kTemporary (the
// monitor keeps its state and retries next round). open_listing() is idempotent: a second open
// episode for the same (IP, list) is never created (false is returned), so the daemon and a CLI
// `check` running at once cannot double a listing. Thread-safe (a mutex per store).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::ipwatch {

struct Episode {
  int64_t id = 0;
  std::string ip, list, zone;
  int64_t listed_at_ms = 0;
  std::string codes;           // answers, comma separated ("127.0.0.2,127.0.0.4")
  std::string name;            // code names from the list's code map ("SBL,XBL"), may be empty
  int64_t delisted_at_ms = 0;  // 0 while listed
};

struct CheckRecord {
  std::string ip, list;
  int64_t checked_at_ms = 0;
  std::string outcome;  // dnsbl::to_string(Outcome)
  std::string codes, detail;
};

enum class RequestState { kNone, kRequested, kDelisted, kRejected };
const char* to_string(RequestState s);
std::optional<RequestState> parse_request_state(std::string_view s);

struct DelistingRecord {
  std::string ip;
  int64_t listed_since_ms = 0;  // start of the current (or last) listing
  std::string lists;            // lists it is/was on, comma separated
  RequestState state = RequestState::kNone;
  std::string notes;  // one line per note: "<UTC> <by>: <text>"
  std::string updated_by;
  int64_t updated_at_ms = 0;
};

struct Alert {
  int64_t at_ms = 0;
  std::string ip, list;
  std::string event;  // listed | delisted | list_problem | all_pools_unhealthy
  std::string detail;
};

// Which pool the socketmap steered Postfix to, from `at_ms` until the next record: written when
// the choice changes, so the case lookup can name the outbound IPs in use at a given moment.
struct SteeringRecord {
  int64_t at_ms = 0;
  std::string pool;       // "" when no pool was healthy (fallback)
  std::string transport;  // what the socketmap answered ("" = NOTFOUND)
  bool fallback = false;
  bool operator==(const SteeringRecord&) const = default;
};

class Store {
 public:
  virtual ~Store() = default;
  // Starts an episode; false (no change) when (ip, list) already has an open one.
  virtual Result<bool> open_listing(const Episode& e) = 0;
  // Ends the open episode of (ip, list); false when there is none.
  virtual Result<bool> close_listing(std::string_view ip, std::string_view list, int64_t at_ms) = 0;
  virtual Result<std::vector<Episode>> open_listings() = 0;
  // Newest first; ip "" = every IP.
  virtual Result<std::vector<Episode>> history(std::string_view ip, size_t limit) = 0;
  virtual Status put_check(const CheckRecord& c) = 0;
  virtual Result<std::vector<CheckRecord>> checks() = 0;
  virtual Result<std::optional<DelistingRecord>> delisting(std::string_view ip) = 0;
  virtual Status put_delisting(const DelistingRecord& d) = 0;
  virtual Result<std::vector<DelistingRecord>> delistings() = 0;
  virtual Status add_alert(const Alert& a) = 0;
  // Newest first.
  virtual Result<std::vector<Alert>> alerts(size_t limit) = 0;
  virtual Status add_steering(const SteeringRecord& r) = 0;
  // The record in force at `at_ms` (the newest with at_ms <= it); nullopt before the first.
  virtual Result<std::optional<SteeringRecord>> steering_at(int64_t at_ms) = 0;
};

std::unique_ptr<Store> make_memory_store();
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

}  // namespace mailsift::ipwatch
