#include "console/form.h"

#include <algorithm>
#include <cctype>

#include "core/ascii.h"

namespace mailsift::console {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

Result<std::string> decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size())
        return Error::malformed("bad %-escape in form data");
      int a = hex(s[i + 1]), b = hex(s[i + 2]);
      if (a < 0 || b < 0)
        return Error::malformed("bad %-escape in form data");
      out += static_cast<char>(a * 16 + b);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The value of parameter `name` in a header like `form-data; name="x"; filename="y"`.
std::string header_param(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    std::string_view part = trim(
        header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    pos = semi == std::string_view::npos ? header.size() : semi + 1;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || ascii_lower(trim(part.substr(0, eq))) != name)
      continue;
    std::string_view v = trim(part.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
      v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return {};
}

}  // namespace

std::string field(const Fields& fields, std::string_view name) {
  for (const auto& [k, v] : fields)
    if (k == name)
      return v;
  return {};
}

Result<Fields> parse_urlencoded(std::string_view body) {
  Fields out;
  size_t pos = 0;
  while (pos <= body.size() && out.size() < kMaxFields) {
    size_t amp = body.find('&', pos);
    std::string_view pair =
        body.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    pos = amp == std::string_view::npos ? body.size() + 1 : amp + 1;
    if (pair.empty())
      continue;
    size_t eq = pair.find('=');
    auto k = decode(pair.substr(0, eq));
    if (!k)
      return k.error();
    auto v = decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!v)
      return v.error();
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

Result<Fields> parse_multipart(std::string_view body, std::string_view content_type) {
  std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200)
    return Error::malformed("multipart form without a usable boundary");
  const std::string delim = "--" + boundary;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos)
    return Error::malformed("multipart form: boundary not found");
  Fields out;
  while (out.size() < kMaxFields) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--")
      return out;  // closing delimiter
    size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos)
      return Error::malformed("multipart form: truncated part");
    size_t headers_end = body.find("\r\n\r\n", eol + 1);
    size_t sep = 4;
    size_t lf_end = body.find("\n\n", eol + 1);
    if (headers_end == std::string_view::npos ||
        (lf_end != std::string_view::npos && lf_end < headers_end)) {
      headers_end = lf_end;
      sep = 2;
    }
    if (headers_end == std::string_view::npos)
      return Error::malformed("multipart form: part without headers");
    std::string_view headers = body.substr(eol + 1, headers_end - eol - 1);
    size_t content_start = headers_end + sep;
    size_t next = body.find(delim, content_start);
    if (next == std::string_view::npos)
      return Error::malformed("multipart form: unterminated part");
    size_t content_end = next;
    if (content_end > content_start && body[content_end - 1] == '\n')
      --content_end;
    if (content_end > content_start && body[content_end - 1] == '\r')
      --content_end;
    std::string name;
    size_t hpos = 0;
    while (hpos < headers.size()) {
      size_t nl = headers.find('\n', hpos);
      std::string_view line =
          headers.substr(hpos, nl == std::string_view::npos ? std::string_view::npos : nl - hpos);
      hpos = nl == std::string_view::npos ? headers.size() : nl + 1;
      size_t colon = line.find(':');
      if (colon != std::string_view::npos &&
          ascii_lower(trim(line.substr(0, colon))) == "content-disposition")
        name = header_param(line.substr(colon + 1), "name");
    }
    if (!name.empty())
      out.emplace_back(std::move(name),
                       std::string(body.substr(content_start, content_end - content_start)));
    pos = next;
  }
  return out;
}

Result<Fields> parse_form(std::string_view body, std::string_view content_type) {
  if (ascii_lower(trim(content_type.substr(0, content_type.find(';')))) == "multipart/form-data")
    return parse_multipart(body, content_type);
  return parse_urlencoded(body);
}

Fields parse_cookies(std::string_view header) {
  Fields out;
  size_t pos = 0;
  while (pos < header.size() && out.size() < kMaxFields) {
    size_t semi = header.find(';', pos);
    std::string_view pair = trim(
        header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    pos = semi == std::string_view::npos ? header.size() : semi + 1;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0)
      continue;
    std::string_view v = trim(pair.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
      v = v.substr(1, v.size() - 2);
    out.emplace_back(std::string(trim(pair.substr(0, eq))), std::string(v));
  }
  return out;
}

}  // namespace mailsift::console
