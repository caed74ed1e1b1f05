// libFuzzer target: bytes -> the raw message split, the DKIM-Signature tag-list and signature
// parsers and the whole verify() path against an in-memory zone (no network). The input is used
// both as a message and as a bare tag list.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dkim/dkim.h"
#include "dkim/internal.h"
#include "dns/testing/fake_resolver.h"

using namespace mailsift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto tags = dkim::detail::parse_tag_list(input); tags.ok())
    (void)dkim::detail::parse_sig_core(*tags);
  (void)dkim::detail::strip_b_value(input);
  static dns::testing::FakeResolver* dns = [] {
    auto* r = new dns::testing::FakeResolver;
    r->add("sel._domainkey.example.com", dns::RType::kTXT,
           "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    r->add("rsa._domainkey.example.com", dns::RType::kTXT,
           "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08"
           "a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKr"
           "M3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB");
    return r;
  }();
  (void)dkim::verify(input, *dns, 1667843664);
  return 0;
}
