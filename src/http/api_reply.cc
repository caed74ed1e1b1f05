#include "http/api_reply.h"

#include <nlohmann/json.hpp>

namespace mailsift::http {

std::string native_error_json(ErrorKind kind, const std::string& message) {
  nlohmann::ordered_json j;
  j["error"] = {{"kind", to_string(kind)}, {"message", message}};
  // Messages can quote request text (any bytes): replace invalid UTF-8 instead of throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiReply api_error(int status, ErrorKind kind, const std::string& message) {
  ApiReply reply;
  reply.status = status;
  reply.body = native_error_json(kind, message);
  return reply;
}

ApiReply api_error(const Error& e, int permanent_status) {
  switch (e.kind) {
    case ErrorKind::kMalformed:
      return api_error(400, e.kind, e.message);
    case ErrorKind::kPermanent:
      return api_error(permanent_status, e.kind, e.message);
    case ErrorKind::kTemporary:
      return api_error(503, e.kind, e.message);
    case ErrorKind::kConfig:
      return api_error(500, e.kind, e.message);
  }
  return api_error(500, e.kind, e.message);
}

std::optional<std::string_view> bearer_key(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size())
    return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i])
      return std::nullopt;
  }
  authorization.remove_prefix(kScheme.size());
  while (!authorization.empty() && authorization.front() == ' ')
    authorization.remove_prefix(1);
  return authorization;
}

}  // namespace mailsift::http
