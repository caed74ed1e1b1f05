// libFuzzer target: bytes -> ARC header parsing and chain validation (set collection, i= and cv=
// rules, AMS/AS tag parsing, signature checks) against an in-memory zone, then sealing on top.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "arc/arc.h"
#include "dns/testing/fake_resolver.h"

using namespace mailsift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static dns::testing::FakeResolver* dns = [] {
    auto* r = new dns::testing::FakeResolver;
    r->add("dummy._domainkey.example.org", dns::RType::kTXT,
           "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08"
           "a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKr"
           "M3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB");
    return r;
  }();
  static const dkim::SigningKey* key = [] {
    // RFC 8032 §7.1 test 1 seed: cheap to sign with, so sealing can run on every input.
    static const unsigned char seed[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60,
                                           0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
                                           0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
                                           0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
    return new dkim::SigningKey(dkim::SigningKey::from_ed25519_seed(
                                    std::string_view(reinterpret_cast<const char*>(seed), 32))
                                    .value());
  }();
  arc::ChainResult chain = arc::validate(input, *dns);
  arc::SealOptions o{"example.org", "dummy", {}};
  (void)arc::seal(input, *key, o, "mx.example.org", "spf=pass", 12345, chain);
  return 0;
}
