// Key revocation lookup (tenant.h: find_key_for_revoke); removal itself is in the backends.
#include <fmt/format.h>

#include "tenant/tenant.h"

namespace mailsift::tenant {

Result<std::optional<ApiKeyRecord>> find_key_for_revoke(TenantStore& s, const Principal& who,
                                                        std::string_view key_or_id) {
  const std::string scope = who.role == Role::kAdmin ? std::string() : who.reseller;
  auto visible = [&](const ApiKeyRecord& k) {
    return who.role == Role::kAdmin || (k.role == Role::kReseller && k.reseller == who.reseller);
  };
  if (key_or_id.starts_with("msk_")) {
    auto rec = s.find_api_key(sha256_hex(key_or_id));
    if (!rec)
      return rec.error();
    if (*rec && !visible(**rec))
      return std::optional<ApiKeyRecord>();  // another reseller's key: as if unknown
    return rec;
  }
  std::string id;
  for (char c : key_or_id) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return Error::malformed("a key id is hex digits (the start of the key's SHA-256)");
    id += c;
  }
  if (id.size() < 12)
    return Error::malformed("a key id needs at least 12 hex digits");
  auto keys = s.list_api_keys(scope);
  if (!keys)
    return keys.error();
  std::optional<ApiKeyRecord> found;
  for (const auto& k : *keys) {
    if (!k.hash.starts_with(id) || !visible(k))
      continue;
    if (found)
      return Error::malformed(fmt::format("key id {} is ambiguous: give more digits", id));
    found = k;
  }
  return found;
}

}  // namespace mailsift::tenant
