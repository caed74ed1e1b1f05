// mailsift::console::SessionStore — who is logged in to the console.
//
// Owns: console sessions in memory: a random token (32 bytes from OpenSSL RAND_bytes, hex) that
// the browser holds in an HttpOnly, SameSite=Strict cookie; the principal (admin or reseller)
// and the API key it logged in with (the console calls the JSON API extensions in-process as
// that key); a per-session CSRF token every POST form must echo; an absolute expiry. Sessions
// do not survive a restart (agents log in again) and are not shared between mailsiftd nodes.
//
// Failure semantics: create() is kTemporary when the CSPRNG fails (no session is made);
// find() of an unknown or expired token is nullopt. At most max_sessions live sessions: the
// oldest is evicted to make room (a flood of logins cannot grow memory without bound).
// Thread-safety: every method locks; safe from all io_context threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/result.h"
#include "tenant/tenant.h"

namespace mailsift::console {

struct Session {
  std::string token;  // cookie value
  std::string csrf;   // hidden field of every POST form
  tenant::Principal principal;
  std::string api_key;
  int64_t expires_at = 0;  // unix seconds
};

// 32 random bytes as 64 hex digits; kTemporary when RAND_bytes fails.
Result<std::string> random_token();

// Constant-time string comparison (tokens must not leak through timing).
bool same_token(std::string_view a, std::string_view b);

class SessionStore {
 public:
  SessionStore(tenant::Clock clock, int64_t ttl_seconds, size_t max_sessions = 10000)
      : clock_(std::move(clock)), ttl_(ttl_seconds), max_(max_sessions) {}
  Result<Session> create(const tenant::Principal& who, std::string api_key);
  std::optional<Session> find(std::string_view token);
  void erase(std::string_view token);
  size_t size();
  int64_t ttl_seconds() const { return ttl_; }

 private:
  tenant::Clock clock_;
  int64_t ttl_;
  size_t max_;
  std::mutex mu_;
  std::map<std::string, Session, std::less<>> sessions_;
};

}  // namespace mailsift::console
