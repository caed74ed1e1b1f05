// libFuzzer target: bytes -> the DKIM key record parser (tag list, v=/k=/h=/s=/t= flags, base64
// p= and the OpenSSL key decoders for RSA SubjectPublicKeyInfo, PKCS#1 and raw Ed25519).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dkim/internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)mailsift::dkim::detail::parse_key_record(input);
  (void)mailsift::dkim::detail::base64_decode(input);
  return 0;
}
