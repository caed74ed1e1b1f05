// libFuzzer: the Authentication-Results authserv-id reader must accept any bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/authres.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view v(reinterpret_cast<const char*>(data), size);
  auto id = mailsift::auth::authserv_id_of(v);
  (void)mailsift::auth::claims_authserv_id(v, id);
  mailsift::auth::MethodResult r{
      "spf", "pass", std::string(v), std::string(v), {{"smtp", "mailfrom", std::string(v)}}};
  (void)mailsift::auth::render_authentication_results(id, {r});
  return 0;
}
