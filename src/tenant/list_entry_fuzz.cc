// libFuzzer target: list-entry text (address / domain / *.domain / IP / CIDR) -> parser; every
// accepted entry must re-parse to itself (canonical form is a fixed point) and match without
// crashing against senders derived from the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tenant/list_entry.h"

using namespace mailsift::tenant;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto p = parse_list_entry(input);
  // The second half of the input as a sender / client IP.
  std::string_view half = input.substr(size / 2);
  SenderFacts facts{std::string(half), {std::string(half)}, std::string(half)};
  if (!p.ok()) {
    if (p.error().message.empty())
      __builtin_trap();
    return 0;
  }
  std::string text = display(*p);
  auto again = parse_list_entry(text);
  if (!again.ok() || !(*again == *p))
    __builtin_trap();  // canonical form must be stable
  (void)match_pattern(*p, facts);
  if (p->type == EntryType::kIp || p->type == EntryType::kCidr) {
    std::string ip = p->value.substr(0, p->value.find('/'));
    if (!parse_ip(ip))
      __builtin_trap();
    SenderFacts self{"", {}, ip};
    if (match_pattern(*p, self).empty())
      __builtin_trap();  // a network contains its own address
  }
  return 0;
}
