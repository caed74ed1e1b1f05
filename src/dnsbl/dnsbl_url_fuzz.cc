// Fuzzes URL host extraction and the registrable-domain lookup (url_host, registrable_domain):
// a host is an IP literal or a normalised ASCII name, and its registrable domain is a suffix of it
// at a label boundary.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dnsbl/domains.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailsift::dnsbl;
  if (size > 8 * 1024)
    return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string host = url_host(text);
  if (host.empty())
    return 0;
  if (is_ip_literal(host))
    return 0;
  if (normalize_domain(host) != host)
    std::abort();
  std::string reg = registrable_domain(host);
  if (reg.empty())
    return 0;
  if (reg.size() > host.size() || host.compare(host.size() - reg.size(), reg.size(), reg) != 0 ||
      (reg.size() < host.size() && host[host.size() - reg.size() - 1] != '.'))
    std::abort();
  return 0;
}
