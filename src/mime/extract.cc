#include "mime/extract.h"

#include <string.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>

#include "core/ascii.h"

namespace mailsift::mime::detail {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

bool istarts(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size())
    return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    if (ascii_lower(s[i]) != lower_prefix[i])
      return false;
  }
  return true;
}

// Characters that end a URL in running text.
bool url_char(unsigned char c) {
  if (c <= 0x20 || c == 0x7F)
    return false;
  switch (c) {
    case '<':
    case '>':
    case '"':
    case '`':
    case '{':
    case '}':
    case '|':
    case '\\':
    case '^':
      return false;
    default:
      return true;
  }
}

std::string_view trim_url_tail(std::string_view u) {
  while (!u.empty()) {
    char c = u.back();
    if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
        c == ']' || c == '*') {
      u.remove_suffix(1);
    } else if (c == ')') {
      // Keep a closing paren only if the URL opened one (wikipedia-style links).
      size_t opens = 0, closes = 0;
      for (char x : u) {
        opens += x == '(';
        closes += x == ')';
      }
      if (closes > opens) {
        u.remove_suffix(1);
      } else {
        break;
      }
    } else {
      break;
    }
  }
  return u;
}

bool host_char(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '_';
}

}  // namespace

void scan_urls(std::string_view text, const std::function<bool(std::string_view)>& on_url) {
  const size_t n = text.size();
  const char* base = text.data();
  // Candidates are "scheme://" (found via ':') and "www." / "WWW." (found via memmem), visited
  // in document order; each search is a fast library scan instead of a per-byte loop.
  auto find_colon = [&](size_t from) -> size_t {
    const void* p = from < n ? std::memchr(base + from, ':', n - from) : nullptr;
    return p ? static_cast<size_t>(static_cast<const char*>(p) - base) : n;
  };
  // Each pattern's next hit is remembered and searched again only once passed: re-searching
  // both from every hit made a text with thousands of "www." and no "WWW." quadratic.
  const char* const patterns[2] = {"www.", "WWW."};
  size_t next_hit[2] = {0, 0};
  bool searched[2] = {false, false};
  auto find_www = [&](size_t from) -> size_t {
    size_t best = n;
    for (int k = 0; k < 2; ++k) {
      if (!searched[k] || (next_hit[k] < from && next_hit[k] != n)) {
        const void* p = from < n ? memmem(base + from, n - from, patterns[k], 4) : nullptr;
        next_hit[k] = p ? static_cast<size_t>(static_cast<const char*>(p) - base) : n;
        searched[k] = true;
      }
      best = std::min(best, next_hit[k]);
    }
    return best;
  };
  size_t colon = find_colon(0), www = find_www(0);
  size_t pos = 0;  // nothing before this index is re-examined
  while (colon < n || www < n) {
    size_t start, skip;
    if (www < colon) {
      start = www;
      skip = 4;
      www = find_www(www + 1);
      if (start < pos)
        continue;
    } else {
      size_t c = colon;
      colon = find_colon(colon + 1);
      if (c + 2 >= n || base[c + 1] != '/' || base[c + 2] != '/')
        continue;
      if (c >= 5 && istarts(text.substr(c - 5, 5), "https")) {
        start = c - 5;
      } else if (c >= 4 && istarts(text.substr(c - 4, 4), "http")) {
        start = c - 4;
      } else if (c >= 3 && istarts(text.substr(c - 3, 3), "ftp")) {
        start = c - 3;
      } else {
        continue;
      }
      if (start < pos)
        continue;
      skip = c + 3 - start;
    }
    if (start > 0 && (is_alnum(base[start - 1]) || base[start - 1] == '.' ||
                      base[start - 1] == '@' || base[start - 1] == '/')) {
      continue;
    }
    size_t e = start + skip;
    while (e < n && url_char(static_cast<unsigned char>(base[e])))
      ++e;
    std::string_view u = trim_url_tail(text.substr(start, e - start));
    pos = e;
    if (u.size() > skip && host_char(u[skip]) &&
        !(skip == 4 && u.find('.', 4) == std::string_view::npos)) {
      if (!on_url(u))
        return;
    }
  }
}

