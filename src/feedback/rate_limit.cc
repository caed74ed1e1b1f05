#include "feedback/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace mailsift::feedback {

RateLimiter::RateLimiter(double per_minute, int burst, std::function<int64_t()> now_ms)
    : per_minute_(per_minute), burst_(std::max(1, burst)), now_ms_(std::move(now_ms)) {}

RateLimiter::Decision RateLimiter::take(const std::string& key) {
  if (per_minute_ <= 0)
    return {};
  std::lock_guard lock(mu_);
  const int64_t now = now_ms_();
  prune(now);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{static_cast<double>(burst_), now});
  Bucket& b = it->second;
  if (!fresh) {
    const double elapsed_min = static_cast<double>(std::max<int64_t>(0, now - b.at_ms)) / 60000.0;
    b.tokens = std::min(static_cast<double>(burst_), b.tokens + elapsed_min * per_minute_);
    b.at_ms = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return {};
  }
  const double wait_s = (1 - b.tokens) * 60.0 / per_minute_;
  return {false, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_s)))};
}

// A bucket untouched for the time it takes to refill completely is equal to a new one.
void RateLimiter::prune(int64_t now) {
  const auto full_ms = static_cast<int64_t>(static_cast<double>(burst_) * 60000.0 / per_minute_);
  if (now - last_prune_ms_ < std::max<int64_t>(full_ms, 1000))
    return;
  last_prune_ms_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();)
    it = now - it->second.at_ms >= full_ms ? buckets_.erase(it) : std::next(it);
}

}  // namespace mailsift::feedback
