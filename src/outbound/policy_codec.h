// mailsift::outbound policy codec — the Postfix policy delegation protocol (SMTPD_POLICY_README),
// pure: no I/O.
//
// Owns: splitting a byte stream into requests ("name=value" lines, ended by an empty line) and
// encoding replies ("action=...\n\n"). Postfix keeps the connection open for many requests.
// Unknown attributes are kept but ignored by callers; a repeated attribute keeps its last value;
// a line without '=' is an error (Postfix never sends one).
//
// Failure semantics: a request line longer than max_line, more than max_attributes attributes or
// more than max_request_bytes in one request is kMalformed and the decoder is dead (the server
// closes the connection without replying, which makes Postfix retry / apply its default action).
// SECURITY: parses untrusted bytes from the socket; every buffer is bounded by the limits.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::outbound {

struct PolicyRequest {
  std::map<std::string, std::string, std::less<>> attrs;
  // Value of an attribute, "" when absent.
  const std::string& get(std::string_view name) const;
};

struct PolicyLimits {
  size_t max_line = 8192;
  size_t max_attributes = 128;
  size_t max_request_bytes = 65536;
};

class PolicyDecoder {
 public:
  explicit PolicyDecoder(PolicyLimits limits = {}) : limits_(limits) {}
  // Appends bytes; complete requests become available through next().
  Status feed(std::string_view bytes);
  std::optional<PolicyRequest> next();
  bool failed() const { return failed_; }

 private:
  Status take_line(std::string_view line);
  PolicyLimits limits_;
  std::string partial_;  // bytes of an unfinished line
  PolicyRequest current_;
  size_t current_bytes_ = 0;
  std::vector<PolicyRequest> ready_;
  size_t ready_pos_ = 0;
  bool failed_ = false;
};

// "action=<action>\n\n"; CR/LF inside the action become spaces (an action is one line).
std::string encode_policy_reply(std::string_view action);

}  // namespace mailsift::outbound
