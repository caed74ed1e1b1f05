#include "outbound/guard.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>

namespace mailsift::outbound {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kTenMinutes = 600'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr const char* kDetectActor = "mailsift-detect";

std::string key(std::string_view metric, const Subject& s) {
  return fmt::format("{}:{}", metric, s.key());
}

// The scopes a request touches, most specific first; reseller only when known.
std::vector<std::pair<Subject, ScopeLimits>> scopes(const Identity& who, const GuardConfig& c) {
  std::vector<std::pair<Subject, ScopeLimits>> out;
  out.emplace_back(Subject::user(who.user), c.user);
  if (!who.domain.empty())
    out.emplace_back(Subject::domain(who.domain), c.domain);
  if (!who.reseller.empty())
    out.emplace_back(Subject::reseller(who.reseller), c.reseller);
  return out;
}

}  // namespace

Identity Identity::from(std::string_view login, std::string_view sender,
                        std::string_view reseller) {
  Identity id;
  id.user = Subject::user(login).id;
  auto at = id.user.rfind('@');
  if (at != std::string::npos) {
    id.domain = id.user.substr(at + 1);
  } else {
    std::string s = Subject::user(sender).id;
    at = s.rfind('@');
    if (at != std::string::npos)
      id.domain = s.substr(at + 1);
  }
  id.reseller = std::string(reseller);
  return id;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kAccept:
      return "accept";
    case Verdict::kTempfail:
      return "tempfail";
    case Verdict::kReject:
      return "reject";
  }
  return "accept";
}

std::string network_of(std::string_view ip) {
  std::string s(ip);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']')
    s = s.substr(1, s.size() - 2);
  if (s.rfind("IPv6:", 0) == 0 || s.rfind("ipv6:", 0) == 0)
    s = s.substr(5);
  unsigned char b[16];
  if (inet_pton(AF_INET, s.c_str(), b) == 1)
    return fmt::format("{}.{}.{}.0/24", b[0], b[1], b[2]);
  if (inet_pton(AF_INET6, s.c_str(), b) == 1) {
    // IPv4-mapped addresses count as IPv4.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(b, b + 12, kMapped))
      return fmt::format("{}.{}.{}.0/24", b[12], b[13], b[14]);
    return fmt::format("{:x}:{:x}:{:x}::/48", (b[0] << 8) | b[1], (b[2] << 8) | b[3],
                       (b[4] << 8) | b[5]);
  }
  return "";
}

Result<GuardConfig> GuardConfig::from_config(const Config& c) {
  GuardConfig g;
  g.user = {c.get_int("outbound.user.messages_per_hour"),
            c.get_int("outbound.user.distinct_recipients_per_day")};
  g.domain = {c.get_int("outbound.domain.messages_per_hour"),
              c.get_int("outbound.domain.distinct_recipients_per_day")};
  g.reseller = {c.get_int("outbound.reseller.messages_per_hour"),
                c.get_int("outbound.reseller.distinct_recipients_per_day")};
  g.recipients_per_message = c.get_int("outbound.recipients_per_message");
  g.failed_ratio = c.get_double("outbound.failed_ratio");
  g.failed_min_recipients = c.get_int("outbound.failed_min_recipients");
  const std::string& action = c.get_string("outbound.over_limit_action");
  if (action == "tempfail")
    g.tempfail_over_limit = true;
  else if (action == "reject")
    g.tempfail_over_limit = false;
  else
    return Error::config("outbound.over_limit_action must be \"tempfail\" or \"reject\", not \"" +
                         action + "\"");
  auto& d = g.detect;
  d.enabled = c.get_bool("outbound.detect.enabled");
  d.threshold = c.get_double("outbound.detect.threshold");
  d.burst_weight = c.get_double("outbound.detect.burst_weight");
  d.burst_factor = c.get_double("outbound.detect.burst_factor");
  d.burst_min_messages = c.get_int("outbound.detect.burst_min_messages");
  d.ewma_alpha = c.get_double("outbound.detect.ewma_alpha");
  d.high_score_weight = c.get_double("outbound.detect.high_score_weight");
  d.high_score = c.get_double("outbound.detect.high_score");
  d.high_score_count = c.get_int("outbound.detect.high_score_count");
  d.failed_weight = c.get_double("outbound.detect.failed_weight");
  d.failed_count = c.get_int("outbound.detect.failed_count");
  d.new_network_weight = c.get_double("outbound.detect.new_network_weight");
  d.same_content_weight = c.get_double("outbound.detect.same_content_weight");
  d.same_content_recipients = c.get_int("outbound.detect.same_content_recipients");
  d.grace_seconds = c.get_int("outbound.detect.grace_seconds");
  return g;
}

