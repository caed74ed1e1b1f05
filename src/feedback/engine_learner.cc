#include "feedback/feedback.h"

namespace mailsift::feedback {

Result<scan::LearnResult> EngineLearner::learn(std::string_view raw, store::Class cls,
                                               const scan::Recipient& scope) {
  std::lock_guard lock(mu_);
  return engine_.learn(raw, cls, scope);
}

Result<scan::Verdict> EngineLearner::scan(std::string_view raw, const scan::Recipient& rcpt) {
  std::lock_guard lock(mu_);
  return engine_.scan(raw, rcpt);
}

}  // namespace mailsift::feedback
