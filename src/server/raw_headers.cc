#include "server/raw_headers.h"

#include <strings.h>

namespace mailsift::server {

std::vector<RawHeader> raw_headers(std::string_view message) {
  std::vector<RawHeader> out;
  size_t pos = 0;
  bool current_open = false;  // the last field may still get continuation lines
  while (pos < message.size()) {
    size_t end = message.find('\n', pos);
    if (end == std::string_view::npos)
      end = message.size();
    std::string_view line = message.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      break;  // end of the header block
    if (line.front() == ' ' || line.front() == '\t') {
      if (current_open) {
        out.back().value += '\n';
        out.back().value += line;
      }
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      current_open = false;
      continue;
    }
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
      name.remove_suffix(1);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    out.push_back({std::string(name), std::string(value)});
    current_open = true;
  }
  return out;
}

const RawHeader* find_raw_header(const std::vector<RawHeader>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return &h;
    }
  }
  return nullptr;
}

}  // namespace mailsift::server
