// libFuzzer target for the console's browser-input parsers: urlencoded and multipart form
// bodies and Cookie headers. The first line of the input is the Content-Type.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "console/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view content_type = nl == std::string_view::npos ? in : in.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  (void)mailsift::console::parse_form(body, content_type);
  (void)mailsift::console::parse_urlencoded(body);
  (void)mailsift::console::parse_cookies(body);
  return 0;
}
