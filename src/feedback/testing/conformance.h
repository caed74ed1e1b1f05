// mailsift::feedback::testing — the FeedbackStore conformance suite's plug-in point.
//
// Owns: the fixture of the one feedback suite (feedback_test.cc: the whole report pipeline,
// FeedbackService over a FeedbackStore, with a scripted learner and list sink) and how a backend
// joins it. A backend's test binary links the `mailsift_feedback_conformance` object library and
// instantiates the suite with a factory, as tenant/testing/conformance.h does:
//
//   MAILSIFT_FEEDBACK_CONFORMANCE(Postgres, (mailsift::feedback::testing::StoreFactory{
//       "postgres", [](const std::string& dir) { return open_postgres_feedback_store(...); }}));
//
// Failure semantics: a factory returning an error fails the test that asked for the store.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "feedback/feedback.h"

namespace mailsift::feedback::testing {

struct StoreFactory {
  std::string name;
  // A new, empty store; `dir` is a fresh empty directory owned by the test.
  std::function<Result<std::unique_ptr<FeedbackStore>>(const std::string& dir)> open_fresh;
};

inline std::ostream& operator<<(std::ostream& os, const StoreFactory& f) {
  return os << f.name;
}

// Scripted engine: the global classifier's probability per message comes from a marker in
// the body ("P=0.001"); the user's verdict is spam when the body says "USERSPAM".
class FakeLearner : public Learner {
 public:
  Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                  const scan::Recipient& scope) override {
    if (fail_next) {
      fail_next = false;
      return Error::temporary("store down");
    }
    std::string key = scope.user.empty() ? (scope.domain.empty() ? "g:" : "d:" + scope.domain)
                                         : "u:" + scope.user;
    learned.push_back(key + "/" + store::to_string(cls));
    return scan::LearnResult{store::LearnOutcome::kLearned, {}, "digest"};
  }
  Result<scan::Verdict> scan(std::string_view raw, const scan::Recipient& rcpt) override {
    scan::Verdict v;
    size_t p = raw.find("P=");
    if (p != std::string_view::npos)
      v.spam_probability = std::stod(std::string(raw.substr(p + 2, 6)));
    v.action = raw.find("USERSPAM") != std::string_view::npos ? scan::Action::kAddHeader
                                                              : scan::Action::kNoAction;
    return v;
  }
  int count(const std::string& what) const {
    int n = 0;
    for (const auto& l : learned)
      n += l == what;
    return n;
  }
  std::vector<std::string> learned;
  bool fail_next = false;
};

class FakeLists : public SenderLists {
 public:
  Status block_sender(const scan::Recipient& u, const std::string& a, const std::string&) override {
    blocked.push_back(u.user + ">" + a);
    return Ok{};
  }
  Status allow_sender(const scan::Recipient& u, const std::string& a, const std::string&) override {
    allowed.push_back(u.user + ">" + a);
    return Ok{};
  }
  std::vector<std::string> blocked, allowed;
};

class FeedbackConformance : public ::testing::TestWithParam<StoreFactory> {
 public:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("feedback_test_" + std::to_string(::getpid()) + "_" + GetParam().name + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto s = GetParam().open_fresh(dir.string());
    ASSERT_TRUE(s.ok()) << s.error().describe();
    store = std::move(*s);
    spool = std::filesystem::temp_directory_path() /
            ("feedback_spool_" + std::to_string(::getpid()) + "_" + GetParam().name);
    std::filesystem::remove_all(spool);
    options.arf_spool = spool.string();
    options.trusted_senders = {"news.example"};
    make_service();
  }
  void TearDown() override {
    service.reset();
    store.reset();
    if (!dir.empty())
      std::filesystem::remove_all(dir);
    std::filesystem::remove_all(spool);
  }
  void make_service() {
    service = std::make_unique<FeedbackService>(
        options, *store, learner, &lists, [this](std::string_view) { return dkim_domains; },
        [this] { return now += 1000; });
  }
  Response report(const std::string& user, Kind kind, const std::string& raw) {
    Request r;
    r.user.user = user;
    r.kind = kind;
    r.raw = raw;
    auto res = service->report(r);
    EXPECT_TRUE(res.ok()) << (res.ok() ? "" : res.error().describe());
    return res.ok() ? *res : Response{};
  }
  size_t spool_files() const {
    if (!std::filesystem::exists(spool))
      return 0;
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(spool))
      n += e.is_regular_file();
    return n;
  }

  std::filesystem::path dir, spool;
  std::unique_ptr<FeedbackStore> store;
  FakeLearner learner;
  FakeLists lists;
  Options options;
  std::vector<std::string> dkim_domains;
  int64_t now = 1'700'000'000'000;
  std::unique_ptr<FeedbackService> service;
};

}  // namespace mailsift::feedback::testing

#define MAILSIFT_FEEDBACK_CONFORMANCE(instance_name, factory_expr)                              \
  using ::mailsift::feedback::testing::FeedbackConformance;                                     \
  INSTANTIATE_TEST_SUITE_P(instance_name, FeedbackConformance, ::testing::Values(factory_expr), \
                           [](const auto& info) { return info.param.name; })
