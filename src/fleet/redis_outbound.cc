// Redis outbound::OutboundStore: the sending counters, recipient sets, values, account status
// and alerts of src/outbound shared by every node of a fleet (docs/fleet.md "Outbound counters").
// P = redis.prefix, K = the store key ("msg1m:user:a@x"); {K} is a Cluster hash tag, so each
// script touches one slot.
//   P ob:c:{K}    hash    bucket number -> count (HINCRBY); buckets < keep_from deleted by the
//                         same script; the key expires kCounterTtlMs after its last write
//   P ob:s:{K}    zset    member -> last-seen ms; ZREMRANGEBYSCORE drops members older than
//                         keep_since; the key expires (now - keep_since) + 1 h after its last touch
//   P ob:v:{K}    string  the value (no TTL: baselines must outlive quiet weeks)
//   P ob:status   hash    Subject::key() -> JSON status (no TTL)
//   P ob:alerts   list    JSON alerts, newest first (LPUSH), capped at kMaxAlerts
// Every call is one round trip (one command, or one script). Any failure, including an error
// reply, is kTemporary: the Guard then tempfails the request.
#include <algorithm>
#include <mutex>

#include <nlohmann/json.hpp>

#include "fleet/fleet.h"
#include "fleet/redis_client.h"

namespace mailsift::fleet {
namespace {

using outbound::AccountStatus;
using outbound::Alert;
using outbound::Level;
using outbound::Subject;
using outbound::SubjectKind;
using redis::Command;
using redis::Reply;

// Longest counter window of the Guard is 48 hourly buckets (the EWMA fold); a week of idleness
// loses nothing the Guard would still read.
constexpr int64_t kCounterTtlMs = 7LL * 24 * 3600 * 1000;
constexpr int64_t kSetTtlMarginMs = 3600 * 1000;
constexpr long kMaxAlerts = 10000;

// KEYS: counter hash. ARGV: bucket, delta, keep_from, ttl_ms.
constexpr const char* kAddCountScript = R"lua(
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
local keep = tonumber(ARGV[3])
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(f) < keep then redis.call('HDEL', KEYS[1], f) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0
)lua";

// KEYS: zset. ARGV: member, now_ms, keep_since_ms, ttl_ms. Returns 1 when the member is new.
constexpr const char* kTouchScript = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not old) or tonumber(old) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if old then return 0 end
return 1
)lua";

