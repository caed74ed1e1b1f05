// The FLEET_DEGRADED symbol: see degraded_check.h.
#include "fleet/degraded_check.h"

#include "fleet/resilient.h"

namespace mailsift::fleet {

namespace {

class ResetCheck : public scan::Check {
 public:
  std::string_view name() const override { return "fleet_reset"; }
  scan::Phase phase() const override { return scan::Phase::kPreFilter; }
  std::vector<scan::SymbolInfo> symbols() const override { return {}; }
  Status run(scan::ScanTask&, std::vector<scan::Symbol>&) override {
    (void)take_degraded();  // a mark from an earlier call on this thread is not this message's
    return Ok{};
  }
};

class DegradedCheck : public scan::Check {
 public:
  explicit DegradedCheck(double score) : score_(score) {}
  std::string_view name() const override { return "fleet_degraded"; }
  scan::Phase phase() const override { return scan::Phase::kPostFilter; }
  scan::CheckScope scope() const override { return scan::CheckScope::kRecipient; }
  std::vector<scan::SymbolInfo> symbols() const override {
    return {{kDegradedSymbol,
             "The shared learned-state server was unavailable: scored without shared learning "
             "(local content checks only)"}};
  }
  Status run(scan::ScanTask&, std::vector<scan::Symbol>& out) override {
    std::string why = take_degraded();
    if (!why.empty()) {
      out.push_back({kDegradedSymbol, score_, std::string(symbols()[0].description), why});
    }
    return Ok{};
  }

 private:
  double score_;
};

}  // namespace

std::vector<std::unique_ptr<scan::Check>> make_degraded_checks(double score) {
  std::vector<std::unique_ptr<scan::Check>> out;
  out.push_back(std::make_unique<ResetCheck>());
  out.push_back(std::make_unique<DegradedCheck>(score));
  return out;
}

CheckFactory with_degraded_checks(const Config& config, CheckFactory inner) {
  const std::string& sb = config.get_string("store.backend");
  if (sb != "redis" && sb != "postgres")
    return inner;
  const double score = config.get_double("fleet.degraded_score");
  return [inner = std::move(inner), score]() -> Result<std::vector<std::unique_ptr<scan::Check>>> {
    std::vector<std::unique_ptr<scan::Check>> checks;
    if (inner) {
      auto made = inner();
      if (!made)
        return made.error();
      checks = std::move(made).value();
    }
    for (auto& c : make_degraded_checks(score))
      checks.push_back(std::move(c));
    return checks;
  };
}

}  // namespace mailsift::fleet
