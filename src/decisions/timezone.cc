// Time zones through the date library in OS-database mode (see timezone.h). Every call into the
// library is inside try/catch: it reports unknown zones and a missing database by throwing.
#include "decisions/timezone.h"

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "decisions/normalize.h"

namespace mailsift::decisions {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Civil {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
};

struct ParsedText {
  Civil civil;
  std::optional<int> offset_seconds;  // set when the text carries Z or an offset
};

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ == s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c)
      return false;
    ++i_;
    return true;
  }
  // Exactly n digits.
  std::optional<int> digits(size_t n) {
    if (s_.size() - i_ < n)
      return std::nullopt;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = s_[i_ + k];
      if (c < '0' || c > '9')
        return std::nullopt;
      v = v * 10 + (c - '0');
    }
    i_ += n;
    return v;
  }
  bool is_digit() const { return peek() >= '0' && peek() <= '9'; }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

Error bad_text(std::string_view text, std::string_view why) {
  return Error::malformed(fmt::format(
      "cannot read time \"{}\": {} (expected e.g. \"2026-11-27 10:15\", \"2026-11-27T10:15:30\" "
      "or \"2026-11-27T15:15:00Z\")",
      text, why));
}

Result<ParsedText> parse_text(std::string_view text) {
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  Cursor c(text);
  ParsedText p;
  auto y = c.digits(4);
  if (!y || !c.eat('-'))
    return bad_text(text, "the date must be YYYY-MM-DD");
  auto mo = c.digits(2);
  if (!mo || !c.eat('-'))
    return bad_text(text, "the date must be YYYY-MM-DD");
  auto d = c.digits(2);
  if (!d)
    return bad_text(text, "the date must be YYYY-MM-DD");
  p.civil.year = *y;
  p.civil.month = *mo;
  p.civil.day = *d;
  if (!date::year_month_day(date::year(*y), date::month(*mo), date::day(*d)).ok())
    return bad_text(text, fmt::format("{:04}-{:02}-{:02} is not a calendar date", *y, *mo, *d));
  if (c.done())
    return p;
  if (!c.eat(' ') && !c.eat('T') && !c.eat('t'))
    return bad_text(text, "expected a space or T between date and time");
  auto h = c.digits(2);
  if (!h || !c.eat(':'))
    return bad_text(text, "the time must be HH:MM or HH:MM:SS");
  auto mi = c.digits(2);
  if (!mi)
    return bad_text(text, "the time must be HH:MM or HH:MM:SS");
  p.civil.hour = *h;
  p.civil.minute = *mi;
  if (c.eat(':')) {
    auto s = c.digits(2);
    if (!s)
      return bad_text(text, "seconds must be two digits");
    p.civil.second = *s;
    if (c.eat('.') || c.eat(',')) {
      if (!c.is_digit())
        return bad_text(text, "expected digits after the decimal point");
      int scale = 100, n = 0;
      while (c.is_digit()) {
        if (++n > 9)
          return bad_text(text, "too many fractional digits");
        p.civil.millis += (c.peek() - '0') * scale;
        scale /= 10;
        c.eat(c.peek());
      }
    }
  }
  if (*h > 23 || *mi > 59 || p.civil.second > 59)
    return bad_text(text, "hour, minute or second out of range");
  if (c.done())
    return p;
  if (c.eat('Z') || c.eat('z')) {
    p.offset_seconds = 0;
  } else {
    c.eat(' ');
    int sign = c.eat('+') ? 1 : c.eat('-') ? -1 : 0;
    if (sign == 0)
      return bad_text(text, "unexpected text after the time");
    auto oh = c.digits(2);
    if (!oh)
      return bad_text(text, "the offset must be +HH:MM");
    int om = 0;
    if (c.eat(':')) {
      auto m = c.digits(2);
      if (!m)
        return bad_text(text, "the offset must be +HH:MM");
      om = *m;
    } else if (c.is_digit()) {
      auto m = c.digits(2);
      if (!m)
        return bad_text(text, "the offset must be +HH:MM");
      om = *m;
    }
    if (*oh > 18 || om > 59)
      return bad_text(text, "offset out of range");
    p.offset_seconds = sign * (*oh * 3600 + om * 60);
  }
  if (!c.done())
    return bad_text(text, "unexpected text after the time");
  return p;
}

date::local_seconds to_local_seconds(const Civil& c) {
  return date::local_days(date::year(c.year) / c.month / c.day) + std::chrono::hours(c.hour) +
         std::chrono::minutes(c.minute) + seconds(c.second);
}

