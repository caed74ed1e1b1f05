// mailsift::Result — errors as values on the per-message path.
//
// Owns: the Error type (a small fixed set of kinds that map to mail outcomes) and Result<T>, a
// minimal expected-like type. std::expected is not used because clang 14 (which builds the
// fuzzers) cannot compile libstdc++ 12's <expected>.
//
// Kinds and what a caller does with them:
//   kTemporary  a dependency is down or slow (DNS, store): tempfail, never a silent accept.
//   kPermanent  the request can never succeed as given (unknown user, refused operation).
//   kMalformed  untrusted input is broken beyond use (not a mail, bad API body).
//   kConfig     operator configuration is wrong; reported at start-up or on reload.
//
// Failure semantics: accessing value() of an error Result is a programming bug and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace mailsift {

enum class ErrorKind { kTemporary, kPermanent, kMalformed, kConfig };

const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind;
  std::string message;

  static Error temporary(std::string m) { return {ErrorKind::kTemporary, std::move(m)}; }
  static Error permanent(std::string m) { return {ErrorKind::kPermanent, std::move(m)}; }
  static Error malformed(std::string m) { return {ErrorKind::kMalformed, std::move(m)}; }
  static Error config(std::string m) { return {ErrorKind::kConfig, std::move(m)}; }

  // "temporary: redis timeout" — for logs and CLI messages.
  std::string describe() const { return std::string(to_string(kind)) + ": " + message; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}        // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    check();
    return std::get<0>(state_);
  }
  const T& value() const& {
    check();
    return std::get<0>(state_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  void check() const {
    if (!ok()) {
      std::fprintf(stderr, "mailsift: value() on error Result: %s\n",
                   std::get<1>(state_).message.c_str());
      std::abort();
    }
  }
  std::variant<T, Error> state_;
};

// Result<void>: success carries nothing.
struct Ok {};
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}                                            // NOLINT
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_{ErrorKind::kPermanent, {}};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace mailsift
