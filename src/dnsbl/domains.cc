#include "dnsbl/domains.h"

#include <arpa/inet.h>
#include <libpsl.h>

namespace mailsift::dnsbl {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Loaded once, read-only afterwards (libpsl lookups on a context are thread-safe); never freed.
const psl_ctx_t* psl() {
  static const psl_ctx_t* ctx = [] {
    const psl_ctx_t* c = psl_latest(nullptr);
    return c ? c : psl_builtin();
  }();
  return ctx;
}

}  // namespace

bool is_ip_literal(std::string_view s) {
  // inet_pton reads a C string: an embedded NUL would make "192.0.2.1\0junk" an address.
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN || s.find('\0') != std::string_view::npos)
    return false;
  std::string t(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, t.c_str(), buf) == 1 || inet_pton(AF_INET6, t.c_str(), buf) == 1;
}

std::string normalize_domain(std::string_view d) {
  while (!d.empty() && d.back() == '.')
    d.remove_suffix(1);
  if (d.empty() || d.size() > 253 || is_ip_literal(d))
    return {};
  std::string out;
  out.reserve(d.size());
  size_t label = 0, labels = 1;
  for (char c : d) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c == '.') {
      if (label == 0)
        return {};
      label = 0;
      ++labels;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      if (++label > 63)
        return {};
    } else {
      return {};
    }
    out += c;
  }
  if (labels < 2)
    return {};
  return out;
}

std::string url_host(std::string_view url) {
  while (!url.empty() && (url.front() == ' ' || url.front() == '\t' || url.front() == '<' ||
                          url.front() == '"' || url.front() == '\''))
    url.remove_prefix(1);
  // Scheme: letters/digits/+-. then ':'. "mailto:" has no authority: the host follows '@'.
  size_t i = 0;
  while (i < url.size() && ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
                            (i > 0 && ((url[i] >= '0' && url[i] <= '9') || url[i] == '+' ||
                                       url[i] == '-' || url[i] == '.'))))
    ++i;
  if (i > 0 && i < url.size() && url[i] == ':') {
    std::string scheme(url.substr(0, i));
    for (char& c : scheme)
      c = static_cast<char>(c | 0x20);
    url.remove_prefix(i + 1);
    if (scheme == "mailto") {
      auto q = url.find_first_of("?#");
      url = url.substr(0, q);
      auto at = url.rfind('@');
      if (at == std::string_view::npos)
        return {};
      url.remove_prefix(at + 1);
    } else if (url.substr(0, 2) != "//" && url.substr(0, 2) != "\\\\") {
      // "host:port/path" without scheme looks like "scheme:..." - only accept it if what follows
      // the colon is a port.
      if (url.empty() || url[0] < '0' || url[0] > '9')
        return {};
      return url_host(std::string_view("//" + scheme + ":" + std::string(url)));
    }
  }
  while (!url.empty() && (url.front() == '/' || url.front() == '\\'))
    url.remove_prefix(1);
  auto end = url.find_first_of("/?#\\ \t\r\n\"'<>");
  std::string_view authority = url.substr(0, end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view host;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return {};
    host = authority.substr(1, close - 1);
    std::string h(host);
    if (!is_ip_literal(h) || h.find(':') == std::string::npos)
      return {};
    for (char& c : h)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    return h;
  }
  host = authority.substr(0, authority.find(':'));
  std::string decoded;
  for (size_t k = 0; k < host.size(); ++k) {
    if (host[k] == '%' && k + 2 < host.size() && hex(host[k + 1]) >= 0 && hex(host[k + 2]) >= 0) {
      decoded += static_cast<char>(hex(host[k + 1]) * 16 + hex(host[k + 2]));
      k += 2;
    } else {
      decoded += host[k];
    }
  }
  while (!decoded.empty() && decoded.back() == '.')
    decoded.pop_back();
  if (is_ip_literal(decoded) && decoded.find(':') == std::string::npos)
    return decoded;
  return normalize_domain(decoded);
}

std::string registrable_domain(std::string_view host) {
  std::string h = normalize_domain(host);
  if (h.empty())
    return {};
  const char* r = psl_registrable_domain(psl(), h.c_str());
  return r ? std::string(r) : std::string();
}

}  // namespace mailsift::dnsbl