void scan_emails(std::string_view text, const std::function<bool(std::string_view)>& on_email) {
  size_t n = text.size();
  size_t i = 0;
  size_t last_end = 0;
  while (i < n) {
    const char* at = static_cast<const char*>(std::memchr(text.data() + i, '@', n - i));
    if (!at)
      return;
    size_t a = static_cast<size_t>(at - text.data());
    i = a + 1;
    size_t b = a;
    auto local_char = [](char c) {
      return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '%' || c == '=';
    };
    while (b > last_end && local_char(text[b - 1]) && a - b < 64)
      --b;
    while (b < a && (text[b] == '.' || text[b] == '-'))
      ++b;
    if (b == a)
      continue;
    if (b >= 3 && text.substr(b - 3, 3) == "://")
      continue;  // userinfo of a URL
    size_t e = a + 1;
    while (e < n && host_char(text[e]) && e - a < 255)
      ++e;
    while (e > a + 1 && (text[e - 1] == '.' || text[e - 1] == '-'))
      --e;
    std::string_view domain = text.substr(a + 1, e - a - 1);
    size_t dot = domain.rfind('.');
    if (dot == std::string_view::npos || dot == 0)
      continue;
    std::string_view tld = domain.substr(dot + 1);
    bool alpha_tld = tld.size() >= 2;
    for (char c : tld) {
      if (!is_alpha(c))
        alpha_tld = false;
    }
    if (!alpha_tld)
      continue;
    last_end = e;
    i = e;
    if (!on_email(text.substr(b, e - b)))
      return;
  }
}

std::string url_host(std::string_view url) {
  size_t start = 0;
  size_t colon = url.find("://");
  if (colon != std::string_view::npos && colon < 16) {
    start = colon + 3;
  } else if (!istarts(url, "www.")) {
    // Scheme-relative "//host/x".
    if (url.substr(0, 2) == "//") {
      start = 2;
    } else {
      return {};
    }
  }
  size_t end = start;
  while (end < url.size() && url[end] != '/' && url[end] != '?' && url[end] != '#' &&
         url[end] != '\\') {
    ++end;
  }
  std::string_view auth = url.substr(start, end - start);
  size_t at = auth.rfind('@');
  if (at != std::string_view::npos)
    auth = auth.substr(at + 1);
  if (!auth.empty() && auth[0] == '[') {
    size_t rb = auth.find(']');
    if (rb != std::string_view::npos)
      auth = auth.substr(0, rb + 1);
  } else {
    size_t port = auth.find(':');
    if (port != std::string_view::npos)
      auth = auth.substr(0, port);
  }
  std::string host;
  host.reserve(auth.size());
  auto hv = [](char h) { return is_digit(h) ? h - '0' : (ascii_lower(h) - 'a' + 10); };
  for (size_t i = 0; i < auth.size(); ++i) {
    char c = auth[i];
    if (c == '%' && i + 2 < auth.size() && std::isxdigit(static_cast<unsigned char>(auth[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(auth[i + 2]))) {
      c = static_cast<char>(hv(auth[i + 1]) * 16 + hv(auth[i + 2]));
      i += 2;
    }
    host.push_back(ascii_lower(c));
  }
  while (!host.empty() && host.back() == '.')
    host.pop_back();
  return host;
}

std::string displayed_host(std::string_view t) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '<' || t.front() == '['))
    t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '>' || t.back() == ']'))
    t.remove_suffix(1);
  if (t.empty() || t.size() > 300)
    return {};
  if (t.find(' ') != std::string_view::npos || t.find('@') != std::string_view::npos) {
    return {};
  }
  if (t.find("://") != std::string_view::npos || istarts(t, "www."))
    return url_host(t);
  // Bare domain: labels of host chars with an alphabetic TLD, optionally followed by a path.
  size_t end = 0;
  while (end < t.size() && host_char(t[end]))
    ++end;
  if (end < t.size() && t[end] != '/')
    return {};
  std::string_view host = t.substr(0, end);
  size_t dot = host.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= host.size())
    return {};
  std::string_view tld = host.substr(dot + 1);
  if (tld.size() < 2 || tld.size() > 12)
    return {};
  for (char c : tld) {
    if (!is_alpha(c))
      return {};
  }
  std::string out(host);
  for (char& c : out)
    c = ascii_lower(c);
  return out;
}

bool hosts_differ(std::string_view a, std::string_view b) {
  if (a.substr(0, 4) == "www.")
    a.remove_prefix(4);
  if (b.substr(0, 4) == "www.")
    b.remove_prefix(4);
  if (a.empty() || b.empty() || a == b)
    return false;
  auto sub_of = [](std::string_view x, std::string_view y) {  // x is a subdomain of y
    return x.size() > y.size() && x.substr(x.size() - y.size()) == y &&
           x[x.size() - y.size() - 1] == '.';
  };
  return !sub_of(a, b) && !sub_of(b, a);
}

