#include "ipwatch/monitor.h"

#include <fmt/format.h>

#include <ctime>
#include <limits>
#include <set>

#include "dnsbl/dnsbl.h"
#include "ipwatch/socketmap.h"

namespace mailsift::ipwatch {
namespace {

constexpr const char* kBy = "ipwatch";

std::string utc(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// logfmt value: quoted when it has spaces, quotes or '='; control characters dropped.
std::string kv(std::string_view key, std::string_view value) {
  bool quote = value.empty();
  std::string v;
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      continue;
    if (c == ' ' || c == '=' || c == '"')
      quote = true;
    if (c == '"' || c == '\\')
      v += '\\';
    v += c;
  }
  return fmt::format("{}={}", key, quote ? "\"" + v + "\"" : v);
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty())
      out += sep;
    out += s;
  }
  return out;
}

const Pool* pool_of(const Options& o, const std::string& ip) {
  for (const auto& p : o.pools)
    for (const auto& x : p.ips)
      if (x == ip)
        return &p;
  return nullptr;
}

}  // namespace

Choice choose_pool(const std::vector<PoolState>& pools, const std::string& default_transport) {
  for (const auto& p : pools)
    if (p.healthy)
      return {p.transport, p.name, false};
  return {default_transport, "", true};
}

Result<std::vector<IpState>> read_states(Store& store, const Options& options) {
  auto open = store.open_listings();
  if (!open)
    return open.error();
  auto checks = store.checks();
  if (!checks)
    return checks.error();
  std::vector<IpState> out;
  for (const auto& p : options.pools) {
    for (const auto& ip : p.ips) {
      IpState s;
      s.ip = ip;
      s.pool = p.name;
      for (const auto& e : *open)
        if (e.ip == ip)
          s.listed.push_back({e.list, e.zone, e.listed_at_ms, e.codes, e.name});
      std::sort(s.listed.begin(), s.listed.end(),
                [](const Listed& a, const Listed& b) { return a.list < b.list; });
      s.healthy = s.listed.empty();
      for (const auto& c : *checks) {
        if (c.ip != ip)
          continue;
        s.last_checked_ms = std::max(s.last_checked_ms, c.checked_at_ms);
        if (c.outcome != dnsbl::to_string(dnsbl::Outcome::kListed) &&
            c.outcome != dnsbl::to_string(dnsbl::Outcome::kNotListed))
          s.problems.push_back(fmt::format("{}: {} ({})", c.list, c.outcome, c.detail));
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

Result<std::optional<IpState>> read_state(Store& store, const Options& options,
                                          std::string_view ip) {
  const std::string canon = canonical_ip(ip);
  if (canon.empty() || !pool_of(options, canon))
    return std::optional<IpState>();
  auto all = read_states(store, options);
  if (!all)
    return all.error();
  for (auto& s : *all)
    if (s.ip == canon)
      return std::optional<IpState>(std::move(s));
  return std::optional<IpState>();
}

std::vector<PoolState> pool_states(const Options& options, const std::vector<IpState>& states) {
  std::vector<PoolState> out;
  for (const auto& p : options.pools) {
    PoolState ps{p.name, p.transport, true, {}};
    for (const auto& s : states)
      if (s.pool == p.name && !s.healthy) {
        ps.healthy = false;
        ps.listed_ips.push_back(s.ip);
      }
    out.push_back(std::move(ps));
  }
  return out;
}

Result<DelistingRecord> update_delisting(Store& store, const Options& options, std::string_view ip,
                                         std::optional<RequestState> state, std::string_view note,
                                         std::string_view by, int64_t now_ms) {
  const std::string canon = canonical_ip(ip);
  if (canon.empty() || !pool_of(options, canon))
    return Error::permanent(fmt::format("{} is not a configured outbound IP (ipwatch.pools)", ip));
  if (note.find('\n') != std::string_view::npos || note.size() > 2000)
    return Error::malformed("a note is one line of at most 2000 characters");
  auto cur = store.delisting(canon);
  if (!cur)
    return cur.error();
  DelistingRecord d;
  if (*cur) {
    d = **cur;
  } else {
    d.ip = canon;
    auto st = read_state(store, options, canon);
    if (!st)
      return st.error();
    if (*st && !(*st)->listed.empty()) {
      d.listed_since_ms = (*st)->listed.front().since_ms;
      std::vector<std::string> lists;
      for (const auto& l : (*st)->listed) {
        d.listed_since_ms = std::min(d.listed_since_ms, l.since_ms);
        lists.push_back(l.list);
      }
      d.lists = join(lists);
    }
  }
  const std::string who = by.empty() ? "support" : std::string(by);
  std::string line = fmt::format("{} {}:", utc(now_ms), who);
  if (state && *state != d.state)
    line += fmt::format(" state {} -> {}", to_string(d.state), to_string(*state));
  if (!note.empty())
    line += fmt::format(" {}", note);
  if (state)
    d.state = *state;
  d.notes += (d.notes.empty() ? "" : "\n") + line;
  d.updated_by = who;
  d.updated_at_ms = now_ms;
  if (auto st = store.put_delisting(d); !st)
    return st.error();
  return d;
}

Monitor::Monitor(Options options, Store& store, dns::Resolver& resolver, Clock clock, Log log)
    : options_(std::move(options)),
      store_(store),
      resolver_(resolver),
      clock_(std::move(clock)),
      log_(std::move(log)) {}

void Monitor::log(std::string_view level, const std::string& fields) const {
  if (log_)
    log_(level, fields);
}

Status Monitor::load() {
  return refresh();
}

Status Monitor::refresh() {
  auto states = read_states(store_, options_);
  if (!states)
    return states.error();
  auto pools = pool_states(options_, *states);
  std::lock_guard lock(mu_);
  states_ = std::move(states).value();
  pools_ = std::move(pools);
  return Ok{};
}

// The delisting record follows the listing: a new listing (re)starts it, the last delisting
// closes it as "delisted". Support's own state and notes are kept.
Status Monitor::note_transition(const std::string& ip, const std::string& list, bool listed,
                                const std::string& detail, int64_t now) {
  auto cur = store_.delisting(ip);
  if (!cur)
    return cur.error();
  auto open = store_.open_listings();
  if (!open)
    return open.error();
  std::vector<std::string> lists;
  int64_t since = 0;
  for (const auto& e : *open)
    if (e.ip == ip) {
      lists.push_back(e.list);
      since = since == 0 ? e.listed_at_ms : std::min(since, e.listed_at_ms);
    }
  DelistingRecord d = cur->value_or(DelistingRecord{});
  d.ip = ip;
  std::string line;
  if (listed) {
    if (lists.size() == 1) {  // it was clean before this listing: a new case for support
      d.listed_since_ms = now;
      d.state = RequestState::kNone;
    }
    d.lists = join(lists);
    line = fmt::format("{} {}: listed on {} ({})", utc(now), kBy, list, detail);
  } else {
    line = fmt::format("{} {}: delisted from {}", utc(now), kBy, list);
    if (lists.empty()) {
      if (d.state != RequestState::kDelisted)
        line += fmt::format("; on no list now: state {} -> delisted", to_string(d.state));
      d.state = RequestState::kDelisted;
    } else {
      d.lists = join(lists);
    }
  }
  d.notes += (d.notes.empty() ? "" : "\n") + line;
  d.updated_by = kBy;
  d.updated_at_ms = now;
  return store_.put_delisting(d);
}

Result<RoundReport> Monitor::run_round() {
  RoundReport report;
  const int64_t now = clock_();
  report.at_ms = now;

  // 1. RFC 5782 test points: is each list (and our resolver's view of it) trustworthy?
  std::vector<dnsbl::ListSpec> trusted;
  std::map<std::string, std::string> untrusted;  // list -> why
  auto health = dnsbl::check_health(resolver_, options_.lists);
  for (size_t i = 0; i < options_.lists.size(); ++i) {
    const auto& h = health[i];
    std::string text = dnsbl::to_string(h.status);
    if (h.status == dnsbl::HealthStatus::kOk ||
        h.status == dnsbl::HealthStatus::kTestPointNotListed) {
      // A list without the RFC 5782 test point is still read: some lists skip it.
      trusted.push_back(options_.lists[i]);
    } else {
      untrusted[h.list] = fmt::format("{}: {}", text, h.detail);
      report.problems.push_back(
          fmt::format("list {}: {} ({}), not read this round", h.list, text, h.detail));
    }
    std::string full = h.ok() ? text : fmt::format("{}: {}", text, h.detail);
    auto& last = list_health_[h.list];
    if (last != full) {
      if (!h.ok() || !last.empty()) {
        const bool bad = !untrusted.count(h.list) ? false : true;
        log(bad ? "warn" : "info",
            fmt::format("event=ipwatch_list_health {} {} {}", kv("list", h.list),
                        kv("status", text), kv("detail", h.detail)));
        Alert a{now, "", h.list, bad ? "list_problem" : "list_health", full};
        if (auto st = store_.add_alert(a); !st)
          return st.error();
      }
      last = full;
    }
  }

  // 2. Every IP against every trusted list, compared with the open episodes in the store.
  auto open = store_.open_listings();
  if (!open)
    return open.error();
  std::set<std::pair<std::string, std::string>> is_open;
  for (const auto& e : *open)
    is_open.insert({e.ip, e.list});

  for (const auto& pool : options_.pools) {
    for (const auto& ip : pool.ips) {
      for (const auto& [list, why] : untrusted) {
        const bool was = is_open.count({ip, list}) > 0;
        CheckRecord c{
            ip,
            list,
            now,
            dnsbl::to_string(dnsbl::Outcome::kNotChecked),
            "",
            fmt::format("list health {}; kept previous state ({})", why, was ? "listed" : "not listed")};
        if (auto st = store_.put_check(c); !st)
          return st.error();
      }
      for (const auto& r : dnsbl::check_ip(resolver_, trusted, ip)) {
        const bool was = is_open.count({ip, r.list}) > 0;
        CheckRecord c{ip, r.list, now, dnsbl::to_string(r.outcome), join(r.codes), r.detail};
        switch (r.outcome) {
          case dnsbl::Outcome::kListed: {
            if (was)
              break;
            Episode e{0, ip, r.list, r.zone, now, join(r.codes), r.name, 0};
            auto opened = store_.open_listing(e);
            if (!opened)
              return opened.error();
            if (!*opened)
              break;  // another checker (CLI) recorded it first
            const std::string what =
                fmt::format("{}{}", join(r.codes), r.name.empty() ? "" : " " + r.name);
            report.listed.push_back(fmt::format("{} on {} ({})", ip, r.list, what));
            log("warn", fmt::format("event=ipwatch_listed {} {} {} {} {}", kv("ip", ip),
                                    kv("pool", pool.name), kv("list", r.list), kv("codes", what),
                                    kv("query", r.query)));
            if (auto st = store_.add_alert({now, ip, r.list, "listed", what}); !st)
              return st.error();
            if (auto st = note_transition(ip, r.list, true, what, now); !st)
              return st.error();
            break;
          }
          case dnsbl::Outcome::kNotListed: {
            if (!was)
              break;
            auto closed = store_.close_listing(ip, r.list, now);
            if (!closed)
              return closed.error();
            if (!*closed)
              break;
            report.delisted.push_back(fmt::format("{} from {}", ip, r.list));
            log("info", fmt::format("event=ipwatch_delisted {} {} {}", kv("ip", ip),
                                    kv("pool", pool.name), kv("list", r.list)));
            if (auto st = store_.add_alert({now, ip, r.list, "delisted", r.detail}); !st)
              return st.error();
            if (auto st = note_transition(ip, r.list, false, "", now); !st)
              return st.error();
            break;
          }
          case dnsbl::Outcome::kNotChecked:
          case dnsbl::Outcome::kBlocked:
          case dnsbl::Outcome::kRewritten: {
            // Never read as a listing or as a delisting: the previous state stands.
            c.detail += fmt::format("; kept previous state ({})", was ? "listed" : "not listed");
            report.problems.push_back(fmt::format("{} on {}: {}", ip, r.list, c.detail));
            log("warn",
                fmt::format("event=ipwatch_not_checked {} {} {} {}", kv("ip", ip),
                            kv("list", r.list), kv("outcome", c.outcome), kv("detail", c.detail)));
            break;
          }
        }
        if (auto st = store_.put_check(c); !st)
          return st.error();
      }
    }
  }

  if (auto st = refresh(); !st)
    return st.error();
  const Choice choice = choose();
  report.all_unhealthy = choice.fallback && !options_.pools.empty();
  if (report.all_unhealthy != all_unhealthy_reported_) {
    all_unhealthy_reported_ = report.all_unhealthy;
    const std::string detail =
        report.all_unhealthy
            ? fmt::format("every pool has a listed IP; answering {}",
                          choice.transport.empty() ? "NOTFOUND (Postfix default_transport)"
                                                   : choice.transport)
            : fmt::format("pool {} healthy again", choice.pool);
    log(report.all_unhealthy ? "error" : "info",
        fmt::format("event={} {}",
                    report.all_unhealthy ? "ipwatch_all_pools_unhealthy" : "ipwatch_pool_healthy",
                    kv("detail", detail)));
    if (auto st = store_.add_alert(
            {now, "", "", report.all_unhealthy ? "all_pools_unhealthy" : "pool_healthy", detail});
        !st)
      return st.error();
  }
  // The steering history: one record per change of answer, so a case lookup can name the pool
  // (and so the IPs) Postfix was sending from at any moment.
  if (!options_.pools.empty()) {
    if (!steering_loaded_) {
      auto last = store_.steering_at(std::numeric_limits<int64_t>::max());
      if (!last)
        return last.error();
      steering_recorded_ = *last;
      steering_loaded_ = true;
    }
    SteeringRecord now_steering{now, choice.fallback ? "" : choice.pool, choice.transport,
                                choice.fallback};
    if (!steering_recorded_ || steering_recorded_->pool != now_steering.pool ||
        steering_recorded_->transport != now_steering.transport ||
        steering_recorded_->fallback != now_steering.fallback) {
      if (auto st = store_.add_steering(now_steering); !st)
        return st.error();
      steering_recorded_ = now_steering;
    }
  }
  log("info",
      fmt::format("event=ipwatch_round {} {} {} {} {}", kv("ips", std::to_string(states().size())),
                  kv("lists", std::to_string(trusted.size())),
                  kv("listed", std::to_string(report.listed.size())),
                  kv("delisted", std::to_string(report.delisted.size())),
                  kv("pool", choice.fallback ? "(none healthy)" : choice.pool)));
  return report;
}

std::optional<IpState> Monitor::state_of(std::string_view ip) const {
  const std::string canon = canonical_ip(ip);
  std::lock_guard lock(mu_);
  for (const auto& s : states_)
    if (s.ip == canon)
      return s;
  return std::nullopt;
}

std::vector<IpState> Monitor::states() const {
  std::lock_guard lock(mu_);
  return states_;
}

std::vector<PoolState> Monitor::pools() const {
  std::lock_guard lock(mu_);
  return pools_;
}

Choice Monitor::choose() const {
  std::lock_guard lock(mu_);
  if (pools_.empty() && !options_.pools.empty()) {
    // Not loaded yet: no evidence of a listing, prefer the first pool.
    return {options_.pools.front().transport, options_.pools.front().name, false};
  }
  return choose_pool(pools_, options_.default_transport);
}

std::string Monitor::map_reply(std::string_view payload) {
  namespace sm = socketmap;
  auto req = sm::parse_request(payload);
  if (!req)
    return sm::reply(sm::Status::kPerm, "malformed request (expected NAME KEY)");
  if (req->name != options_.map_name)
    return sm::reply(sm::Status::kPerm,
                     fmt::format("unknown map name (this server answers {})", options_.map_name));
  const Choice c = choose();
  if (c.fallback) {
    // Loud but bounded: one error line a minute while every pool is unhealthy.
    const int64_t now = clock_();
    int64_t last = fallback_logged_ms_.load();
    if (now - last >= 60000 && fallback_logged_ms_.compare_exchange_strong(last, now))
      log("error", fmt::format("event=ipwatch_no_healthy_pool {} {}", kv("sender", req->key),
                               kv("answer", c.transport.empty() ? "NOTFOUND" : c.transport)));
    if (c.transport.empty())
      return sm::reply(sm::Status::kNotFound, "");
  }
  return sm::reply(sm::Status::kOk, c.transport);
}

}  // namespace mailsift::ipwatch