int64_t Guard::system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Guard::Guard(OutboundStore& store, GuardConfig config, Clock clock)
    : store_(store), config_(std::move(config)), clock_(std::move(clock)) {}

Result<AccountStatus> Guard::effective_status(const Identity& who) {
  AccountStatus best{Subject::user(who.user), Level::kActive, "", 0, "", true};
  for (const auto& [subject, limits] : scopes(who, config_)) {
    auto st = store_.get_status(subject);
    if (!st)
      return st.error();
    if (*st && (*st)->level > best.level)
      best = **st;
  }
  return best;
}

Result<std::optional<Outcome>> Guard::refuse_by_status(const Identity& who, std::string_view ref) {
  auto st = effective_status(who);
  if (!st)
    return st.error();
  if (st->level == Level::kActive)
    return std::optional<Outcome>();
  const ReplyKind kind =
      st->level == Level::kSuspended ? ReplyKind::kSuspended : ReplyKind::kSendingDisabled;
  Outcome o;
  o.verdict = Verdict::kReject;
  o.rule = std::string(reply_spec(kind).name);
  o.reply = render_reply(kind, false, {st->subject.describe(), st->reason, std::string(ref)});
  return std::optional<Outcome>(std::move(o));
}

Outcome Guard::limit_refusal(ReplyKind kind, const Subject& s, int64_t n, int64_t pct) const {
  Outcome o;
  o.verdict = config_.tempfail_over_limit ? Verdict::kTempfail : Verdict::kReject;
  o.rule = std::string(reply_spec(kind).name);
  o.reply = render_reply(kind, config_.tempfail_over_limit, {s.describe(), "", "", n, pct});
  return o;
}

Status Guard::note_network(const Identity& who, std::string_view client_ip, int64_t now) {
  const std::string net = network_of(client_ip);
  if (net.empty() || who.user.empty())
    return Ok{};
  const Subject u = Subject::user(who.user);
  const std::string k = key("nets", u);
  auto before = store_.count_members(k, now - 180 * kDay);
  if (!before)
    return before.error();
  auto fresh = store_.touch_member(k, net, now, now - 180 * kDay);
  if (!fresh)
    return fresh.error();
  // The first network ever is the baseline, not a signal.
  if (*fresh && *before > 0)
    return store_.put_value(key("newnet", u), fmt::format("{} {}", now, net));
  return Ok{};
}

Result<double> Guard::fold_baseline(const std::string& user_key, int64_t now) {
  const int64_t hour = now / kHour;
  auto v = store_.get_value("ewma:" + user_key);
  if (!v)
    return v.error();
  double baseline = 0;
  int64_t last = hour;
  if (*v && std::sscanf((*v)->c_str(), "%lf %ld", &baseline, &last) != 2) {
    baseline = 0;
    last = hour;
  }
  if (!*v || last < hour) {
    const double a = config_.detect.ewma_alpha;
    int64_t from = last;
    if (hour - from > 48) {  // hours older than the hourly buckets count as zero
      baseline *= std::pow(1 - a, static_cast<double>(hour - from - 48));
      from = hour - 48;
    }
    for (int64_t h = from; *v && h < hour; ++h) {
      auto c = store_.sum_counts("msg1h:" + user_key, h, h);
      if (!c)
        return c.error();
      baseline = a * static_cast<double>(*c) + (1 - a) * baseline;
    }
    if (auto s = store_.put_value("ewma:" + user_key, fmt::format("{} {}", baseline, hour)); !s)
      return s.error();
  }
  return baseline;
}

