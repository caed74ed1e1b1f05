#include "outbound/policy_codec.h"

#include <fmt/format.h>

namespace mailsift::outbound {

const std::string& PolicyRequest::get(std::string_view name) const {
  static const std::string kEmpty;
  auto it = attrs.find(name);
  return it == attrs.end() ? kEmpty : it->second;
}

Status PolicyDecoder::take_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  if (line.empty()) {
    if (!current_.attrs.empty())  // stray empty lines between requests are ignored
      ready_.push_back(std::move(current_));
    current_ = {};
    current_bytes_ = 0;
    return Ok{};
  }
  current_bytes_ += line.size() + 1;
  if (current_bytes_ > limits_.max_request_bytes)
    return Error::malformed("policy request too large");
  const auto eq = line.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return Error::malformed("policy request line without name=value");
  current_.attrs.insert_or_assign(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  if (current_.attrs.size() > limits_.max_attributes)
    return Error::malformed("too many attributes in policy request");
  return Ok{};
}

Status PolicyDecoder::feed(std::string_view bytes) {
  if (failed_)
    return Error::malformed("policy decoder failed earlier");
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + bytes.size() > limits_.max_line) {
        failed_ = true;
        return Error::malformed("policy request line too long");
      }
      partial_.append(bytes);
      return Ok{};
    }
    Status st;
    if (partial_.empty()) {
      if (nl > limits_.max_line) {
        failed_ = true;
        return Error::malformed("policy request line too long");
      }
      st = take_line(bytes.substr(0, nl));
    } else {
      if (partial_.size() + nl > limits_.max_line) {
        failed_ = true;
        return Error::malformed("policy request line too long");
      }
      partial_.append(bytes.substr(0, nl));
      st = take_line(partial_);
      partial_.clear();
    }
    if (!st) {
      failed_ = true;
      return st;
    }
    bytes.remove_prefix(nl + 1);
  }
  return Ok{};
}

std::optional<PolicyRequest> PolicyDecoder::next() {
  if (ready_pos_ >= ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[ready_pos_++]);
}

std::string encode_policy_reply(std::string_view action) {
  std::string a(action);
  for (char& c : a)
    if (c == '\r' || c == '\n' || c == '\0')
      c = ' ';
  return fmt::format("action={}\n\n", a);
}

}  // namespace mailsift::outbound
