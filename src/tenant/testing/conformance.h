// mailsift::tenant::testing — the TenantStore conformance suite's plug-in point.
//
// Owns: how a TenantStore backend joins the one conformance suite (tenant_conformance_test.cc).
// A backend's test binary links the `mailsift_tenant_conformance` object library and
// instantiates the suite with a factory, as src/store/testing/conformance.h does for Store:
//
//   MAILSIFT_TENANT_CONFORMANCE(Postgres, (mailsift::tenant::testing::BackendFactory{
//       "postgres", [](const std::string& dir) { return open_tenant_store("postgres://..."); },
//       /*reopen=*/nullptr}));
//
// Failure semantics: a factory returning an error fails the test that asked for the store.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "tenant/tenant.h"

namespace mailsift::tenant::testing {

struct BackendFactory {
  std::string name;
  // A new, empty store; `dir` is a fresh empty directory owned by the test.
  std::function<Result<std::unique_ptr<TenantStore>>(const std::string& dir)> open_fresh;
  // Another handle on the data last opened on `dir` (restart); nullptr for memory backends:
  // persistence tests are then skipped.
  std::function<Result<std::unique_ptr<TenantStore>>(const std::string& dir)> reopen;
};

inline std::ostream& operator<<(std::ostream& os, const BackendFactory& f) {
  return os << f.name;
}

class TenantConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::unique_ptr<TenantStore> fresh();   // asserts success
  std::unique_ptr<TenantStore> reopen();  // nullptr when unsupported (test skips)
  std::string dir_;
};

}  // namespace mailsift::tenant::testing

#define MAILSIFT_TENANT_CONFORMANCE(instance_name, factory_expr)                              \
  using ::mailsift::tenant::testing::TenantConformance;                                       \
  INSTANTIATE_TEST_SUITE_P(instance_name, TenantConformance, ::testing::Values(factory_expr), \
                           [](const auto& info) { return info.param.name; })
