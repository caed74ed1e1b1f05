#include "tenant/feedback_bridge.h"

#include <fmt/format.h>

#include "scan/check.h"

namespace mailsift::tenant {

feedback::LearningLookup feedback_learning_lookup(TenantStore& store, PolicyDefaults defaults) {
  return [&store, defaults](const scan::Recipient& who) -> Result<feedback::LearningPolicy> {
    feedback::LearningPolicy out;
    auto user = effective_policy(store, defaults, who.user);
    if (!user)
      return user.error();
    out.user = {user->learning_enabled.value, user->learning_enabled.from.describe()};
    // A bare domain resolves config → reseller → domain (effective_policy's domain-only form).
    std::string domain = who.domain;
    if (domain.empty() && who.user.find('@') != std::string::npos)
      domain = who.user.substr(who.user.rfind('@') + 1);
    auto dom = effective_policy(store, defaults, domain);
    if (!dom)
      return dom.error();
    out.domain = {dom->learning_enabled.value, dom->learning_enabled.from.describe()};
    return out;
  };
}

Result<PurgeResult> purge_users(feedback::FeedbackStore& feedback, store::Store& stats,
                                const std::vector<std::string>& users) {
  PurgeResult out;
  for (const auto& u : users) {
    auto reports = feedback.forget_user(u);
    if (!reports) {
      if (reports.error().kind == ErrorKind::kTemporary)
        return reports.error();
      out.errors.push_back(fmt::format("{}: {}", u, reports.error().message));
      continue;
    }
    out.users.push_back(u);
    const store::Scope scope = scan::learn_scope(scan::Recipient{u, "", ""});
    for (const auto& r : *reports) {
      ++out.reports;
      const auto cls = r.kind == feedback::Kind::kSpam ? store::Class::kSpam : store::Class::kHam;
      auto un = stats.unlearn(scope, r.digest, cls);
      if (!un) {
        out.errors.push_back(fmt::format("{}: unlearn {}: {}", u, r.digest, un.error().message));
        continue;
      }
      if (*un == store::LearnOutcome::kUnlearned)
        ++out.unlearned;
      if (auto f = stats.fuzzy_remove(scope, r.digest); !f)
        out.errors.push_back(fmt::format("{}: fingerprint {}: {}", u, r.digest, f.error().message));
    }
  }
  return out;
}

RemovalHook feedback_removal_purger(feedback::FeedbackStore& feedback, store::Store& stats) {
  return [&feedback, &stats](const Removal& removed) -> Result<nlohmann::ordered_json> {
    auto p = purge_users(feedback, stats, removed.users);
    if (!p)
      return p.error();
    return nlohmann::ordered_json{{"users", p->users},
                                  {"reports", p->reports},
                                  {"unlearned", p->unlearned},
                                  {"errors", p->errors}};
  };
}

}  // namespace mailsift::tenant
