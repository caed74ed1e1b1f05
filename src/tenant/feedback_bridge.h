// mailsift::tenant ↔ mailsift::feedback: the two places where tenant data steers feedback.
//
// Owns:
//  - feedback_learning_lookup(): the tenant policy flag "learning enabled", resolved for the
//    reporter (user → domain → reseller → config) and for the reporter's domain, with the level
//    that decided, for FeedbackService::set_learning_lookup;
//  - feedback_removal_purger(): what happens to a removed tenant's learned data (TenantApi's
//    removal hook): for every removed mailbox, its feedback state is deleted (reports,
//    reliability, sender reputation, corrections, consent) and every message its reports taught
//    its own scope is unlearned there (tokens and near-duplicate fingerprint, by digest).
// Failure semantics: store errors come back as values (kTemporary: retry the lookup / the purge
// of the users listed as not purged).
#pragma once

#include "feedback/feedback.h"
#include "store/store.h"
#include "tenant/api.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {

feedback::LearningLookup feedback_learning_lookup(TenantStore& store, PolicyDefaults defaults);

struct PurgeResult {
  std::vector<std::string> users;  // users whose feedback state was deleted
  int64_t reports = 0;             // reports deleted
  int64_t unlearned = 0;           // messages unlearned from the users' scopes
  std::vector<std::string> errors;
};
Result<PurgeResult> purge_users(feedback::FeedbackStore& feedback, store::Store& stats,
                                const std::vector<std::string>& users);
RemovalHook feedback_removal_purger(feedback::FeedbackStore& feedback, store::Store& stats);

}  // namespace mailsift::tenant