Result<Guard::Score> Guard::score(const Identity& who, int64_t now) {
  const auto& d = config_.detect;
  const Subject u = Subject::user(who.user);
  Score sc;
  auto add = [&](double w, std::string text) {
    sc.total += w;
    if (!sc.signals.empty())
      sc.signals += "; ";
    sc.signals += text;
  };
  auto baseline = fold_baseline(u.key(), now);
  if (!baseline)
    return baseline.error();
  const int64_t minute = now / kMinute;
  auto msgs = store_.sum_counts(key("msg1m", u), minute - 59, minute);
  if (!msgs)
    return msgs.error();
  const double burst_at =
      std::max(static_cast<double>(d.burst_min_messages), d.burst_factor * *baseline);
  if (static_cast<double>(*msgs) > burst_at)
    add(d.burst_weight, fmt::format("burst {} msgs/h over baseline {:.1f}", *msgs, *baseline));
  auto hs = store_.sum_counts(key("hs1m", u), minute - 59, minute);
  if (!hs)
    return hs.error();
  if (*hs >= d.high_score_count)
    add(d.high_score_weight, fmt::format("{} high-scoring msgs/h", *hs));
  const int64_t tm = now / kTenMinutes;
  auto failed = store_.sum_counts(key("fail10m", u), tm - 5, tm);
  if (!failed)
    return failed.error();
  if (*failed >= d.failed_count)
    add(d.failed_weight, fmt::format("{} failed recipients/h", *failed));
  auto newnet = store_.get_value(key("newnet", u));
  if (!newnet)
    return newnet.error();
  int64_t at = 0;
  char net[64] = {0};
  if (*newnet && std::sscanf((*newnet)->c_str(), "%ld %63s", &at, net) == 2 && now - at < kDay)
    add(d.new_network_weight, fmt::format("login from new network {}", net));
  auto same = store_.get_value(key("samecontent", u));
  if (!same)
    return same.error();
  int64_t n = 0;
  if (*same && std::sscanf((*same)->c_str(), "%ld %ld", &at, &n) == 2 && now - at < kHour)
    add(d.same_content_weight, fmt::format("same content to {} recipients/h", n));
  return sc;
}

Result<bool> Guard::detect(const Identity& who, int64_t now) {
  if (!config_.detect.enabled || who.user.empty())
    return false;
  const Subject u = Subject::user(who.user);
  auto own = store_.get_status(u);
  if (!own)
    return own.error();
  if (*own) {
    if ((*own)->level != Level::kActive)
      return false;  // already held or suspended
    if ((*own)->changed_by != kDetectActor &&
        now - (*own)->changed_at_ms < config_.detect.grace_seconds * 1000)
      return false;  // support just reactivated it
  }
  auto sc = score(who, now);
  if (!sc)
    return sc.error();
  if (sc->total < config_.detect.threshold)
    return false;
  const std::string reason = "auto: " + sc->signals;
  if (auto s = store_.put_status({u, Level::kSendingDisabled, reason, now, kDetectActor, true}); !s)
    return s.error();
  if (auto s = store_.add_alert({now, u.key(), "auto_hold", sc->total, sc->signals}); !s)
    return s.error();
  return true;
}

Result<Outcome> Guard::check_mail(const Identity& who, std::string_view client_ip,
                                  std::string_view ref) {
  const int64_t now = clock_();
  if (auto s = note_network(who, client_ip, now); !s)
    return s.error();
  auto refused = refuse_by_status(who, ref);
  if (!refused)
    return refused.error();
  if (*refused)
    return std::move(**refused);
  return Outcome{};
}

