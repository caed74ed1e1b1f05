// Decision IDs: millisecond UTC timestamp (sorts as text) + 64 CSPRNG bits (unique across nodes
// without coordination: two IDs in the same millisecond collide with probability 2^-64).
#include <openssl/rand.h>

#include <ctime>
#include <random>

#include <fmt/format.h>

#include "decisions/decisions.h"

namespace mailsift::decisions {

std::string format_decision_id(int64_t time_unix_ms, uint64_t random_bits) {
  if (time_unix_ms < 0)
    time_unix_ms = 0;  // before 1970 is a clock bug; keep the text well-formed and sortable
  const time_t seconds = static_cast<time_t>(time_unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z-{:016x}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     time_unix_ms % 1000, random_bits);
}

std::string new_decision_id(int64_t time_unix_ms) {
  unsigned char bytes[8];
  uint64_t bits = 0;
  if (RAND_bytes(bytes, sizeof bytes) == 1) {
    for (unsigned char b : bytes)
      bits = (bits << 8) | b;
  } else {
    // OpenSSL's RNG failed to seed (should not happen on Linux): the kernel's getrandom via
    // random_device is still a CSPRNG.
    std::random_device rd;
    bits = (uint64_t{rd()} << 32) | rd();
  }
  return format_decision_id(time_unix_ms, bits);
}

}  // namespace mailsift::decisions
