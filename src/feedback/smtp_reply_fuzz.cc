// libFuzzer: SMTP reply lines from the ARF relay (untrusted peer) parse or fail as values.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "feedback/arf_relay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view v(reinterpret_cast<const char*>(data), size);
  while (!v.empty()) {
    size_t nl = v.find('\n');
    std::string_view line = v.substr(0, nl == std::string_view::npos ? v.size() : nl + 1);
    bool more = false;
    auto r = mailsift::feedback::parse_smtp_reply_line(line, &more);
    if (r && (r->code < 200 || r->code > 599))
      __builtin_trap();
    v.remove_prefix(line.size());
  }
  return 0;
}
