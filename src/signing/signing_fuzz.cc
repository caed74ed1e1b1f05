// libFuzzer target: untrusted message bytes -> the signing path's own header handling (From
// domain, Subject replacement, field split) and a DKIM signature / ARC seal over them with a
// fixed Ed25519 key; also the key-table parser (config text).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "signing/signing.h"

using namespace mailsift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static signing::Signer* signer = [] {
    signing::KeyEntry e;
    e.domain = "example.com";
    e.selector = "s";
    e.key = dkim::SigningKey::from_ed25519_seed(std::string(32, '\x2a')).value();
    auto* s = new signing::Signer({e}, {}, true);
    s->set_arc(e.key, "example.net", "arc");
    return s;
  }();
  (void)signing::parse_key_table(input);
  (void)signing::from_domain(input);
  std::string rewritten = signing::with_subject(input, "[tag] x\n y");
  (void)signing::split_field(input);
  (void)signer->dkim_sign(rewritten, "a@example.com", 1780000000);
  (void)signer->arc_seal(input, "mx.example.net; spf=pass; arc=pass", 1780000000);
  return 0;
}
