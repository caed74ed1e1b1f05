// mailsift::tenant sending domains — which From domains a mailbox may use on outbound mail,
// according to the tenant store (the OwnedDomains hook of aup::make_outbound_engine; wired in
// mailsiftd, docs/outbound-aup.md "Owned domains").
//
// Rule (deliberately conservative): a registered user owns the domain it is registered under
// (User.domain; the forged-From check also accepts subdomains of it). Other domains of the same
// reseller do NOT count: a reseller hosts unrelated customers, and letting one customer's
// mailbox send as another customer's domain is exactly the forgery the check exists to stop.
// A login that is not an address, or an address the tenant store does not know, adds nothing
// (the check still compares with the login's own domain).
// Failure semantics: a store error is returned as is (the forged-From check then records a
// check error and does not judge the message; it never rejects on missing data).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tenant/tenant.h"

namespace mailsift::tenant {

Result<std::vector<std::string>> sending_domains(TenantStore& store, std::string_view login);

}  // namespace mailsift::tenant
