// A circuit breaker around the Redis outbound store: see resilient.h
// (wrap_outbound_with_breaker).
#include <chrono>
#include <iostream>

#include "fleet/resilient.h"

namespace mailsift::fleet {

namespace {

// Every call: refused at once (kTemporary) while the breaker is open, otherwise passed through
// and its outcome recorded. Sending limits need the shared counters: with them unavailable the
// policy listener answers its tempfail (451 4.3.0), now without waiting redis.timeout_ms per call.
class BreakerOutboundStore : public outbound::OutboundStore {
 public:
  BreakerOutboundStore(std::unique_ptr<outbound::OutboundStore> inner,
                       std::shared_ptr<Breaker> breaker)
      : in_(std::move(inner)), b_(std::move(breaker)) {}

  Result<std::optional<outbound::AccountStatus>> get_status(const outbound::Subject& s) override {
    return call([&] { return in_->get_status(s); });
  }
  Status put_status(const outbound::AccountStatus& s) override {
    return call([&] { return in_->put_status(s); });
  }
  Result<std::vector<outbound::AccountStatus>> restricted() override {
    return call([&] { return in_->restricted(); });
  }
  Status add_count(std::string_view key, int64_t bucket, int64_t delta,
                   int64_t keep_from) override {
    return call([&] { return in_->add_count(key, bucket, delta, keep_from); });
  }
  Result<int64_t> sum_counts(std::string_view key, int64_t first, int64_t last) override {
    return call([&] { return in_->sum_counts(key, first, last); });
  }
  Result<bool> touch_member(std::string_view key, std::string_view member, int64_t now_ms,
                            int64_t keep_since_ms) override {
    return call([&] { return in_->touch_member(key, member, now_ms, keep_since_ms); });
  }
  Result<bool> has_member(std::string_view key, std::string_view member,
                          int64_t since_ms) override {
    return call([&] { return in_->has_member(key, member, since_ms); });
  }
  Result<int64_t> count_members(std::string_view key, int64_t since_ms) override {
    return call([&] { return in_->count_members(key, since_ms); });
  }
  Result<std::optional<std::string>> get_value(std::string_view key) override {
    return call([&] { return in_->get_value(key); });
  }
  Status put_value(std::string_view key, std::string_view value) override {
    return call([&] { return in_->put_value(key, value); });
  }
  Status add_alert(const outbound::Alert& a) override {
    return call([&] { return in_->add_alert(a); });
  }
  Result<std::vector<outbound::Alert>> alerts(std::string_view subject_key, size_t limit) override {
    return call([&] { return in_->alerts(subject_key, limit); });
  }

 private:
  template <typename F>
  auto call(F&& f) -> decltype(f()) {
    if (!b_->allow())
      return Error::temporary(b_->name() + ": circuit open (outbound counters unavailable)");
    auto r = f();
    if (r)
      b_->success();
    else if (r.error().kind == ErrorKind::kTemporary)
      b_->failure(r.error().message);
    return r;
  }
  std::unique_ptr<outbound::OutboundStore> in_;
  std::shared_ptr<Breaker> b_;
};

}  // namespace

std::unique_ptr<outbound::OutboundStore> wrap_outbound_with_breaker(
    std::unique_ptr<outbound::OutboundStore> inner, int breaker_ms, FaultLog log) {
  if (!log)
    log = [](const std::string& event, const std::string& detail) {
      std::cerr << event << ": " << detail << "\n";
    };
  auto breaker = std::make_shared<Breaker>(
      "redis (outbound)", breaker_ms,
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      },
      std::move(log));
  return std::make_unique<BreakerOutboundStore>(std::move(inner), std::move(breaker));
}

}  // namespace mailsift::fleet