std::string sniff_type(std::string_view b) {
  auto starts = [&](std::string_view m) { return b.substr(0, m.size()) == m; };
  using namespace std::string_view_literals;
  if (starts("%PDF-"sv))
    return "application/pdf";
  if (starts("PK\x03\x04"sv) || starts("PK\x05\x06"sv)) {
    std::string_view head = b.substr(0, 4096);
    if (head.find("[Content_Types].xml") != std::string_view::npos ||
        head.find("word/") != std::string_view::npos ||
        head.find("xl/") != std::string_view::npos || head.find("ppt/") != std::string_view::npos) {
      if (head.find("word/") != std::string_view::npos) {
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
      }
      if (head.find("xl/") != std::string_view::npos) {
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
      }
      if (head.find("ppt/") != std::string_view::npos) {
        return "application/vnd.openxmlformats-officedocument.presentationml.presentation";
      }
      return "application/vnd.openxmlformats-officedocument";
    }
    if (head.find("META-INF/MANIFEST.MF") != std::string_view::npos) {
      return "application/java-archive";
    }
    if (head.find("mimetypeapplication/vnd.oasis") != std::string_view::npos) {
      return "application/vnd.oasis.opendocument";
    }
    return "application/zip";
  }
  if (starts("Rar!\x1a\x07"sv))
    return "application/x-rar";
  if (starts("7z\xBC\xAF\x27\x1C"sv))
    return "application/x-7z-compressed";
  if (starts("\x1f\x8b"sv))
    return "application/gzip";
  if (starts("BZh"sv) && b.size() > 3 && b[3] >= '1' && b[3] <= '9')
    return "application/x-bzip2";
  if (starts("\xFD"
             "7zXZ\0"sv))
    return "application/x-xz";
  if (starts("MSCF\0\0\0\0"sv))
    return "application/vnd.ms-cab-compressed";
  if (starts("MZ"sv))
    return "application/x-dosexec";
  if (starts("\x7f"
             "ELF"sv))
    return "application/x-elf";
  if (starts("\xCF\xFA\xED\xFE"sv) || starts("\xCE\xFA\xED\xFE"sv) ||
      starts("\xFE\xED\xFA\xCE"sv) || starts("\xFE\xED\xFA\xCF"sv) ||
      starts("\xCA\xFE\xBA\xBE"sv)) {
    return "application/x-mach-binary";
  }
  if (starts("L\0\0\0\x01\x14\x02\0"sv))
    return "application/x-ms-shortcut";
  if (starts("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"sv))
    return "application/x-ole-storage";
  if (starts("\x89PNG\r\n\x1a\n"sv))
    return "image/png";
  if (starts("\xFF\xD8\xFF"sv))
    return "image/jpeg";
  if (starts("GIF87a"sv) || starts("GIF89a"sv))
    return "image/gif";
  if (starts("II*\0"sv) || starts("MM\0*"sv))
    return "image/tiff";
  if (b.size() >= 12 && starts("RIFF"sv) && b.substr(8, 4) == "WEBP")
    return "image/webp";
  if (starts("BM"sv) && b.size() > 26 && b[6] == 0 && b[7] == 0 && b[8] == 0 && b[9] == 0) {
    return "image/bmp";
  }
  if (starts("{\\rtf"sv))
    return "application/rtf";
  if (starts("%!PS"sv))
    return "application/postscript";
  if (b.size() > 262 && b.substr(257, 5) == "ustar")
    return "application/x-tar";
  if (b.size() > 0x8006 && b.substr(0x8001, 5) == "CD001")
    return "application/x-iso9660-image";
  if (starts("#!"sv))
    return "text/x-shellscript";
  // Text formats: skip a BOM and leading whitespace.
  std::string_view t = b.substr(0, 512);
  if (t.substr(0, 3) == "\xEF\xBB\xBF")
    t.remove_prefix(3);
  while (!t.empty() && (t[0] == ' ' || t[0] == '\t' || t[0] == '\r' || t[0] == '\n')) {
    t.remove_prefix(1);
  }
  if (istarts(t, "<!doctype html") || istarts(t, "<html") || istarts(t, "<head") ||
      istarts(t, "<body") || istarts(t, "<script") || istarts(t, "<iframe") ||
      istarts(t, "<meta") || istarts(t, "<!--")) {
    return "text/html";
  }
  if (istarts(t, "<svg"))
    return "image/svg+xml";
  if (istarts(t, "<?xml")) {
    if (t.find("<svg") != std::string_view::npos)
      return "image/svg+xml";
    return "application/xml";
  }
  return {};
}

