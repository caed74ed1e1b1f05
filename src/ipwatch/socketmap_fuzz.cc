// libFuzzer target: the socketmap netstring decoder and request splitter on arbitrary streams.
// Checks that decoded netstrings re-encode to exactly the bytes they consumed.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ipwatch/socketmap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace sm = mailsift::ipwatch::socketmap;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    auto d = sm::decode(in, 4096);
    if (d.status != sm::Decode::kComplete)
      break;
    if (d.consumed == 0 || d.consumed > in.size() ||
        sm::encode(d.payload) != in.substr(0, d.consumed))
      std::abort();
    if (auto r = sm::parse_request(d.payload)) {
      if (r->name.empty() || r->key.empty() || r->name.find(' ') != std::string_view::npos)
        std::abort();
    }
    in.remove_prefix(d.consumed);
  }
  return 0;
}
