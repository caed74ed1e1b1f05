#include "cli/log_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "decisions/decision_json.h"
#include "decisions/decisions.h"
#include "decisions/timezone.h"
#include "fleet/fleet.h"

namespace mailsift::cli {
namespace {

namespace dec = mailsift::decisions;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitTemporary = 3;
constexpr size_t kTopSymbols = 5;

// Length of the valid UTF-8 sequence at s[i] that is not a C0/C1 control or DEL; 0 otherwise.
size_t printable_sequence(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c >= 0x20 && c < 0x7f)
    return 1;
  size_t n = c >= 0xc2 && c <= 0xdf   ? 2
             : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  uint32_t cp = c & (0xff >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
    return 0;  // overlong, out of range, surrogate, or a C1 control (0x80-0x9f)
  return n;
}

// Untrusted text on a terminal: control characters (ESC sequences, CR, C1 CSI) and bytes that
// are not UTF-8 are shown as \xNN, so a subject cannot drive the terminal.
std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (size_t n = printable_sequence(text, i)) {
      out.append(text, i, n);
      i += n;
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      ++i;
    }
  }
  return out;
}

std::string angle(const std::string& address) {
  return address.empty() ? "<>" : address.front() == '<' ? address : "<" + address + ">";
}

struct Range {
  std::optional<int64_t> since, until;
};

// Errors here are the user's input: the caller exits 2.
Result<Range> time_range(const LogOptions& o, const std::string& zone) {
  Range r;
  if (!o.at.empty()) {
    if (!o.since.empty() || !o.until.empty())
      return Error::malformed("--at cannot be combined with --since/--until");
    auto at = dec::parse_time(o.at, zone);
    if (!at)
      return Error::malformed("--at: " + at.error().message);
    auto window = dec::parse_duration_ms(o.window.empty() ? "30m" : o.window);
    if (!window)
      return Error::malformed("--window: " + window.error().message);
    r.since = *at - *window;
    r.until = *at + *window;
    if (*window == 0)
      return Error::malformed("--window must be longer than 0");
    return r;
  }
  if (!o.window.empty())
    return Error::malformed("--window needs --at");
  if (!o.since.empty()) {
    auto t = dec::parse_time(o.since, zone);
    if (!t)
      return Error::malformed("--since: " + t.error().message);
    r.since = *t;
  }
  if (!o.until.empty()) {
    auto t = dec::parse_time(o.until, zone);
    if (!t)
      return Error::malformed("--until: " + t.error().message);
    r.until = *t;
  }
  if (r.since && r.until && *r.since >= *r.until) {
    return Error::malformed(fmt::format("the range is empty: --since {} is not before --until {}",
                                        dec::format_utc_iso(*r.since),
                                        dec::format_utc_iso(*r.until)));
  }
  return r;
}

std::string local_with_zone(int64_t unix_ms, const std::string& zone) {
  auto z = dec::to_zone(unix_ms, zone);
  return z ? z->local + " " + z->abbreviation : dec::format_utc_iso(unix_ms);
}

// "sender=a@b, recipient=c@d, between 2026-... and 2026-... (local ...)" for the no-match line.
std::string describe_search(const dec::Query& q, const std::string& zone) {
  std::vector<std::string> parts;
  auto add = [&](const char* name, const std::string& v) {
    if (!v.empty())
      parts.push_back(fmt::format("{}={}", name, printable(v)));
  };
  add("id", q.id);
  add("from", q.sender);
  add("to", q.recipient);
  add("user", q.user);
  add("domain", q.domain);
  add("reseller", q.reseller);
  add("queue-id", q.queue_id);
  add("message-id", q.message_id);
  add("ip", q.client_ip);
  add("action", q.action);
  add("direction", q.direction);
  std::string filters = parts.empty() ? "any decision" : fmt::format("{}", fmt::join(parts, ", "));
  std::string range;
  if (q.since_unix_ms && q.until_unix_ms) {
    range =
        fmt::format("from {} until {} UTC ({} .. {}, {})", dec::format_utc_iso(*q.since_unix_ms),
                    dec::format_utc_iso(*q.until_unix_ms), local_with_zone(*q.since_unix_ms, zone),
                    local_with_zone(*q.until_unix_ms, zone), zone);
  } else if (q.since_unix_ms) {
    range = fmt::format("since {} UTC ({}, {})", dec::format_utc_iso(*q.since_unix_ms),
                        local_with_zone(*q.since_unix_ms, zone), zone);
  } else if (q.until_unix_ms) {
    range = fmt::format("before {} UTC ({}, {})", dec::format_utc_iso(*q.until_unix_ms),
                        local_with_zone(*q.until_unix_ms, zone), zone);
  } else {
    range = "at any time";
  }
  return filters + ", " + range;
}