Civil to_civil(int64_t seconds_since_epoch) {
  auto tp = date::sys_seconds(seconds(seconds_since_epoch));
  auto day = date::floor<date::days>(tp);
  date::year_month_day ymd(day);
  date::hh_mm_ss<seconds> hms(tp - day);
  return Civil{int(ymd.year()),
               int(unsigned(ymd.month())),
               int(unsigned(ymd.day())),
               int(hms.hours().count()),
               int(hms.minutes().count()),
               int(hms.seconds().count()),
               0};
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::string offset_text(int offset_seconds) {
  char sign = offset_seconds < 0 ? '-' : '+';
  int a = std::abs(offset_seconds);
  return fmt::format("{}{:02}:{:02}", sign, a / 3600, a / 60 % 60);
}

// "01:30" style (seconds only when non-zero) for messages.
std::string clock_text(const Civil& c) {
  return c.second ? fmt::format("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
                  : fmt::format("{:02}:{:02}", c.hour, c.minute);
}

std::string local_text(const Civil& c) {
  return fmt::format("{:04}-{:02}-{:02} {}", c.year, c.month, c.day, clock_text(c));
}

int64_t sys_seconds_count(date::sys_seconds s) {
  return s.time_since_epoch().count();
}

Result<const date::time_zone*> find_zone(std::string_view zone) {
  if (zone.empty())
    return Error::config("empty time zone name (use an IANA name such as America/Toronto or UTC)");
  try {
    const date::tzdb& db = date::get_tzdb();
    const std::string name(zone);
    for (const date::time_zone& z : db.zones) {
      if (z.name() == name)
        return &z;
    }
    const std::string wanted = ascii_lower(name);
    for (const date::time_zone& z : db.zones) {
      if (ascii_lower(z.name()) == wanted)
        return &z;
    }
    return Error::config(fmt::format(
        "unknown time zone \"{}\" (use an IANA name such as America/Toronto, Europe/Paris, "
        "Asia/Kolkata or UTC)",
        zone));
  } catch (const std::exception& e) {
    return Error::config(fmt::format(
        "time zone database unavailable ({}); install the tzdata package (/usr/share/zoneinfo)",
        e.what()));
  }
}

// Debian's tzdata ships "fat" zoneinfo files with explicit transitions up to 2037; the date
// library in OS mode does not apply the file's POSIX footer rule beyond them, so it would keep
// the last 2037 offset for ever (Toronto would stay EST all of 2045). Refuse instead of guessing:
// from 2038 on, a zone whose last transition was in 2037 (it still observed DST) is an error.
constexpr int64_t k2037 = 2114380800;  // 2037-01-01T00:00:00Z
constexpr int64_t k2038 = 2145916800;  // 2038-01-01T00:00:00Z

Status check_rules_known(const date::time_zone& zone, int64_t unix_seconds) {
  if (unix_seconds < k2038)
    return Ok{};
  const date::sys_info info = zone.get_info(date::sys_seconds(seconds(unix_seconds)));
  if (sys_seconds_count(info.begin) < k2037)
    return Ok{};  // no transitions for decades (UTC, Asia/Kolkata): the offset is settled
  return Error::config(fmt::format(
      "time zone {}: daylight-saving rules after 2037 are not available from the OS zone "
      "database in this build; give the time in UTC (Z) or with an explicit offset",
      zone.name()));
}

}  // namespace

Result<std::string> canonical_zone_name(std::string_view zone) {
  auto z = find_zone(zone);
  if (!z)
    return z.error();
  return (*z)->name();
}

Result<LocalTimeResolution> resolve_time(std::string_view text, std::string_view zone) {
  auto parsed = parse_text(text);
  if (!parsed)
    return parsed.error();
  auto tz = find_zone(zone);
  if (!tz)
    return tz.error();
  const date::local_seconds local = to_local_seconds(parsed->civil);
  const int64_t local_s = local.time_since_epoch().count();
  const int64_t millis = parsed->civil.millis;
  LocalTimeResolution out;
  if (parsed->offset_seconds) {
    out.earlier_unix_ms = out.later_unix_ms = (local_s - *parsed->offset_seconds) * 1000 + millis;
    return out;
  }
  try {
    if (auto s = check_rules_known(**tz, local_s + 86400); !s)  // + a day: any offset
      return s.error();
    const date::local_info info = (*tz)->get_info(local);
    switch (info.result) {
      case date::local_info::unique:
        out.earlier_unix_ms = out.later_unix_ms =
            (local_s - info.first.offset.count()) * 1000 + millis;
        break;
      case date::local_info::ambiguous:
        out.kind = LocalTimeResolution::Kind::kAmbiguous;
        out.earlier_unix_ms = (local_s - info.first.offset.count()) * 1000 + millis;
        out.later_unix_ms = (local_s - info.second.offset.count()) * 1000 + millis;
        break;
      case date::local_info::nonexistent:
        out.kind = LocalTimeResolution::Kind::kNonexistent;
        out.earlier_unix_ms = out.later_unix_ms = sys_seconds_count(info.second.begin) * 1000;
        break;
    }
    return out;
  } catch (const std::exception& e) {
    return Error::config(fmt::format("time zone {}: {}", zone, e.what()));
  }
}

Result<int64_t> parse_time(std::string_view text, std::string_view zone) {
  auto r = resolve_time(text, zone);
  if (!r)
    return r.error();
  if (r->kind == LocalTimeResolution::Kind::kUnique)
    return r->earlier_unix_ms;
  auto parsed = parse_text(text);
  auto tz = find_zone(zone);
  if (!parsed || !tz)
    return Error::malformed("internal: time re-parse failed");
  const std::string name = (*tz)->name();
  const std::string local = local_text(parsed->civil);
  try {
    const date::local_info info = (*tz)->get_info(to_local_seconds(parsed->civil));
    const int before = static_cast<int>(info.first.offset.count());
    const int after = static_cast<int>(info.second.offset.count());
    const int64_t transition = sys_seconds_count(info.second.begin);
    const Civil from = to_civil(transition + before), to = to_civil(transition + after);
    if (r->kind == LocalTimeResolution::Kind::kAmbiguous) {
      return Error::malformed(fmt::format(
          "{} is ambiguous in {}: clocks go back from {} {} to {} {} on {:04}-{:02}-{:02}, so it "
          "happens twice: {} ({} {}, {}) or {} ({} {}, {}); add the offset to choose, e.g. "
          "\"{}{}\"",
          local, name, clock_text(from), info.first.abbrev, clock_text(to), info.second.abbrev,
          from.year, from.month, from.day, format_utc_iso(r->earlier_unix_ms),
          clock_text(parsed->civil), info.first.abbrev, offset_text(before),
          format_utc_iso(r->later_unix_ms), clock_text(parsed->civil), info.second.abbrev,
          offset_text(after), local, offset_text(before)));
    }
    return Error::malformed(fmt::format(
        "{} does not exist in {}: clocks jump forward from {} {} ({}) to {} {} ({}) at {}; "
        "pick a time outside the gap or give an explicit offset",
        local, name, clock_text(from), info.first.abbrev, offset_text(before), clock_text(to),
        info.second.abbrev, offset_text(after), format_utc_iso(transition * 1000)));
  } catch (const std::exception& e) {
    return Error::config(fmt::format("time zone {}: {}", zone, e.what()));
  }
}

Result<ZonedTime> to_zone(int64_t unix_ms, std::string_view zone) {
  auto tz = find_zone(zone);
  if (!tz)
    return tz.error();
  const int64_t secs = floor_div(unix_ms, 1000);
  const int millis = static_cast<int>(unix_ms - secs * 1000);
  try {
    if (auto s = check_rules_known(**tz, secs); !s)
      return s.error();
    const date::sys_info info = (*tz)->get_info(date::sys_seconds(seconds(secs)));
    ZonedTime out;
    out.offset_seconds = static_cast<int>(info.offset.count());
    out.abbreviation = info.abbrev;
    const Civil c = to_civil(secs + out.offset_seconds);
    out.local = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour,
                            c.minute, c.second);
    out.iso = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}", c.year, c.month, c.day,
                          c.hour, c.minute, c.second, millis, offset_text(out.offset_seconds));
    return out;
  } catch (const std::exception& e) {
    return Error::config(fmt::format("time zone {}: {}", zone, e.what()));
  }
}

std::string format_utc_iso(int64_t unix_ms) {
  const int64_t secs = floor_div(unix_ms, 1000);
  const Civil c = to_civil(secs);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second, unix_ms - secs * 1000);
}

Result<int64_t> parse_duration_ms(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error::malformed(fmt::format(
        "cannot read duration \"{}\": {} (expected e.g. 30m, 90s, 2h, 1d, 1h30m)", text, why));
  };
  if (text.empty())
    return bad("empty");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++digits > 6)
        return bad("number too large");
      n = n * 10 + (text[i++] - '0');
    }
    if (digits == 0)
      return bad("expected a number");
    if (i == text.size())
      return bad("missing unit (s, m, h or d)");
    switch (text[i++]) {
      case 's':
        total += n * 1000;
        break;
      case 'm':
        total += n * 60'000;
        break;
      case 'h':
        total += n * 3'600'000;
        break;
      case 'd':
        total += n * 86'400'000;
        break;
      default:
        return bad("unknown unit (use s, m, h or d)");
    }
  }
  return total;
}

}  // namespace mailsift::decisions
