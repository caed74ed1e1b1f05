// libFuzzer target: the DMARC record parser and the RFC5322.From author-domain extractor on
// arbitrary bytes. Nothing may crash or hang; no DNS is touched.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dmarc/dmarc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailsift::dmarc;
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)is_dmarc_record(text);
  auto rec = parse_record(text);
  if (rec.ok() && (rec->pct < 0 || rec->pct > 100))
    __builtin_trap();  // invariant
  std::string fields[] = {text};
  (void)author_domain(fields);
  return 0;
}
