// Decision IDs: millisecond UTC timestamp (sorts as text) + 64 CSPRNG bits (unique across nodes
// without coordination: two IDs in the same millisecond collide with probability 2^-64).
#include <openssl/rand.h>
#include <pthread.h>

#include <ctime>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "decisions/decisions.h"

namespace mailsift::decisions {
namespace {

// RAND_bytes for every ID cost a getpid() system call (OpenSSL's fork check) and the DRBG's
// locking per decision (bench/outbound). A thread takes 64 IDs' worth of CSPRNG output at a
// time instead; a fork empties the forking thread's pool in the child, so parent and child
// never hand out the same bits.
struct RandomPool {
  unsigned char bytes[512];
  size_t used = sizeof bytes;
};
thread_local RandomPool pool;
std::once_flag atfork_once;

void empty_pool_in_child() {
  pool.used = sizeof pool.bytes;
}

uint64_t random_bits() {
  std::call_once(atfork_once, [] { pthread_atfork(nullptr, nullptr, empty_pool_in_child); });
  if (pool.used + 8 > sizeof pool.bytes) {
    if (RAND_bytes(pool.bytes, sizeof pool.bytes) != 1) {
      // OpenSSL's RNG failed to seed (should not happen on Linux): the kernel's getrandom via
      // random_device is still a CSPRNG.
      std::random_device rd;
      return (uint64_t{rd()} << 32) | rd();
    }
    pool.used = 0;
  }
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i)
    bits = (bits << 8) | pool.bytes[pool.used++];
  return bits;
}

}  // namespace

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
  return format_decision_id(time_unix_ms, random_bits());
}

}  // namespace mailsift::decisions
