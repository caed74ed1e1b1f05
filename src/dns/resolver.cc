#include "dns/resolver.h"

#include <arpa/inet.h>

#include <cstdio>

namespace mailsift::dns {

const char* to_string(RType type) {
  switch (type) {
    case RType::kA:
      return "A";
    case RType::kNS:
      return "NS";
    case RType::kCNAME:
      return "CNAME";
    case RType::kPTR:
      return "PTR";
    case RType::kMX:
      return "MX";
    case RType::kTXT:
      return "TXT";
    case RType::kAAAA:
      return "AAAA";
  }
  return "?";
}

const char* to_string(Rcode rcode) {
  switch (rcode) {
    case Rcode::kNoError:
      return "NOERROR";
    case Rcode::kNxDomain:
      return "NXDOMAIN";
    case Rcode::kServFail:
      return "SERVFAIL";
    case Rcode::kRefused:
      return "REFUSED";
    case Rcode::kTimeout:
      return "TIMEOUT";
    case Rcode::kFormErr:
      return "FORMERR";
  }
  return "?";
}

std::string reverse_ip(std::string_view ip) {
  std::string s(ip);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    char out[32];
    std::snprintf(out, sizeof out, "%u.%u.%u.%u", buf[3], buf[2], buf[1], buf[0]);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 15; i >= 0; --i) {
      out += hex[buf[i] & 0xf];
      out += '.';
      out += hex[buf[i] >> 4];
      if (i)
        out += '.';
    }
    return out;
  }
  return {};
}

}  // namespace mailsift::dns
