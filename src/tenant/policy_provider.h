// mailsift::tenant::TenantPolicyProvider — per-recipient policy for mailsiftd from the tenant
// directory, on top of the operator's policy file.
//
// Owns: nothing but the composition. For a recipient known to the tenant store, the thresholds
// and spam action come from its effective policy (global config → reseller → domain → user, with
// provenance in ActionPolicy::source), then the user's feedback threshold shift is applied
// (bounded by feedback.threshold_max_shift; said in source). Unknown recipients get the fallback
// provider's answer unchanged. Block/allow lists are not read here: the tenant ListCheck runs in
// the engine for every recipient.
//
// Failure semantics: a tenant or feedback store error is kTemporary (the service tempfails that
// recipient, never a silent default).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "policy/policy.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {

// The user's threshold shift (0 when none); errors are temporary.
using ThresholdShift = std::function<Result<double>(const std::string& user)>;

class TenantPolicyProvider final : public policy::PolicyProvider {
 public:
  TenantPolicyProvider(std::unique_ptr<policy::PolicyProvider> fallback, TenantStore& store,
                       PolicyDefaults defaults, ThresholdShift shift)
      : fallback_(std::move(fallback)),
        store_(store),
        defaults_(std::move(defaults)),
        shift_(std::move(shift)) {}
  Result<policy::RecipientPolicy> lookup(std::string_view recipient_address) override;

 private:
  std::unique_ptr<policy::PolicyProvider> fallback_;
  TenantStore& store_;
  PolicyDefaults defaults_;
  ThresholdShift shift_;
};

}  // namespace mailsift::tenant
