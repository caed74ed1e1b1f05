#include "tenant/policy_provider.h"

#include <fmt/format.h>

#include <cctype>

#include "tenant/list_check.h"

namespace mailsift::tenant {

Result<policy::RecipientPolicy> TenantPolicyProvider::lookup(std::string_view recipient_address) {
  auto base = fallback_->lookup(recipient_address);
  if (!base)
    return base.error();
  std::string address(recipient_address);
  for (char& c : address)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto user = store_.get_user(address);
  if (!user)
    return Error::temporary("tenant store: " + user.error().message);
  policy::RecipientPolicy out = std::move(*base);
  if (*user) {
    auto eff = effective_policy(store_, defaults_, address);
    if (!eff) {
      if (eff.error().kind == ErrorKind::kTemporary)
        return eff.error();
    } else {
      out.actions = to_action_policy(*eff);
      out.tenant.user = eff->user;
      out.tenant.domain = eff->domain;
      out.tenant.reseller = eff->reseller;
    }
  }
  if (shift_) {
    auto shift = shift_(address);
    if (!shift)
      return Error::temporary("feedback store: " + shift.error().message);
    if (*shift != 0) {
      out.actions.add_header += *shift;
      out.actions.source += fmt::format("; feedback {:+.2f}", *shift);
    }
  }
  return out;
}

}  // namespace mailsift::tenant
