// mailsift::ipwatch socketmap codec — the wire format of Postfix's socketmap lookup table
// (socketmap_table(5)): netstrings (`LEN:DATA,`), a request "NAME KEY" and a reply
// "STATUS[ DATA]" with STATUS one of OK, NOTFOUND, TEMP, TIMEOUT, PERM.
//
// Owns: decoding netstrings from a byte stream that may arrive in pieces, splitting requests,
// and encoding replies. Pure functions, no I/O; fuzzed by socketmap_fuzz.
//
// Failure semantics: decode() never throws and never reads past the buffer. A netstring that is
// malformed (no digits, leading zeros, a length over `max_len`, a missing ',') is kMalformed —
// the caller answers nothing more and closes the connection (the stream cannot be resynchronised).
// An incomplete one is kIncomplete (read more). parse_request() rejects a payload without a
// space, with an empty name, or with an empty key.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mailsift::ipwatch::socketmap {

// Postfix's default socketmap_max_reply_size is 100000; requests are short (name + address).
inline constexpr size_t kMaxNetstring = 100000;

enum class Decode { kComplete, kIncomplete, kMalformed };

struct Decoded {
  Decode status = Decode::kIncomplete;
  std::string_view payload;  // kComplete: the DATA, pointing into the input
  size_t consumed = 0;       // kComplete: bytes of the input the netstring took
};

// The first netstring at the start of `in`.
Decoded decode(std::string_view in, size_t max_len = kMaxNetstring);

std::string encode(std::string_view payload);

struct Request {
  std::string_view name;
  std::string_view key;
};
// "NAME KEY" (the key may itself contain spaces; the name may not).
std::optional<Request> parse_request(std::string_view payload);

enum class Status { kOk, kNotFound, kTemp, kTimeout, kPerm };
const char* to_string(Status status);

// The encoded reply netstring: "OK data", "NOTFOUND ", "TEMP reason", ...
std::string reply(Status status, std::string_view data);

}  // namespace mailsift::ipwatch::socketmap
