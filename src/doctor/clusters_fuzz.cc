// libFuzzer target: the clusters file parser (TOML text only; key files are never read here).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "doctor/clusters.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = mailsift::doctor::parse_clusters(text);
  if (parsed)
    for (const auto& c : parsed->clusters)
      for (const auto& n : c.outbound)
        (void)mailsift::doctor::parse_network(n.text);
  (void)mailsift::doctor::parse_network(text);
  return 0;
}
