#include "ipwatch/socketmap.h"

namespace mailsift::ipwatch::socketmap {

Decoded decode(std::string_view in, size_t max_len) {
  Decoded d;
  size_t i = 0;
  size_t len = 0;
  // At most as many digits as max_len has, so the length cannot overflow.
  const size_t max_digits = std::to_string(max_len).size();
  while (i < in.size() && in[i] >= '0' && in[i] <= '9') {
    if (i >= max_digits) {
      d.status = Decode::kMalformed;
      return d;
    }
    len = len * 10 + static_cast<size_t>(in[i] - '0');
    ++i;
  }
  if (i == in.size()) {
    d.status = Decode::kIncomplete;  // still reading the length (or nothing yet)
    return d;
  }
  // "0:" is fine, "01:" is not (RFC-less but Bernstein's netstring spec forbids leading zeros).
  if (i == 0 || in[i] != ':' || (i > 1 && in[0] == '0') || len > max_len) {
    d.status = Decode::kMalformed;
    return d;
  }
  const size_t start = i + 1;
  if (in.size() - start < len + 1) {
    d.status = Decode::kIncomplete;
    return d;
  }
  if (in[start + len] != ',') {
    d.status = Decode::kMalformed;
    return d;
  }
  d.status = Decode::kComplete;
  d.payload = in.substr(start, len);
  d.consumed = start + len + 1;
  return d;
}

std::string encode(std::string_view payload) {
  std::string out = std::to_string(payload.size());
  out += ':';
  out.append(payload);
  out += ',';
  return out;
}

std::optional<Request> parse_request(std::string_view payload) {
  const size_t sp = payload.find(' ');
  if (sp == std::string_view::npos || sp == 0 || sp + 1 >= payload.size())
    return std::nullopt;
  return Request{payload.substr(0, sp), payload.substr(sp + 1)};
}

const char* to_string(Status status) {
  switch (status) {
    case Status::kOk:
      return "OK";
    case Status::kNotFound:
      return "NOTFOUND";
    case Status::kTemp:
      return "TEMP";
    case Status::kTimeout:
      return "TIMEOUT";
    case Status::kPerm:
      return "PERM";
  }
  return "PERM";
}

std::string reply(Status status, std::string_view data) {
  std::string payload = to_string(status);
  payload += ' ';
  payload.append(data);
  return encode(payload);
}

}  // namespace mailsift::ipwatch::socketmap
