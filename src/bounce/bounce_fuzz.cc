// libFuzzer target: raw bytes → bounce::parse → JSON and text renderings. Seeds in corpus/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bounce/bounce.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto report = mailsift::bounce::parse(raw);
  if (report.ok()) {
    (void)mailsift::bounce::to_json(*report, "fuzz");
    (void)mailsift::bounce::to_text(*report);
  }
  return 0;
}
