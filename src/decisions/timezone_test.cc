// Local times in IANA zones: DST transitions, fractional offsets, formats, errors.
#include "decisions/timezone.h"

#include <gtest/gtest.h>

namespace mailsift::decisions {
namespace {

constexpr int64_t kHour = 3'600'000;

int64_t utc(const char* iso) {
  auto t = parse_time(iso, "UTC");
  EXPECT_TRUE(t.ok()) << iso << ": " << (t.ok() ? "" : t.error().describe());
  return t.ok() ? *t : 0;
}

int64_t local(const char* text, const char* zone) {
  auto t = parse_time(text, zone);
  EXPECT_TRUE(t.ok()) << text << " " << zone << ": " << (t.ok() ? "" : t.error().describe());
  return t.ok() ? *t : 0;
}

TEST(TimeZone, UtcFormats) {
  const int64_t t = 1795792500000;  // 2026-11-27T15:15:00Z
  EXPECT_EQ(utc("2026-11-27 15:15"), t);
  EXPECT_EQ(utc("2026-11-27 15:15:00"), t);
  EXPECT_EQ(utc("2026-11-27T15:15"), t);
  EXPECT_EQ(utc("2026-11-27T15:15:00Z"), t);
  EXPECT_EQ(utc("2026-11-27t15:15:00z"), t);
  EXPECT_EQ(utc("2026-11-27T15:15:00.250Z"), t + 250);
  EXPECT_EQ(utc("2026-11-27T15:15:00.2509Z"), t + 250) << "sub-ms digits are truncated";
  EXPECT_EQ(utc("  2026-11-27 15:15  "), t);
  EXPECT_EQ(utc("2026-11-27"), t - 15 * kHour - 15 * 60000);
  EXPECT_EQ(format_utc_iso(t + 7), "2026-11-27T15:15:00.007Z");
  EXPECT_EQ(format_utc_iso(-1), "1969-12-31T23:59:59.999Z");
}

TEST(TimeZone, ExplicitOffsetsWinOverTheZone) {
  const int64_t t = 1795792500000;
  EXPECT_EQ(local("2026-11-27T10:15:00-05:00", "Asia/Kolkata"), t);
  EXPECT_EQ(local("2026-11-27 10:15-0500", "UTC"), t);
  EXPECT_EQ(local("2026-11-27 10:15 -05", "UTC"), t);
  EXPECT_EQ(local("2026-11-27T20:45:00+05:30", "America/Toronto"), t);
  EXPECT_EQ(local("2026-11-27T15:15Z", "America/Toronto"), t);
}

TEST(TimeZone, TorontoWinterAndSummer) {
  EXPECT_EQ(local("2026-11-27 10:15", "America/Toronto"), utc("2026-11-27T15:15Z"));  // EST
  EXPECT_EQ(local("2026-07-01 10:15", "America/Toronto"), utc("2026-07-01T14:15Z"));  // EDT
  auto z = to_zone(utc("2026-11-27T15:15:02.123Z"), "America/Toronto");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->local, "2026-11-27 10:15:02");
  EXPECT_EQ(z->abbreviation, "EST");
  EXPECT_EQ(z->offset_seconds, -5 * 3600);
  EXPECT_EQ(z->iso, "2026-11-27T10:15:02.123-05:00");
  z = to_zone(utc("2026-07-01T14:15Z"), "America/Toronto");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->abbreviation, "EDT");
  EXPECT_EQ(z->iso, "2026-07-01T10:15:00.000-04:00");
}

TEST(TimeZone, TorontoSpringForwardGapIsAnErrorThatSaysSo) {
  // 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00Z. 02:30 never happens.
  EXPECT_EQ(local("2026-03-08 01:59:59", "America/Toronto"), utc("2026-03-08T06:59:59Z"));
  EXPECT_EQ(local("2026-03-08 03:00", "America/Toronto"), utc("2026-03-08T07:00Z"));
  auto r = resolve_time("2026-03-08 02:30", "America/Toronto");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, LocalTimeResolution::Kind::kNonexistent);
  EXPECT_EQ(r->earlier_unix_ms, utc("2026-03-08T07:00Z"));
  auto t = parse_time("2026-03-08 02:30", "America/Toronto");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(t.error().message.find("does not exist in America/Toronto"), std::string::npos)
      << t.error().message;
  EXPECT_NE(t.error().message.find("02:00 EST (-05:00) to 03:00 EDT (-04:00)"), std::string::npos)
      << t.error().message;
  EXPECT_NE(t.error().message.find("2026-03-08T07:00:00.000Z"), std::string::npos)
      << t.error().message;
  // With an offset the gap does not matter.
  EXPECT_EQ(local("2026-03-08 02:30-05:00", "America/Toronto"), utc("2026-03-08T07:30Z"));
}

