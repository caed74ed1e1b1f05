// mailsift::http::Metrics — the process's Prometheus counters and their text exposition.
//
// Owns: a fixed set of counters (scans, per-recipient actions, errors by kind, learns by class
// and outcome, HTTP responses by status class, open connections) and a scan-latency histogram,
// each split by front end (http, milter), rendered as Prometheus text format 0.0.4 for
// GET /metrics. One Metrics object is shared by every front end of a daemon: the milter server
// records into the same object the HTTP server renders.
//
// Every counter is a relaxed std::atomic indexed by enum: recording never locks or allocates, so
// it is safe from any thread on the per-message path. render() reads each counter once; a
// scrape during traffic may see a histogram count one ahead of its sum (acceptable for
// monitoring, as with every lock-free Prometheus client).
// Failure semantics: none; out-of-range enum values are clamped into an "other" slot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"
#include "scan/engine.h"
#include "store/store.h"

namespace mailsift::http {

enum class Frontend { kHttp = 0, kMilter = 1 };
inline constexpr size_t kFrontends = 2;

// Upper bounds in seconds. A scan takes ~1 ms; the tail up to 10 s covers store stalls.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};

class Metrics {
 public:
  // One message scanned (whatever the outcome), with its wall time.
  void scan_finished(Frontend frontend, double seconds);
  // One recipient's decided action (a message with three recipients counts three).
  void recipient_action(Frontend frontend, scan::Action action);
  // A scan/learn call that failed (no verdict), by error kind.
  void error(Frontend frontend, ErrorKind kind);
  // A learn or unlearn that completed, by class and outcome.
  void learned(store::Class cls, store::LearnOutcome outcome);
  // One HTTP response sent, by status code (counted per class: 2xx, 3xx, 4xx, 5xx).
  void http_response(int status);
  void connection_opened(Frontend frontend);
  void connection_closed(Frontend frontend);

  // Prometheus text exposition format 0.0.4, every family with HELP and TYPE.
  std::string render() const;
  // More families appended to render() (e.g. the daemon's decision-log counters), already in
  // Prometheus text format. Set once before the server starts; called on the rendering thread.
  void set_extra(std::function<std::string()> extra) { extra_ = std::move(extra); }
  // Appends one more source of families after the ones already set.
  void add_extra(std::function<std::string()> more) {
    extra_ = [prev = std::move(extra_), more = std::move(more)] {
      return (prev ? prev() : std::string()) + more();
    };
  }

 private:
  std::function<std::string()> extra_;
  static constexpr size_t kActions = 5;
  static constexpr size_t kErrorKinds = 4;
  static constexpr size_t kOutcomes = 5;
  static constexpr size_t kStatusClasses = 6;  // 1xx..5xx + other
  using Counter = std::atomic<uint64_t>;

  std::array<Counter, kFrontends> scans_{};
  std::array<std::array<Counter, kActions>, kFrontends> actions_{};
  std::array<std::array<Counter, kErrorKinds>, kFrontends> errors_{};
  std::array<std::array<Counter, kOutcomes>, 2> learns_{};
  std::array<Counter, kStatusClasses> http_responses_{};
  std::array<std::atomic<int64_t>, kFrontends> connections_{};
  // Non-cumulative bucket counts (the last slot is +Inf); cumulated at render time.
  std::array<std::array<Counter, kLatencyBuckets.size() + 1>, kFrontends> latency_buckets_{};
  std::array<Counter, kFrontends> latency_sum_ns_{};
};

}  // namespace mailsift::http
