// mailsift::outbound::testing — the OutboundStore conformance suite's plug-in point.
//
// A backend's test binary links `mailsift_outbound_conformance` and instantiates the suite:
//
//   MAILSIFT_OUTBOUND_CONFORMANCE(Redis, (mailsift::outbound::testing::BackendFactory{
//       "redis", [](const std::string& dir) { return open_redis("redis://...fresh db..."); },
//       /*reopen=*/nullptr}));
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "outbound/store.h"

namespace mailsift::outbound::testing {

struct BackendFactory {
  std::string name;
  // A new, empty store; `dir` is a fresh directory owned by the test.
  std::function<Result<std::unique_ptr<OutboundStore>>(const std::string& dir)> open_fresh;
  // A second handle on the data last opened on `dir` (another process); nullptr = not persistent.
  std::function<Result<std::unique_ptr<OutboundStore>>(const std::string& dir)> reopen;
};

inline std::ostream& operator<<(std::ostream& os, const BackendFactory& f) { return os << f.name; }

class OutboundStoreConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  OutboundStore& store() { return *store_; }
  std::unique_ptr<OutboundStore> reopen();  // nullptr when the backend is not persistent
  std::string dir_;
  std::unique_ptr<OutboundStore> store_;
};

}  // namespace mailsift::outbound::testing

// At global scope in the instantiating file (gtest pastes the suite name into identifiers).
using OutboundStoreConformance = ::mailsift::outbound::testing::OutboundStoreConformance;
#define MAILSIFT_OUTBOUND_CONFORMANCE(prefix, factory)                              \
  INSTANTIATE_TEST_SUITE_P(prefix, OutboundStoreConformance, ::testing::Values(factory), \
                           [](const auto& info) { return info.param.name; })