TEST(TimeZone, TorontoFallBackRepeatedHourIsAnErrorListingBothInstants) {
  // 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00Z. 01:30 happens at 05:30Z and at 06:30Z.
  auto r = resolve_time("2026-11-01 01:30", "America/Toronto");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, LocalTimeResolution::Kind::kAmbiguous);
  EXPECT_EQ(r->earlier_unix_ms, utc("2026-11-01T05:30Z"));
  EXPECT_EQ(r->later_unix_ms, utc("2026-11-01T06:30Z"));
  auto t = parse_time("2026-11-01 01:30", "America/Toronto");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::kMalformed);
  const std::string& m = t.error().message;
  EXPECT_NE(m.find("ambiguous"), std::string::npos) << m;
  EXPECT_NE(m.find("2026-11-01T05:30:00.000Z (01:30 EDT, -04:00)"), std::string::npos) << m;
  EXPECT_NE(m.find("2026-11-01T06:30:00.000Z (01:30 EST, -05:00)"), std::string::npos) << m;
  // Either one can be chosen with its offset; the hour around is unique.
  EXPECT_EQ(local("2026-11-01 01:30-04:00", "America/Toronto"), utc("2026-11-01T05:30Z"));
  EXPECT_EQ(local("2026-11-01 01:30-05:00", "America/Toronto"), utc("2026-11-01T06:30Z"));
  EXPECT_EQ(local("2026-11-01 00:59", "America/Toronto"), utc("2026-11-01T04:59Z"));
  EXPECT_EQ(local("2026-11-01 02:00", "America/Toronto"), utc("2026-11-01T07:00Z"));
  // Formatting across the repeat shows which one.
  auto a = to_zone(utc("2026-11-01T05:30Z"), "America/Toronto");
  auto b = to_zone(utc("2026-11-01T06:30Z"), "America/Toronto");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->local, b->local);
  EXPECT_EQ(a->abbreviation, "EDT");
  EXPECT_EQ(b->abbreviation, "EST");
}

TEST(TimeZone, AfterTheDatabaseRangeDstZonesRefuseInsteadOfGuessing) {
  // The OS zoneinfo files list transitions up to 2037 and the date library does not extend them
  // with the files' POSIX rule: a DST zone after 2037 must be an error, never a wrong offset.
  auto z = to_zone(utc("2037-07-01T12:00Z"), "America/Toronto");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->abbreviation, "EDT");
  z = to_zone(utc("2045-07-01T12:00Z"), "America/Toronto");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().kind, ErrorKind::kConfig);
  EXPECT_NE(z.error().message.find("after 2037"), std::string::npos) << z.error().message;
  EXPECT_FALSE(parse_time("2045-07-01 10:00", "America/Toronto").ok());
  // Explicit offsets and zones without DST are unaffected.
  EXPECT_EQ(local("2045-07-01 10:00-04:00", "America/Toronto"), utc("2045-07-01T14:00Z"));
  EXPECT_EQ(local("2045-07-01 20:45", "Asia/Kolkata"), utc("2045-07-01T15:15Z"));
  EXPECT_TRUE(to_zone(utc("2045-07-01T12:00Z"), "UTC").ok());
}

TEST(TimeZone, KolkataHalfHourOffset) {
  EXPECT_EQ(local("2026-11-27 20:45", "Asia/Kolkata"), utc("2026-11-27T15:15Z"));
  auto z = to_zone(utc("2026-11-27T15:15Z"), "Asia/Kolkata");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->offset_seconds, 5 * 3600 + 1800);
  EXPECT_EQ(z->iso, "2026-11-27T20:45:00.000+05:30");
  EXPECT_EQ(z->abbreviation, "IST");
}

TEST(TimeZone, UtcZoneAndCaseInsensitiveNames) {
  auto z = to_zone(utc("2026-11-27T15:15Z"), "UTC");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->iso, "2026-11-27T15:15:00.000+00:00");
  EXPECT_EQ(z->abbreviation, "UTC");
  auto name = canonical_zone_name("america/toronto");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "America/Toronto");
  EXPECT_EQ(local("2026-11-27 10:15", "AMERICA/TORONTO"), utc("2026-11-27T15:15Z"));
}

TEST(TimeZone, UnknownZoneIsAClearConfigError) {
  for (const char* zone : {"Mars/Olympus", "", "EST5EDT/../../etc/passwd", "../UTC"}) {
    SCOPED_TRACE(zone);
    auto t = parse_time("2026-11-27 10:15", zone);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().kind, ErrorKind::kConfig);
    EXPECT_NE(t.error().message.find("time zone"), std::string::npos) << t.error().message;
    EXPECT_FALSE(to_zone(0, zone).ok());
  }
}

TEST(TimeZone, BadTextIsMalformed) {
  for (const char* text :
       {"", "yesterday", "2026-13-01 10:00", "2026-02-30", "2026-11-27 24:00", "2026-11-27 10:60",
        "2026-11-27 10:15:61", "2026-11-27 10", "2026-11-27 10:15 EST", "2026-11-27T10:15+25:00",
        "26-11-27 10:15", "2026-11-27 10:15:00.", "2026-11-27 10:15:00.1234567890",
        "2026-11-27 10:15junk"}) {
    SCOPED_TRACE(text);
    auto t = parse_time(text, "UTC");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().kind, ErrorKind::kMalformed);
    EXPECT_NE(t.error().message.find("cannot read time"), std::string::npos);
  }
}

TEST(Duration, Units) {
  EXPECT_EQ(*parse_duration_ms("30m"), 30 * 60000);
  EXPECT_EQ(*parse_duration_ms("90s"), 90000);
  EXPECT_EQ(*parse_duration_ms("2h"), 2 * kHour);
  EXPECT_EQ(*parse_duration_ms("1d"), 24 * kHour);
  EXPECT_EQ(*parse_duration_ms("1h30m"), 90 * 60000);
  for (const char* bad : {"", "30", "m", "5x", "-5m", "1234567m", "1.5h"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_duration_ms(bad).ok());
  }
}

}  // namespace
}  // namespace mailsift::decisions
