#include "tenant/sending_domains.h"

#include <cctype>

namespace mailsift::tenant {

Result<std::vector<std::string>> sending_domains(TenantStore& store, std::string_view login) {
  std::vector<std::string> out;
  const auto at = login.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == login.size())
    return out;  // not a mailbox address: the tenant model has no such user
  std::string address(login);
  for (auto& c : address)  // logins arrive in any case; tenant ids are lower-case
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto user = store.get_user(address);
  if (!user)
    return user.error();
  if (*user)
    out.push_back((*user)->domain);
  return out;
}

}  // namespace mailsift::tenant