void print_human(std::ostream& out, const dec::Decision& d, const std::string& zone) {
  out << fmt::format("{}  {}  queue {}  id {}\n", local_with_zone(d.time_unix_ms, zone),
                     printable(d.direction), d.queue_id.empty() ? "-" : printable(d.queue_id),
                     printable(d.id));
  std::string line = fmt::format("  from {}  client {}", printable(angle(d.mail_from)),
                                 d.client_ip.empty() ? "-" : printable(d.client_ip));
  if (!d.helo.empty())
    line += fmt::format(" (helo {})", printable(d.helo));
  if (!d.auth_user.empty())
    line += fmt::format("  auth {}", printable(d.auth_user));
  if (!d.node.empty())
    line += fmt::format("  node {}", printable(d.node));
  out << line << "\n";
  if (!d.message_id.empty() || !d.subject.empty()) {
    out << fmt::format("  message-id {}  subject \"{}\"\n",
                       d.message_id.empty() ? "-" : printable(d.message_id), printable(d.subject));
  }
  for (const std::string& e : d.errors)
    out << fmt::format("  error: {}\n", printable(e));
  for (const dec::RecipientDecision& r : d.recipients) {
    std::string tenant;
    if (!r.user.empty())
      tenant += fmt::format("user {}", printable(r.user));
    if (!r.domain.empty())
      tenant += fmt::format("{}domain {}", tenant.empty() ? "" : ", ", printable(r.domain));
    if (!r.reseller.empty())
      tenant += fmt::format("{}reseller {}", tenant.empty() ? "" : ", ", printable(r.reseller));
    out << fmt::format("  -> {}  {}  score {:.2f}{}\n", printable(angle(r.address)),
                       printable(r.action), r.score, tenant.empty() ? "" : "  [" + tenant + "]");
    if (!r.smtp_reply.empty())
      out << fmt::format("     reply: {}\n", printable(r.smtp_reply));
    if (!r.symbols.empty()) {
      std::vector<dec::SymbolHit> top = r.symbols;
      std::stable_sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
        return std::fabs(a.score) > std::fabs(b.score);
      });
      std::vector<std::string> shown;
      for (size_t i = 0; i < top.size() && i < kTopSymbols; ++i)
        shown.push_back(fmt::format("{} {:.2f}", printable(top[i].name), top[i].score));
      std::string more =
          top.size() > kTopSymbols ? fmt::format(" (+{} more)", top.size() - kTopSymbols) : "";
      out << fmt::format("     symbols: {}{}\n", fmt::join(shown, ", "), more);
    }
  }
}

