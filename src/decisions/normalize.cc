#include "decisions/normalize.h"

#include <arpa/inet.h>

#include <cstring>

#include "core/ascii.h"

namespace mailsift::decisions {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string_view strip_angles(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>')
    s = trim(s.substr(1, s.size() - 2));
  return s;
}

}  // namespace

std::string address_key(std::string_view address) {
  std::string key = ascii_lower(strip_angles(address));
  return key.empty() ? "<>" : key;
}

std::string user_key(std::string_view user) {
  return ascii_lower(strip_angles(user));
}

std::string domain_key(std::string_view domain) {
  std::string_view s = strip_angles(domain);
  if (!s.empty() && s.front() == '@')
    s.remove_prefix(1);
  if (!s.empty() && s.back() == '.')
    s.remove_suffix(1);
  return ascii_lower(s);
}

std::string ip_key(std::string_view ip) {
  std::string text(trim(ip));
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  char buf[INET6_ADDRSTRLEN] = {};
  unsigned char addr[16];
  if (inet_pton(AF_INET, text.c_str(), addr) == 1) {
    if (inet_ntop(AF_INET, addr, buf, sizeof buf))
      return buf;
  } else if (inet_pton(AF_INET6, text.c_str(), addr) == 1) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(addr, kMapped, sizeof kMapped) == 0) {
      if (inet_ntop(AF_INET, addr + 12, buf, sizeof buf))
        return buf;
    } else if (inet_ntop(AF_INET6, addr, buf, sizeof buf)) {
      return buf;
    }
  }
  return ascii_lower(text);
}

std::string message_id_key(std::string_view message_id) {
  return std::string(strip_angles(message_id));
}

std::string word_key(std::string_view word) {
  return ascii_lower(trim(word));
}

}  // namespace mailsift::decisions
