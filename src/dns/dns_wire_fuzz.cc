// Fuzzes the DNS response parser (parse_response): the first octet picks the query type, the rest
// is the packet. Any input must give an Answer without reading out of bounds; a kFormErr answer
// must carry no records, and record strings must be what the type allows.
#include <cstdint>
#include <cstdlib>

#include "dns/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mailsift::dns::RType;
  if (size < 1)
    return 0;
  static const RType kTypes[] = {RType::kA,  RType::kNS,  RType::kCNAME, RType::kPTR,
                                 RType::kMX, RType::kTXT, RType::kAAAA};
  mailsift::dns::Query q{"example.test", kTypes[data[0] % 7]};
  auto r = mailsift::dns::parse_response(data + 1, size - 1, q);
  if (r.answer.rcode == mailsift::dns::Rcode::kFormErr && !r.answer.empty())
    std::abort();
  if (q.type != RType::kMX && !r.answer.mx.empty())
    std::abort();
  for (const auto& rec : r.answer.records)
    if (q.type != RType::kTXT && rec.size() > 4 * 255)
      std::abort();  // a name is at most 255 octets, 4x with \DDD escapes
  return 0;
}
