// mailsift::decisions — local date-times in IANA time zones, for people searching the log.
//
// Owns: parsing the times support staff type ("2026-11-27 10:15" in America/Toronto) to UTC
// milliseconds, formatting UTC milliseconds in a zone, and window durations ("30m"). Uses Howard
// Hinnant's date library as built by Debian (USE_OS_TZDB=1): zone rules come from the OS
// database in /usr/share/zoneinfo (package tzdata), so it works offline and follows OS updates.
//
// Failure semantics: errors are values, never guesses. Unparseable text is kMalformed; a local
// time that occurs twice (DST fall-back) or never (spring-forward gap) is kMalformed with a
// message that says so and names the candidate UTC instants; an unknown zone name, or a missing
// zone database, is kConfig. Nothing throws (the library's exceptions are caught here).
// Limit: the OS files list transitions up to 2037 and this library does not extend them with the
// files' POSIX rule, so from 2038 on a zone that still observes DST is kConfig (never a wrong
// offset); explicit offsets, UTC and zones without DST keep working.
// SECURITY: parses operator/CLI text only; every field is range-checked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace mailsift::decisions {

// The zone's IANA name as the database spells it; matches case-insensitively when there is no
// exact match ("america/toronto" -> "America/Toronto"). "UTC" always works.
Result<std::string> canonical_zone_name(std::string_view zone);

// How a local date-time maps to UTC in a zone.
struct LocalTimeResolution {
  enum class Kind { kUnique, kAmbiguous, kNonexistent };
  Kind kind = Kind::kUnique;
  // kUnique: both the instant. kAmbiguous: the earlier and the later of the two instants the
  // local time names. kNonexistent: both the instant of the transition that skipped it.
  int64_t earlier_unix_ms = 0;
  int64_t later_unix_ms = 0;
};

// Accepted text: "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS[.fff]", the same with
// 'T' instead of the space, and any of those followed by "Z" or an offset (+HH:MM, +HHMM, +HH,
// optionally after one space). With an offset or Z the zone is not used for the conversion (it
// is still validated). A date alone means 00:00.
Result<LocalTimeResolution> resolve_time(std::string_view text, std::string_view zone);

// resolve_time, but ambiguous and non-existent local times are errors whose message explains the
// transition and lists the candidate UTC instants.
Result<int64_t> parse_time(std::string_view text, std::string_view zone);

// An instant as seen in a zone.
struct ZonedTime {
  std::string local;         // "2026-11-27 10:15:02"
  std::string abbreviation;  // "EST" (as the zone database spells it, e.g. "+0530" or "IST")
  int offset_seconds = 0;    // local - UTC
  std::string iso;           // "2026-11-27T10:15:02.123-05:00"
};
Result<ZonedTime> to_zone(int64_t unix_ms, std::string_view zone);

// "2026-11-27T15:15:02.123Z".
std::string format_utc_iso(int64_t unix_ms);

// "90s", "30m", "2h", "1d", "1h30m" (units s, m, h, d; at least one; each number up to 6 digits).
Result<int64_t> parse_duration_ms(std::string_view text);

}  // namespace mailsift::decisions
