// mailsift::decisions::testing — the DecisionLog conformance suite's plug-in point.
//
// Owns: how a DecisionLog backend joins the one conformance suite
// (decisions_conformance_test.cc). A backend's test binary links the
// `mailsift_decisions_conformance` object library and instantiates the suite with a factory:
//
//   MAILSIFT_DECISIONS_CONFORMANCE(Postgres, (mailsift::decisions::testing::LogFactory{
//       "postgres", [](const std::string& dir) { return open_pg_log("...fresh schema..."); },
//       [](const std::string& dir) { return open_pg_log("...same schema..."); }}));
//
// Failure semantics: a factory returning an error fails the test that asked for the log.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "decisions/decisions.h"

namespace mailsift::decisions::testing {

struct LogFactory {
  std::string name;
  // A new, empty log. `dir` is a fresh empty directory owned by the test (file backends put
  // their data there; others may ignore it).
  std::function<Result<std::unique_ptr<DecisionLog>>(const std::string& dir)> open_fresh;
  // Another independent handle on the data of the log last opened on `dir` (a second
  // connection / a restarted process). nullptr when the backend keeps no data outside the
  // object (memory): persistence and cross-connection tests are then skipped.
  std::function<Result<std::unique_ptr<DecisionLog>>(const std::string& dir)> reopen;
};

inline std::ostream& operator<<(std::ostream& os, const LogFactory& f) {
  return os << f.name;
}

// The suite fixture; tests are defined in decisions_conformance_test.cc.
class DecisionLogConformance : public ::testing::TestWithParam<LogFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::unique_ptr<DecisionLog> fresh();   // asserts success
  std::unique_ptr<DecisionLog> reopen();  // asserts success; nullptr (test skips) if unsupported
  std::string dir_;
};

}  // namespace mailsift::decisions::testing

// Runs every conformance test against the backend made by `factory_expr` (a LogFactory).
// Use at namespace scope.
#define MAILSIFT_DECISIONS_CONFORMANCE(instance_name, factory_expr)                                \
  using ::mailsift::decisions::testing::DecisionLogConformance;                                    \
  INSTANTIATE_TEST_SUITE_P(instance_name, DecisionLogConformance, ::testing::Values(factory_expr), \
                           [](const auto& info) { return info.param.name; })