void print_json(std::ostream& out, const dec::Decision& d, const std::string& zone) {
  nlohmann::json j = dec::decision_to_json(d);
  if (auto z = dec::to_zone(d.time_unix_ms, zone)) {
    j["time_local"] = z->iso;
    j["time_zone"] = zone;
    j["time_zone_abbreviation"] = z->abbreviation;
  }
  out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace

void add_log_options(CLI::App& cmd, LogOptions& o) {
  cmd.add_option("--since", o.since,
                 "Start of the range, inclusive: local time in --tz, e.g. \"2026-11-27 10:15\" "
                 "(or with an offset / Z)");
  cmd.add_option("--until", o.until, "End of the range, exclusive (same forms as --since)");
  cmd.add_option("--at", o.at, "Centre of a window: [at - window, at + window)");
  cmd.add_option("--window", o.window, "Half-width of the --at window (default 30m; s, m, h, d)");
  cmd.add_option("--tz", o.tz, "IANA time zone for input and display (default UTC)");
  cmd.add_option("--from", o.from, "Envelope sender (case-insensitive; <> = null sender)");
  cmd.add_option("--to", o.to, "Any envelope recipient (case-insensitive)");
  cmd.add_option("--user", o.user, "Recipient's user ID");
  cmd.add_option("--domain", o.domain, "Recipient's domain ID");
  cmd.add_option("--reseller", o.reseller, "Recipient's reseller ID (exact)");
  cmd.add_option("--queue-id", o.queue_id, "MTA queue ID (exact)");
  cmd.add_option("--message-id", o.message_id, "Message-ID, with or without <>");
  cmd.add_option("--ip", o.ip, "Client IP address");
  cmd.add_option("--action", o.action,
                 "A recipient's action: \"no action\", \"add header\", \"rewrite subject\", "
                 "\"soft reject\", \"reject\"");
  cmd.add_option("--direction", o.direction, "inbound or outbound")
      ->check(CLI::IsMember({"inbound", "outbound"}, CLI::ignore_case));
  cmd.add_option("--id", o.id, "Decision ID (X-Mailsift-Id)");
  cmd.add_option("--limit", o.limit, "At most this many decisions, newest first (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_flag("--json", o.json, "One JSON object per decision per line");
}

int run_log_command(const LogOptions& o, const Config& config, const std::string& data_dir,
                    std::ostream& out, std::ostream& err) {
  auto zone = dec::canonical_zone_name(o.tz);
  if (!zone) {
    err << "mailsift: --tz: " << zone.error().message << "\n";
    return kExitUsage;
  }
  auto range = time_range(o, *zone);
  if (!range) {
    err << "mailsift: " << range.error().message << "\n";
    return kExitUsage;
  }
  dec::Query q;
  q.since_unix_ms = range->since;
  q.until_unix_ms = range->until;
  q.id = o.id;
  q.sender = o.from;
  q.recipient = o.to;
  q.user = o.user;
  q.domain = o.domain;
  q.reseller = o.reseller;
  q.queue_id = o.queue_id;
  q.message_id = o.message_id;
  q.client_ip = o.ip;
  q.action = o.action;
  q.direction = o.direction;
  // One more than asked, to say whether the list was cut.
  q.limit = o.limit == 0 ? 0 : o.limit + 1;

  std::string where;
  auto log = fleet::open_configured_log_for_reading(config, data_dir, &where);
  if (!log) {
    err << "mailsift: " << log.error().describe() << "\n";
    return log.error().kind == ErrorKind::kTemporary ? kExitTemporary : kExitUsage;
  }
  std::vector<dec::Decision> found;
  if (!*log) {
    err << fmt::format(
        "mailsift: no decision log at {} (nothing recorded yet, or wrong --data-dir or "
        "decisions.backend)\n",
        where);
  } else {
    auto result = (**log).query(q);
    if (!result) {
      err << "mailsift: " << result.error().describe() << "\n";
      return result.error().kind == ErrorKind::kTemporary ? kExitTemporary : kExitUsage;
    }
    found = std::move(result).value();
  }

  if (found.empty()) {
    (o.json ? err : out) << "no decisions match: " << describe_search(q, *zone) << "\n";
    return kExitOk;
  }
  const bool cut = o.limit != 0 && found.size() > o.limit;
  if (cut)
    found.resize(o.limit);
  for (size_t i = 0; i < found.size(); ++i) {
    if (o.json) {
      print_json(out, found[i], *zone);
    } else {
      if (i > 0)
        out << "\n";
      print_human(out, found[i], *zone);
    }
  }
  if (cut) {
    err << fmt::format(
        "mailsift: showing the newest {}; more decisions match (narrow the search or raise "
        "--limit)\n",
        o.limit);
  }
  return kExitOk;
}

}  // namespace mailsift::cli
