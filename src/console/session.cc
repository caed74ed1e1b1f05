#include "console/session.h"

#include <openssl/rand.h>

namespace mailsift::console {

Result<std::string> random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return Error::temporary("console: the system random generator failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool same_token(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

Result<Session> SessionStore::create(const tenant::Principal& who, std::string api_key) {
  auto token = random_token();
  if (!token)
    return token.error();
  auto csrf = random_token();
  if (!csrf)
    return csrf.error();
  Session s{std::move(*token), std::move(*csrf), who, std::move(api_key), clock_() + ttl_};
  std::lock_guard lock(mu_);
  const int64_t now = clock_();
  for (auto it = sessions_.begin(); it != sessions_.end();)
    it = it->second.expires_at <= now ? sessions_.erase(it) : std::next(it);
  while (sessions_.size() >= max_ && !sessions_.empty()) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
      if (it->second.expires_at < oldest->second.expires_at)
        oldest = it;
    sessions_.erase(oldest);
  }
  sessions_[s.token] = s;
  return s;
}

std::optional<Session> SessionStore::find(std::string_view token) {
  if (token.size() != 64)
    return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end())
    return std::nullopt;
  if (it->second.expires_at <= clock_()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void SessionStore::erase(std::string_view token) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(token);
  if (it != sessions_.end())
    sessions_.erase(it);
}

size_t SessionStore::size() {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace mailsift::console