std::string_view type_class(std::string_view t) {
  struct Map {
    std::string_view type;
    std::string_view cls;
  };
  static constexpr Map kMap[] = {
      {"application/pdf", "pdf"},
      {"application/x-pdf", "pdf"},
      {"application/zip", "zip"},
      {"application/x-zip-compressed", "zip"},
      {"application/x-zip", "zip"},
      {"application/java-archive", "zip"},
      {"application/vnd.oasis.opendocument", "zip"},
      {"application/msword", "ole"},
      {"application/vnd.ms-excel", "ole"},
      {"application/vnd.ms-powerpoint", "ole"},
      {"application/x-ole-storage", "ole"},
      {"application/x-rar", "rar"},
      {"application/x-rar-compressed", "rar"},
      {"application/vnd.rar", "rar"},
      {"application/x-7z-compressed", "7z"},
      {"application/gzip", "gzip"},
      {"application/x-gzip", "gzip"},
      {"application/x-dosexec", "exe"},
      {"application/x-msdownload", "exe"},
      {"application/x-msdos-program", "exe"},
      {"application/x-executable", "exe"},
      {"application/x-elf", "elf"},
      {"image/png", "png"},
      {"image/jpeg", "jpeg"},
      {"image/jpg", "jpeg"},
      {"image/pjpeg", "jpeg"},
      {"image/gif", "gif"},
      {"text/html", "html"},
  };
  if (t.substr(0, 46) == "application/vnd.openxmlformats-officedocument")
    return "zip";
  for (const auto& m : kMap) {
    if (m.type == t)
      return m.cls;
  }
  return {};
}

namespace {
std::string extension(std::string_view filename) {
  while (!filename.empty() && (filename.back() == ' ' || filename.back() == '.')) {
    filename.remove_suffix(1);
  }
  size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos || filename.size() - dot > 8)
    return {};
  std::string ext(filename.substr(dot + 1));
  for (char& c : ext)
    c = ascii_lower(c);
  return ext;
}
}  // namespace

std::string_view extension_class(std::string_view filename) {
  std::string ext = extension(filename);
  if (ext.empty())
    return {};
  struct Map {
    std::string_view ext;
    std::string_view cls;
  };
  static constexpr Map kMap[] = {
      {"pdf", "pdf"},   {"zip", "zip"},  {"docx", "zip"},  {"xlsx", "zip"}, {"pptx", "zip"},
      {"docm", "zip"},  {"xlsm", "zip"}, {"jar", "zip"},   {"odt", "zip"},  {"ods", "zip"},
      {"doc", "ole"},   {"xls", "ole"},  {"ppt", "ole"},   {"msg", "ole"},  {"rar", "rar"},
      {"7z", "7z"},     {"gz", "gzip"},  {"tgz", "gzip"},  {"exe", "exe"},  {"dll", "exe"},
      {"scr", "exe"},   {"com", "exe"},  {"pif", "exe"},   {"cpl", "exe"},  {"sys", "exe"},
      {"png", "png"},   {"jpg", "jpeg"}, {"jpeg", "jpeg"}, {"gif", "gif"},  {"htm", "html"},
      {"html", "html"}, {"txt", "text"}, {"csv", "text"},  {"ics", "text"},
  };
  for (const auto& m : kMap) {
    if (m.ext == ext)
      return m.cls;
  }
  return {};
}

bool is_executable_type(std::string_view sniffed) {
  return sniffed == "application/x-dosexec" || sniffed == "application/x-elf" ||
         sniffed == "application/x-mach-binary" || sniffed == "application/x-ms-shortcut" ||
         sniffed == "text/x-shellscript";
}

bool is_executable_extension(std::string_view filename) {
  std::string ext = extension(filename);
  static constexpr std::string_view kExt[] = {
      "exe", "scr", "pif", "com", "bat", "cmd",    "vbs", "vbe",  "js",  "jse", "wsf",
      "wsh", "hta", "msi", "msp", "jar", "lnk",    "ps1", "psm1", "cpl", "reg", "dll",
      "scf", "inf", "apk", "sh",  "app", "gadget", "msc", "vb",   "ws"};
  for (auto e : kExt) {
    if (ext == e)
      return true;
  }
  return false;
}

}  // namespace mailsift::mime::detail