Result<Outcome> Guard::check_rcpt(const RcptRequest& r) {
  const int64_t now = clock_();
  const auto all = scopes(r.who, config_);
  const Subject u = all.front().first;

  // Per-message state (in memory), pruned of messages older than a day.
  bool new_message = false;
  int64_t rcpts_so_far = 0;
  {
    std::lock_guard lock(mu_);
    // At most once a minute: with more than 100,000 messages in a day a sweep on every request
    // made each recipient check O(messages) (found by bench/outbound).
    if (messages_.size() > 100000 && now - last_prune_ms_ >= kMinute) {
      // Same entries as erasing every message with now - first_ms > kDay; message_order_ is
      // ordered by first_ms as long as the clock does not go back (if it does, an entry behind
      // a younger one is pruned a little later than the sweep would have: memory, not verdicts,
      // since a day-old instance is not reused by Postfix).
      while (!message_order_.empty() && now - message_order_.front().first > kDay) {
        auto it = messages_.find(message_order_.front().second);
        if (it != messages_.end() && it->second.first_ms == message_order_.front().first &&
            now - it->second.first_ms > kDay)
          messages_.erase(it);
        message_order_.pop_front();
      }
      last_prune_ms_ = now;
    }
    auto it = messages_.find(r.instance);
    new_message = r.instance.empty() || it == messages_.end() || it->second.recipients == 0;
    rcpts_so_far = it == messages_.end() ? 0 : it->second.recipients;
  }
  if (new_message) {
    if (auto s = note_network(r.who, r.client_ip, now); !s)
      return s.error();
  }

  auto refused = refuse_by_status(r.who, r.ref);
  if (!refused)
    return refused.error();
  if (*refused)
    return std::move(**refused);

  // Limits, checked before anything is counted: a refused recipient costs nothing.
  const int64_t minute = now / kMinute;
  if (new_message) {
    for (const auto& [s, lim] : all) {
      if (lim.messages_per_hour <= 0)
        continue;
      auto n = store_.sum_counts(key("msg1m", s), minute - 59, minute);
      if (!n)
        return n.error();
      if (*n + 1 > lim.messages_per_hour)
        return limit_refusal(ReplyKind::kMessagesPerHour, s, lim.messages_per_hour);
    }
  }
  if (config_.recipients_per_message > 0 && rcpts_so_far + 1 > config_.recipients_per_message)
    return limit_refusal(ReplyKind::kRecipientsPerMessage, u, config_.recipients_per_message);
  const std::string rcpt = Subject::user(r.recipient).id;
  for (const auto& [s, lim] : all) {
    if (lim.distinct_per_day <= 0 || rcpt.empty())
      continue;
    auto known = store_.has_member(key("rcpt1d", s), rcpt, now - kDay);
    if (!known)
      return known.error();
    if (*known)
      continue;
    auto n = store_.count_members(key("rcpt1d", s), now - kDay);
    if (!n)
      return n.error();
    if (*n + 1 > lim.distinct_per_day)
      return limit_refusal(ReplyKind::kDistinctPerDay, s, lim.distinct_per_day);
  }
  const int64_t tm = now / kTenMinutes;
  if (config_.failed_ratio > 0) {
    auto sent = store_.sum_counts(key("rcpt10m", u), tm - 143, tm);
    auto failed = store_.sum_counts(key("fail10m", u), tm - 143, tm);
    if (!sent)
      return sent.error();
    if (!failed)
      return failed.error();
    if (*sent >= config_.failed_min_recipients && *sent > 0 &&
        static_cast<double>(*failed) / static_cast<double>(*sent) > config_.failed_ratio) {
      return limit_refusal(ReplyKind::kFailedRatio, u, *sent, *failed * 100 / *sent);
    }
  }

  // Accepted: count.
  if (new_message) {
    for (const auto& [s, lim] : all)
      if (auto st = store_.add_count(key("msg1m", s), minute, 1, minute - 59); !st)
        return st.error();
    // Fold the baseline before this hour's bucket grows (it only folds completed hours).
    if (auto b = fold_baseline(u.key(), now); !b)
      return b.error();
    const int64_t hour = now / kHour;
    if (auto st = store_.add_count(key("msg1h", u), hour, 1, hour - 48); !st)
      return st.error();
  }
  if (!rcpt.empty()) {
    for (const auto& [s, lim] : all)
      if (auto t = store_.touch_member(key("rcpt1d", s), rcpt, now, now - kDay); !t)
        return t.error();
  }
  if (auto st = store_.add_count(key("rcpt10m", u), tm, 1, tm - 143); !st)
    return st.error();
  if (!r.instance.empty()) {
    std::lock_guard lock(mu_);
    auto& m = messages_[r.instance];
    if (m.recipients == 0) {
      m.first_ms = now;
      message_order_.emplace_back(now, r.instance);
    }
    ++m.recipients;
  }

  if (new_message) {
    auto held = detect(r.who, now);
    if (!held)
      return held.error();
    if (*held) {
      auto again = refuse_by_status(r.who, r.ref);
      if (!again)
        return again.error();
      if (*again) {
        (*again)->held_now = true;
        return std::move(**again);
      }
    }
  }
  return Outcome{};
}

