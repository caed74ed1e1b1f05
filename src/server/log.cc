#include "server/log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace mailsift::server {
namespace {
std::atomic<bool> g_quiet{false};
}

std::string kv(std::string_view key, std::string_view value) {
  bool quote = value.empty();
  std::string escaped;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      escaped += '\\';
      escaped += c;
      quote = true;
    } else if (u < 0x20 || u == 0x7f) {
      escaped += fmt::format("\\x{:02x}", u);
      quote = true;
    } else {
      if (c == ' ' || c == '=')
        quote = true;
      escaped += c;
    }
  }
  return quote ? fmt::format("{}=\"{}\"", key, escaped) : fmt::format("{}={}", key, escaped);
}

std::string kv(std::string_view key, double value) {
  return fmt::format("{}={:.2f}", key, value);
}
std::string kv(std::string_view key, int64_t value) {
  return fmt::format("{}={}", key, value);
}

void set_log_quiet(bool quiet) {
  g_quiet = quiet;
}

void log_line(std::string_view level, std::string_view fields) {
  if (g_quiet && level != "error")
    return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  const std::string line = fmt::format("ts={}.{:03d}Z level={} {}\n", ts, ms, level, fields);
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace mailsift::server
