// mailsift::server structured logging — one key=value line per event on stderr (logfmt).
//
// Owns: formatting and the single write per line (journald/syslog take stderr under systemd).
// Values with spaces, quotes or '=' are quoted; control characters are escaped, so a value
// taken from mail (sender, Message-ID) cannot forge a log line.
// Failure semantics: none; a failed write to stderr is ignored.
#pragma once

#include <string>
#include <string_view>

namespace mailsift::server {

// key=value, quoted and escaped when needed.
std::string kv(std::string_view key, std::string_view value);
std::string kv(std::string_view key, double value);
std::string kv(std::string_view key, int64_t value);
// Writes "ts=<UTC ISO time> level=<level> <fields>\n" in one write(2).
void log_line(std::string_view level, std::string_view fields);
// Quiet mode for tests (nothing below "error" is written).
void set_log_quiet(bool quiet);

}  // namespace mailsift::server
