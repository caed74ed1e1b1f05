// mailsift::store::testing — the backend conformance suite's plug-in point.
//
// Owns: how a Store backend joins the one conformance suite (store_conformance_test.cc). A
// backend's test binary links the `mailsift_store_conformance` object library and instantiates
// the suite with a factory:
//
//   MAILSIFT_STORE_CONFORMANCE(Redis, (mailsift::store::testing::BackendFactory{
//       "redis", [](const std::string& dir) { return open_store("redis://...fresh db..."); },
//       /*reopen=*/nullptr}));
//
// Failure semantics: a factory returning an error fails the test that asked for the store.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "store/store.h"

namespace mailsift::store::testing {

struct BackendFactory {
  std::string name;
  // A new, empty store. `dir` is a fresh empty directory owned by the test (file backends put
  // their data there; others may ignore it).
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> open_fresh;
  // Another independent handle on the data of the store last opened on `dir` (a second
  // connection / a restarted process). nullptr when the backend keeps no data outside the
  // object (memory): persistence and cross-connection tests are then skipped.
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> reopen;
};

inline std::ostream& operator<<(std::ostream& os, const BackendFactory& f) {
  return os << f.name;
}

// The suite fixture; tests are defined in store_conformance_test.cc.
class StoreConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::unique_ptr<Store> fresh();   // asserts success
  std::unique_ptr<Store> reopen();  // asserts success; skips the test if unsupported
  std::string dir_;
};

}  // namespace mailsift::store::testing

// Runs every conformance test against the backend made by `factory_expr` (a BackendFactory).
// Use at namespace scope.
#define MAILSIFT_STORE_CONFORMANCE(instance_name, factory_expr)                              \
  using ::mailsift::store::testing::StoreConformance;                                        \
  INSTANTIATE_TEST_SUITE_P(instance_name, StoreConformance, ::testing::Values(factory_expr), \
                           [](const auto& info) { return info.param.name; })
