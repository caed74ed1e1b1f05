// mailsift::feedback::RateLimiter — report storms: a token bucket per key (user, API key).
//
// Owns: per-key buckets of `burst` tokens refilled at `per_minute` tokens a minute; take()
// spends one or says how long until one is available (the HTTP layer answers 429 with
// Retry-After). Keys idle long enough to be full again are forgotten, so memory is bounded by
// the keys active within the last refill period.
// Failure semantics: none (pure, in memory; a restart refills every bucket).
// Thread-safety: take() is serialised by a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mailsift::feedback {

class RateLimiter {
 public:
  struct Decision {
    bool allowed = true;
    int64_t retry_after_s = 0;  // when refused: whole seconds until one token is back (>= 1)
  };
  // per_minute <= 0 disables the limiter (every take() is allowed).
  RateLimiter(double per_minute, int burst, std::function<int64_t()> now_ms);
  Decision take(const std::string& key);
  bool enabled() const { return per_minute_ > 0; }
  double per_minute() const { return per_minute_; }
  int burst() const { return burst_; }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  void prune(int64_t now);
  double per_minute_;
  int burst_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  int64_t last_prune_ms_ = 0;
};

}  // namespace mailsift::feedback
