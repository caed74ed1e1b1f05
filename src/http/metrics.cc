#include "http/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace mailsift::http {
namespace {

constexpr std::array<const char*, kFrontends> kFrontendNames = {"http", "milter"};
constexpr std::array<const char*, 6> kStatusClassNames = {"1xx", "2xx", "3xx",
                                                          "4xx", "5xx", "other"};
constexpr auto kRelaxed = std::memory_order_relaxed;

size_t clamp_index(size_t i, size_t n) {
  return i < n ? i : n - 1;
}

// Prometheus wants floats without exponent surprises for bucket bounds; %g is accepted.
std::string bound(double v) {
  return fmt::format("{:g}", v);
}

}  // namespace

void Metrics::scan_finished(Frontend frontend, double seconds) {
  size_t f = clamp_index(static_cast<size_t>(frontend), kFrontends);
  scans_[f].fetch_add(1, kRelaxed);
  size_t b = static_cast<size_t>(
      std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds) -
      kLatencyBuckets.begin());
  latency_buckets_[f][b].fetch_add(1, kRelaxed);
  double ns = std::max(0.0, seconds) * 1e9;
  latency_sum_ns_[f].fetch_add(static_cast<uint64_t>(ns), kRelaxed);
}

void Metrics::recipient_action(Frontend frontend, scan::Action action) {
  size_t f = clamp_index(static_cast<size_t>(frontend), kFrontends);
  actions_[f][clamp_index(static_cast<size_t>(action), kActions)].fetch_add(1, kRelaxed);
}

void Metrics::error(Frontend frontend, ErrorKind kind) {
  size_t f = clamp_index(static_cast<size_t>(frontend), kFrontends);
  errors_[f][clamp_index(static_cast<size_t>(kind), kErrorKinds)].fetch_add(1, kRelaxed);
}

void Metrics::learned(store::Class cls, store::LearnOutcome outcome) {
  learns_[clamp_index(static_cast<size_t>(cls), 2)]
         [clamp_index(static_cast<size_t>(outcome), kOutcomes)]
             .fetch_add(1, kRelaxed);
}

void Metrics::http_response(int status) {
  size_t cls = (status >= 100 && status < 600) ? static_cast<size_t>(status / 100 - 1) : 5;
  http_responses_[cls].fetch_add(1, kRelaxed);
}

void Metrics::connection_opened(Frontend frontend) {
  connections_[clamp_index(static_cast<size_t>(frontend), kFrontends)].fetch_add(1, kRelaxed);
}

void Metrics::connection_closed(Frontend frontend) {
  connections_[clamp_index(static_cast<size_t>(frontend), kFrontends)].fetch_sub(1, kRelaxed);
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(8192);
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };

  family("mailsift_scans_total", "counter", "Messages scanned, by front end.");
  for (size_t f = 0; f < kFrontends; ++f)
    out += fmt::format("mailsift_scans_total{{frontend=\"{}\"}} {}\n", kFrontendNames[f],
                       scans_[f].load(kRelaxed));

  family("mailsift_recipient_actions_total", "counter",
         "Per-recipient decisions, by front end and action (Rspamd action names).");
  for (size_t f = 0; f < kFrontends; ++f)
    for (size_t a = 0; a < kActions; ++a)
      out += fmt::format("mailsift_recipient_actions_total{{frontend=\"{}\",action=\"{}\"}} {}\n",
                         kFrontendNames[f], scan::to_string(static_cast<scan::Action>(a)),
                         actions_[f][a].load(kRelaxed));

  family("mailsift_errors_total", "counter",
         "Scan or learn requests that failed without a verdict, by front end and error kind.");
  for (size_t f = 0; f < kFrontends; ++f)
    for (size_t k = 0; k < kErrorKinds; ++k)
      out += fmt::format("mailsift_errors_total{{frontend=\"{}\",kind=\"{}\"}} {}\n",
                         kFrontendNames[f], to_string(static_cast<ErrorKind>(k)),
                         errors_[f][k].load(kRelaxed));

  family("mailsift_learns_total", "counter", "Learn and unlearn requests, by class and outcome.");
  for (size_t c = 0; c < 2; ++c)
    for (size_t o = 0; o < kOutcomes; ++o)
      out += fmt::format("mailsift_learns_total{{class=\"{}\",outcome=\"{}\"}} {}\n",
                         store::to_string(static_cast<store::Class>(c)),
                         store::to_string(static_cast<store::LearnOutcome>(o)),
                         learns_[c][o].load(kRelaxed));

  family("mailsift_http_responses_total", "counter", "HTTP responses sent, by status class.");
  for (size_t s = 0; s < kStatusClasses; ++s)
    out += fmt::format("mailsift_http_responses_total{{code=\"{}\"}} {}\n", kStatusClassNames[s],
                       http_responses_[s].load(kRelaxed));

  family("mailsift_open_connections", "gauge", "Client connections currently open.");
  for (size_t f = 0; f < kFrontends; ++f)
    out += fmt::format("mailsift_open_connections{{frontend=\"{}\"}} {}\n", kFrontendNames[f],
                       connections_[f].load(kRelaxed));

  family("mailsift_scan_duration_seconds", "histogram",
         "Wall time from request received to verdict, per message.");
  for (size_t f = 0; f < kFrontends; ++f) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kLatencyBuckets.size(); ++b) {
      cumulative += latency_buckets_[f][b].load(kRelaxed);
      out += fmt::format("mailsift_scan_duration_seconds_bucket{{frontend=\"{}\",le=\"{}\"}} {}\n",
                         kFrontendNames[f], bound(kLatencyBuckets[b]), cumulative);
    }
    cumulative += latency_buckets_[f][kLatencyBuckets.size()].load(kRelaxed);
    out += fmt::format("mailsift_scan_duration_seconds_bucket{{frontend=\"{}\",le=\"+Inf\"}} {}\n",
                       kFrontendNames[f], cumulative);
    out += fmt::format("mailsift_scan_duration_seconds_sum{{frontend=\"{}\"}} {:.9f}\n",
                       kFrontendNames[f], latency_sum_ns_[f].load(kRelaxed) / 1e9);
    out += fmt::format("mailsift_scan_duration_seconds_count{{frontend=\"{}\"}} {}\n",
                       kFrontendNames[f], cumulative);
  }
  if (extra_)
    out += extra_();
  return out;
}

}  // namespace mailsift::http
