// mailsift::fleet — surviving shared-server faults (issue 9 point 5; docs/fleet.md "Faults and
// degraded mode"): a circuit breaker per server, a store::Store wrapper that scores with local
// state only while the shared store is down, a decisions::DecisionLog wrapper, and the replayer
// that drains the durable ReplayQueue when the server is back.
//
// Owns: what happens to each call while a server is down.
//  * Reads (token_counts, totals, fuzzy_candidates): a temporary failure, or an open breaker,
//    answers "nothing learned" (zero counts, no candidates) instead of an error, and marks the
//    calling thread degraded (take_degraded()), so the scan goes on with the content checks and
//    says so (symbol FLEET_DEGRADED). Permanent errors still pass through.
//  * Writes (learn, unlearn, fuzzy_*, decision record): a temporary failure, an open breaker, or
//    writes already queued for that server (order) append the write to the ReplayQueue and
//    answer Ok (learn: kLearned, unlearn: kUnlearned: the outcome the replay will reach unless
//    the server already had it). A full queue answers the original kTemporary.
//  * Decision queries and expire: an open breaker answers kTemporary at once.
// Idempotency of replay: every queued write is idempotent at its target by key — learn/unlearn
// by (scope, digest, class), fuzzy records by (scope, digest, reporter), decisions by id
// (PostgreSQL: checked in the insert transaction) — so a crash between apply and dequeue, or a
// write that timed out but was applied, replays as a no-op; nothing is applied twice.
// Breaker: after a temporary failure the server is skipped for breaker_ms (calls cost ~0); then
// one caller (or the replayer) probes; success closes it.
// Thread-safety: all of it is safe to share.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "decisions/decisions.h"
#include "fleet/replay_queue.h"
#include "outbound/store.h"
#include "store/store.h"

namespace mailsift::fleet {

using NowMs = std::function<int64_t()>;
// Called on breaker transitions, queue-full refusals and dead letters: (event, detail).
using FaultLog = std::function<void(const std::string& event, const std::string& detail)>;

class Breaker {
 public:
  Breaker(std::string name, int open_ms, NowMs now, FaultLog log);
  // True when the caller may call the server: closed, or open past its window and this caller
  // won the probe (the others keep seeing it open).
  bool allow();
  void success();
  void failure(const std::string& why);
  bool is_open() const { return open_until_.load() != 0; }
  uint64_t trips() const { return trips_.load(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int open_ms_;
  NowMs now_;
  FaultLog log_;
  std::atomic<int64_t> open_until_{0};  // 0 = closed
  std::atomic<uint64_t> trips_{0};
};

// The reason the calling thread's last scan used degraded (local-only) state since the last
// take, "" if none; clears it. The scan service turns it into the FLEET_DEGRADED symbol.
std::string take_degraded();

struct ResilienceOptions {
  bool replay = true;  // false: writes fail through as kTemporary (no queue)
  uint64_t replay_max = 1000000;
  int breaker_ms = 1000;
  int replay_interval_ms = 200;  // the replayer's idle poll
  std::string queue_path;        // SQLite file
  NowMs now;                     // default: system clock
  FaultLog log;                  // default: stderr
};

// Owns the queue, the breakers and the replayer thread; wraps a store and a log.
class Resilience {
 public:
  static Result<std::unique_ptr<Resilience>> create(ResilienceOptions options);
  ~Resilience();  // stops the replayer (queued entries stay in the file for the next start)

  // Wrappers owning the inner backend. Call before start().
  std::unique_ptr<store::Store> wrap_store(std::unique_ptr<store::Store> inner,
                                           const std::string& server);
  std::unique_ptr<decisions::DecisionLog> wrap_log(std::unique_ptr<decisions::DecisionLog> inner,
                                                   const std::string& server);
  // A queue target whose entries another module applies: mailsiftd's feedback reports taken
  // while the feedback store's PostgreSQL is down (docs/fleet-tenants.md). Add before start();
  // set_apply() may come later (its entries wait until then); set_apply(nullptr) waits for an
  // apply in progress, so call it before what the function uses is destroyed. `server` names the
  // breaker shared with the other targets on that server.
  using ApplyFn = std::function<Status(const ReplayItem&)>;
  void add_deferred_target(const std::string& queue_target, const std::string& server);
  void set_apply(const std::string& queue_target, ApplyFn apply);
  // Queues one item for a deferred target. Ok = durable; kTemporary when fleet.replay is off or
  // the queue is full (the caller reports its original failure); kConfig for an unknown target.
  Status defer(const std::string& queue_target, const ReplayItem& item);
  void start();  // the background replayer
  // One replay pass over every target (tests, and the replayer's loop): applies queued entries
  // in order until the queue is empty or the server fails. Returns entries applied.
  size_t replay_once();

  ReplayQueue& queue() { return *queue_; }
  // Prometheus text: queue and breaker counters (mailsift_fleet_*).
  std::string metrics() const;
  struct Target;  // a wrapped backend (resilient.cc)

 private:
  Resilience() = default;
  // A new wrapped backend queued under `queue_target`, sharing `server`'s breaker.
  std::shared_ptr<Target> add_target(const char* queue_target, const std::string& server);
  ResilienceOptions opt_;
  std::shared_ptr<ReplayQueue> queue_;  // shared with the wrappers (may outlive this)
  std::vector<std::shared_ptr<Target>> targets_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// mailsiftd's set-up: when store.backend / decisions.backend is a shared server (redis,
// postgres), wraps it (queue file fleet.replay_file in data_dir, fleet.* knobs) and starts the
// replayer; with feedback.backend = postgres it adds the deferred target "feedback" (mailsiftd
// sets its apply); embedded backends are left as they are (nullptr when nothing is shared).
Result<std::unique_ptr<Resilience>> wrap_for_faults(const Config& config,
                                                    const std::string& data_dir,
                                                    std::unique_ptr<store::Store>& store,
                                                    std::unique_ptr<decisions::DecisionLog>& log,
                                                    FaultLog log_fn);

// The outbound counters (outbound.store.backend = redis) behind a breaker: while Redis is
// unavailable every call is kTemporary at once (the policy listener tempfails: a sending limit
// cannot be checked without the shared counters), instead of up to redis.timeout_ms per call.
// Nothing is queued: counters are not replayed (a tempfailed message was not sent).
std::unique_ptr<outbound::OutboundStore> wrap_outbound_with_breaker(
    std::unique_ptr<outbound::OutboundStore> inner, int breaker_ms, FaultLog log = nullptr);

}  // namespace mailsift::fleet