Status Guard::report_failed_recipients(const Identity& who, int64_t count) {
  if (count <= 0)
    return Ok{};
  const int64_t now = clock_();
  const int64_t tm = now / kTenMinutes;
  if (auto s = store_.add_count(key("fail10m", Subject::user(who.user)), tm, count, tm - 143); !s)
    return s;
  auto held = detect(who, now);
  if (!held)
    return held.error();
  return Ok{};
}

Status Guard::report_scanned(const Identity& who, double score, std::string_view digest,
                             int64_t recipients) {
  const int64_t now = clock_();
  const int64_t minute = now / kMinute;
  const Subject u = Subject::user(who.user);
  if (score >= config_.detect.high_score) {
    if (auto s = store_.add_count(key("hs1m", u), minute, 1, minute - 59); !s)
      return s;
  }
  if (!digest.empty() && recipients > 0) {
    const std::string k = fmt::format("dig1m:{}:{}", u.key(), digest);
    if (auto s = store_.add_count(k, minute, recipients, minute - 59); !s)
      return s;
    auto n = store_.sum_counts(k, minute - 59, minute);
    if (!n)
      return n.error();
    if (*n >= config_.detect.same_content_recipients) {
      if (auto s = store_.put_value(key("samecontent", u), fmt::format("{} {}", now, *n)); !s)
        return s;
    }
  }
  auto held = detect(who, now);
  if (!held)
    return held.error();
  return Ok{};
}

Status Guard::set_status(const Subject& subject, Level level, std::string_view reason,
                         std::string_view by, bool reversible) {
  return store_.put_status(
      {subject, level, std::string(reason), clock_(), std::string(by), reversible});
}

Result<Usage> Guard::usage(const Identity& who) {
  const int64_t now = clock_();
  Usage out;
  auto st = effective_status(who);
  if (!st)
    return st.error();
  out.effective = std::move(st).value();
  const int64_t minute = now / kMinute;
  for (const auto& [s, lim] : scopes(who, config_)) {
    ScopeUsage su{s};
    auto m = store_.sum_counts(key("msg1m", s), minute - 59, minute);
    auto d = store_.count_members(key("rcpt1d", s), now - kDay);
    if (!m)
      return m.error();
    if (!d)
      return d.error();
    su.messages_last_hour = *m;
    su.messages_limit = lim.messages_per_hour;
    su.distinct_last_day = *d;
    su.distinct_limit = lim.distinct_per_day;
    out.scopes.push_back(su);
  }
  const Subject u = Subject::user(who.user);
  const int64_t tm = now / kTenMinutes;
  auto sent = store_.sum_counts(key("rcpt10m", u), tm - 143, tm);
  auto failed = store_.sum_counts(key("fail10m", u), tm - 143, tm);
  auto nets = store_.count_members(key("nets", u), now - 180 * kDay);
  if (!sent)
    return sent.error();
  if (!failed)
    return failed.error();
  if (!nets)
    return nets.error();
  out.recipients_last_day = *sent;
  out.failed_last_day = *failed;
  out.networks = *nets;
  auto sc = score(who, now);
  if (!sc)
    return sc.error();
  out.detect_score = sc->total;
  out.detect_signals = sc->signals;
  auto v = store_.get_value("ewma:" + u.key());
  if (v && *v)
    std::sscanf((*v)->c_str(), "%lf", &out.baseline_per_hour);
  return out;
}

}  // namespace mailsift::outbound
