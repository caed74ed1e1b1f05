// libFuzzer entry for the Postfix policy delegation codec: arbitrary bytes through PolicyDecoder
// in fragments whose sizes come from the input (the same bytes fed whole must give the same
// requests), and every decoded value through encode_policy_reply. Traps on a broken invariant.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "outbound/policy_codec.h"

using namespace mailsift::outbound;

namespace {

void check(bool ok) {
  if (!ok)
    __builtin_trap();
}

std::vector<PolicyRequest> drain(PolicyDecoder& d) {
  std::vector<PolicyRequest> out;
  while (auto r = d.next())
    out.push_back(std::move(*r));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  PolicyLimits limits;
  limits.max_line = 512;
  limits.max_attributes = 16;
  limits.max_request_bytes = 2048;

  PolicyDecoder whole(limits);
  const bool whole_ok = whole.feed(all).ok();
  auto whole_reqs = drain(whole);

  PolicyDecoder pieces(limits);
  std::vector<PolicyRequest> piece_reqs;
  bool pieces_ok = true;
  size_t pos = 0, i = 0;
  while (pos < all.size() && pieces_ok) {
    const size_t n = 1 + static_cast<unsigned char>(all[i++ % all.size()]) % 37;
    pieces_ok = pieces.feed(all.substr(pos, n)).ok();
    for (auto& r : drain(pieces))
      piece_reqs.push_back(std::move(r));
    pos += n;
  }
  check(whole_ok == pieces_ok);
  if (whole_ok) {
    check(whole_reqs.size() == piece_reqs.size());
    for (size_t k = 0; k < whole_reqs.size(); ++k)
      check(whole_reqs[k].attrs == piece_reqs[k].attrs);
  }
  for (const auto& r : whole_reqs) {
    check(!r.attrs.empty() && r.attrs.size() <= limits.max_attributes);
    for (const auto& [name, value] : r.attrs) {
      check(!name.empty() && name.find('=') == std::string::npos);
      check(name.find('\n') == std::string::npos && value.find('\n') == std::string::npos);
      check(value.size() <= limits.max_line);
      const std::string reply = encode_policy_reply(value);
      check(reply.size() == value.size() + 9);
      check(reply.find('\n') == reply.size() - 2);
      check(reply.compare(0, 7, "action=") == 0);
    }
  }
  return 0;
}
