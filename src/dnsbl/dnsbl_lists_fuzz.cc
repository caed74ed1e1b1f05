// Fuzzes the dnsbl.lists parser (parse_lists): any input either parses or gives a kConfig error;
// a parsed set printed with to_string() must parse again to the same canonical text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dnsbl/lists.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024)
    return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lists = mailsift::dnsbl::parse_lists(text);
  if (!lists.ok()) {
    if (lists.error().kind != mailsift::ErrorKind::kConfig)
      std::abort();
    return 0;
  }
  std::string canonical;
  for (const auto& l : *lists)
    canonical += (canonical.empty() ? "" : ",") + mailsift::dnsbl::to_string(l);
  auto again = mailsift::dnsbl::parse_lists(canonical);
  if (!again.ok() || again->size() != lists->size())
    std::abort();
  std::string twice;
  for (const auto& l : *again)
    twice += (twice.empty() ? "" : ",") + mailsift::dnsbl::to_string(l);
  if (twice != canonical)
    std::abort();
  return 0;
}
