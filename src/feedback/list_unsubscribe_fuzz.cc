// libFuzzer: List-Unsubscribe parsing and ARF rendering accept any bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "feedback/feedback.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view v(reinterpret_cast<const char*>(data), size);
  size_t cut = v.find('\n');
  std::string_view lu = v.substr(0, cut);
  std::string_view post = cut == std::string_view::npos ? std::string_view() : v.substr(cut + 1);
  auto u = mailsift::feedback::parse_list_unsubscribe(lu, post);
  if (u.one_click && u.http.rfind("https://", 0) != 0)
    __builtin_trap();
  mailsift::feedback::ArfInput in;
  in.original_rcpt = std::string(post);
  in.raw = std::string(lu);
  (void)mailsift::feedback::render_arf(in);
  return 0;
}