std::string status_json(const AccountStatus& s) {
  return nlohmann::json{{"kind", outbound::to_string(s.subject.kind)},
                        {"id", s.subject.id},
                        {"level", outbound::to_string(s.level)},
                        {"reason", s.reason},
                        {"changed_at_ms", s.changed_at_ms},
                        {"changed_by", s.changed_by},
                        {"reversible", s.reversible}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<AccountStatus> parse_status(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::temporary("redis: outbound status is not JSON");
  AccountStatus s;
  const std::string kind = j.value("kind", "user");
  s.subject.kind = kind == "domain"     ? SubjectKind::kDomain
                   : kind == "reseller" ? SubjectKind::kReseller
                                        : SubjectKind::kUser;
  s.subject.id = j.value("id", "");
  s.level = outbound::parse_level(j.value("level", "active")).value_or(Level::kActive);
  s.reason = j.value("reason", "");
  s.changed_at_ms = j.value("changed_at_ms", int64_t{0});
  s.changed_by = j.value("changed_by", "");
  s.reversible = j.value("reversible", true);
  return s;
}

std::string alert_json(const Alert& a) {
  return nlohmann::json{{"time_ms", a.time_ms},
                        {"subject", a.subject},
                        {"kind", a.kind},
                        {"score", a.score},
                        {"detail", a.detail}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string str(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
}

class RedisOutboundStore final : public outbound::OutboundStore {
 public:
  RedisOutboundStore(const RedisOptions& options, redis::Address address)
      : prefix_(options.prefix + "ob:"),
        client_(std::move(address), options.timeout_ms, options.pool_size) {}

  Status ping() {
    auto r = one({"PING"});
    if (!r.ok())
      return r.error();
    return Ok{};
  }

  Result<std::optional<AccountStatus>> get_status(const Subject& subject) override {
    auto r = one({"HGET", prefix_ + "status", subject.key()});
    if (!r.ok())
      return r.error();
    if ((*r)->type == REDIS_REPLY_NIL)
      return std::optional<AccountStatus>();
    auto s = parse_status(str(r->get()));
    if (!s.ok())
      return s.error();
    return std::optional<AccountStatus>(std::move(s).value());
  }

  Status put_status(const AccountStatus& status) override {
    return done(one({"HSET", prefix_ + "status", status.subject.key(), status_json(status)}));
  }

  Result<std::vector<AccountStatus>> restricted() override {
    auto r = one({"HVALS", prefix_ + "status"});
    if (!r.ok())
      return r.error();
    std::vector<AccountStatus> out;
    for (size_t i = 0; i < (*r)->elements; ++i) {
      auto s = parse_status(str((*r)->element[i]));
      if (!s.ok())
        return s.error();
      if (s->level != Level::kActive)
        out.push_back(std::move(s).value());
    }
    return out;
  }

  Status add_count(std::string_view key, int64_t bucket, int64_t delta,
                   int64_t keep_from) override {
    auto r = client_.eval(add_sha_, kAddCountScript,
                          {{"1", k("c:", key), std::to_string(bucket), std::to_string(delta),
                            std::to_string(keep_from), std::to_string(kCounterTtlMs)}});
    return done(check(std::move(r)));
  }

  Result<int64_t> sum_counts(std::string_view key, int64_t first, int64_t last) override {
    auto r = one({"HGETALL", k("c:", key)});
    if (!r.ok())
      return r.error();
    int64_t sum = 0;
    for (size_t i = 0; i + 1 < (*r)->elements; i += 2) {
      const int64_t b = std::strtoll(str((*r)->element[i]).c_str(), nullptr, 10);
      if (b >= first && b <= last)
        sum += std::strtoll(str((*r)->element[i + 1]).c_str(), nullptr, 10);
    }
    return sum;
  }

  Result<bool> touch_member(std::string_view key, std::string_view member, int64_t now_ms,
                            int64_t keep_since_ms) override {
    const int64_t ttl = std::max<int64_t>(0, now_ms - keep_since_ms) + kSetTtlMarginMs;
    auto r = client_.eval(touch_sha_, kTouchScript,
                          {{"1", k("s:", key), std::string(member), std::to_string(now_ms),
                            std::to_string(keep_since_ms), std::to_string(ttl)}});
    auto c = check(std::move(r));
    if (!c.ok())
      return c.error();
    if ((*c)->type != REDIS_REPLY_INTEGER)
      return Error::temporary("redis: unexpected touch reply");
    return (*c)->integer == 1;
  }

  Result<bool> has_member(std::string_view key, std::string_view member,
                          int64_t since_ms) override {
    auto r = one({"ZSCORE", k("s:", key), std::string(member)});
    if (!r.ok())
      return r.error();
    if ((*r)->type == REDIS_REPLY_NIL)
      return false;
    // RESP2: the score is a string (ms fit a double exactly).
    const double score = std::strtod(str(r->get()).c_str(), nullptr);
    return static_cast<int64_t>(score) >= since_ms;
  }

  Result<int64_t> count_members(std::string_view key, int64_t since_ms) override {
    auto r = one({"ZCOUNT", k("s:", key), std::to_string(since_ms), "+inf"});
    if (!r.ok())
      return r.error();
    if ((*r)->type != REDIS_REPLY_INTEGER)
      return Error::temporary("redis: unexpected ZCOUNT reply");
    return static_cast<int64_t>((*r)->integer);
  }

  Result<std::optional<std::string>> get_value(std::string_view key) override {
    auto r = one({"GET", k("v:", key)});
    if (!r.ok())
      return r.error();
    if ((*r)->type == REDIS_REPLY_NIL)
      return std::optional<std::string>();
    return std::optional<std::string>(str(r->get()));
  }

  Status put_value(std::string_view key, std::string_view value) override {
    return done(one({"SET", k("v:", key), std::string(value)}));
  }

  Status add_alert(const Alert& alert) override {
    const std::string key = prefix_ + "alerts";
    auto r = client_.run(
        {{"LPUSH", key, alert_json(alert)}, {"LTRIM", key, "0", std::to_string(kMaxAlerts - 1)}});
    if (!r.ok())
      return r.error();
    for (const Reply& x : *r)
      if (x->type == REDIS_REPLY_ERROR)
        return Error::temporary("redis: " + std::string(x->str, x->len));
    return Ok{};
  }

  Result<std::vector<Alert>> alerts(std::string_view subject_key, size_t limit) override {
    auto r = one({"LRANGE", prefix_ + "alerts", "0", "-1"});
    if (!r.ok())
      return r.error();
    std::vector<Alert> out;
    for (size_t i = 0; i < (*r)->elements && (limit == 0 || out.size() < limit); ++i) {
      auto j = nlohmann::json::parse(str((*r)->element[i]), nullptr, false);
      if (j.is_discarded() || !j.is_object())
        return Error::temporary("redis: outbound alert is not JSON");
      Alert a{j.value("time_ms", int64_t{0}), j.value("subject", ""), j.value("kind", ""),
              j.value("score", 0.0), j.value("detail", "")};
      if (subject_key.empty() || a.subject == subject_key)
        out.push_back(std::move(a));
    }
    return out;
  }

 private:
  std::string k(const char* kind, std::string_view key) const {
    return prefix_ + kind + "{" + std::string(key) + "}";
  }

  // One command; an error reply is kTemporary (the Guard tempfails, never accepts silently).
  Result<Reply> one(Command cmd) { return check(client_.run({std::move(cmd)})); }

  static Result<Reply> check(Result<std::vector<Reply>> r) {
    if (!r.ok())
      return r.error();
    if (r->size() != 1)
      return Error::temporary("redis: missing reply");
    Reply x = std::move((*r)[0]);
    if (x->type == REDIS_REPLY_ERROR)
      return Error::temporary("redis: " + std::string(x->str, x->len));
    return x;
  }

  static Status done(Result<Reply> r) {
    if (!r.ok())
      return r.error();
    return Ok{};
  }

  std::string prefix_;
  redis::Client client_;
  std::string add_sha_, touch_sha_;
};

}  // namespace

Result<std::unique_ptr<outbound::OutboundStore>> open_redis_outbound_store(
    const RedisOptions& options) {
  auto address = redis::parse_address(options.address);
  if (!address.ok())
    return address.error();
  if (options.timeout_ms <= 0 || options.pool_size <= 0)
    return Error::config("redis: timeout_ms and pool_size must be positive");
  auto s = std::make_unique<RedisOutboundStore>(options, std::move(address).value());
  if (Status up = s->ping(); !up.ok())
    return up.error();
  return std::unique_ptr<outbound::OutboundStore>(std::move(s));
}

}  // namespace mailsift::fleet
