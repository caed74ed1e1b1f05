// libFuzzer entry for the MIME parser: parse with tight limits, then touch every field so
// sanitizers see any bad view or buffer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mime/facts.h"
#include "mime/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailsift::mime;
  std::string input(reinterpret_cast<const char*>(data), size);  // exact-size heap copy for ASan
  Limits limits;
  limits.max_message_bytes = 1u << 20;
  limits.max_header_bytes = 16u << 10;
  limits.max_headers = 200;
  limits.max_depth = 8;
  limits.max_parts = 64;
  limits.max_text_bytes = 64u << 10;
  limits.max_urls = 100;
  limits.max_emails = 100;
  auto result = parse(input, limits);
  if (!result.ok())
    return 0;
  const Message& m = result.value();
  size_t sink = 0;
  for (const Part& p : m.parts) {
    for (const Header& h : p.headers) {
      sink += h.name.size() + h.raw_value.size() + h.value.size();
      if (!h.name.empty())
        sink += static_cast<unsigned char>(h.name.back());
      if (!h.raw_value.empty())
        sink += static_cast<unsigned char>(h.raw_value.front());
    }
    if (!p.raw_body.empty())
      sink += static_cast<unsigned char>(p.raw_body.back());
    if (!p.preamble.empty())
      sink += static_cast<unsigned char>(p.preamble.back());
    if (!p.epilogue.empty())
      sink += static_cast<unsigned char>(p.epilogue.back());
    sink += p.decoded.size() + p.filename.size();
  }
  for (const TextPart& t : m.texts)
    sink += t.text.size() + t.hidden_text.size();
  for (const Url& u : m.urls)
    sink += u.url.size() + u.host.size() + u.anchor_text.size();
  for (const auto& e : m.emails)
    sink += address_domain(e).size();
  for (const Attachment& a : m.attachments)
    sink += a.sha256.size() + a.sniffed_type.size();
  for (const auto& f : m.facts) {
    if (!is_known_fact(f))
      __builtin_trap();  // only documented names may appear
  }
  if (m.parts.size() > limits.max_parts || m.urls.size() > limits.max_urls)
    __builtin_trap();
  if (const Header* from = m.header("From"))
    sink += extract_address(from->value).size();
  sink += m.subject().size();
  volatile size_t keep = sink;
  (void)keep;
  return 0;
}
