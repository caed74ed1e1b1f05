// Redis store::Store (hiredis). Key layout (docs/fleet.md), S = Scope::key(), P = prefix:
//   P tok:{S}            hash  "<token hex16>h" / "<token hex16>s" -> count (absent = 0)
//   P tot:{S}            hash  "h" / "s" -> messages learned per class
//   P msg:{S}            hash  digest -> class char ('h'|'s') + the learned tokens (hex16 each)
//   P fz:rec:{S}         hash  record id -> serialized FuzzyRecord
//   P fz:rb:{S}          hash  record id -> the record's bands (hex16 each)
//   P fz:dig:{S}:<dig>   set   record ids of one digest (one per reporter)
//   P fz:band:{S}:<hex>  set   record ids having that band
// The {S} hash tag puts every key of a scope in one Redis Cluster slot, so the Lua scripts that
// touch several keys stay legal on a cluster. learn/unlearn/fuzzy_add/fuzzy_remove are Lua
// scripts (EVALSHA, EVAL on NOSCRIPT): atomic on the server, idempotent by digest.
//
// Connections: redis_client.h (shared with the outbound store): a pool of hiredis contexts; each
// call checks one out (waiting at most timeout_ms), a context with an I/O error is dropped and
// the next checkout reconnects. Every connect and every command is bounded by timeout_ms.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "fleet/fleet.h"
#include "fleet/redis_client.h"

namespace mailsift::fleet {
namespace {

using redis::Address;
using redis::Command;
using redis::parse_address;
using redis::Reply;

using store::Class;
using store::ClassTotals;
using store::FuzzyRecord;
using store::LearnOutcome;
using store::LearnRequest;
using store::Scope;
using store::TokenCounts;

// ---- Lua scripts ----------------------------------------------------------------------------

// KEYS: tok, tot, msg. ARGV: digest, class ('h'|'s'), tokens (hex16 concatenated, unique),
// mode ('learn' | 'unlearn'). Returns 0 learned, 1 already, 2 relearned, 3 unlearned, 4 not.
constexpr const char* kLearnScript = R"lua(
local function add(cls, toks, delta)
  for i = 1, #toks, 16 do
    local f = string.sub(toks, i, i + 15) .. cls
    local v = tonumber(redis.call('HGET', KEYS[1], f) or '0') + delta
    if v <= 0 then redis.call('HDEL', KEYS[1], f) else redis.call('HSET', KEYS[1], f, v) end
  end
  local t = tonumber(redis.call('HGET', KEYS[2], cls) or '0') + delta
  if t <= 0 then redis.call('HDEL', KEYS[2], cls) else redis.call('HSET', KEYS[2], cls, t) end
end
local prev = redis.call('HGET', KEYS[3], ARGV[1])
local cls = ARGV[2]
if ARGV[4] == 'unlearn' then
  if (not prev) or string.sub(prev, 1, 1) ~= cls then return 4 end
  add(cls, string.sub(prev, 2), -1)
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 3
end
local outcome = 0
if prev then
  local pcls = string.sub(prev, 1, 1)
  if pcls == cls then return 1 end
  add(pcls, string.sub(prev, 2), -1)
  outcome = 2
end
add(cls, ARGV[3], 1)
redis.call('HSET', KEYS[3], ARGV[1], cls .. ARGV[3])
return outcome
)lua";

// KEYS: rec, rb, dig set. ARGV: record id, blob, bands (hex16 concatenated, unique), band key
// prefix ("P fz:band:{S}:").
constexpr const char* kFuzzyAddScript = R"lua(
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  for i = 1, #old, 16 do redis.call('SREM', ARGV[4] .. string.sub(old, i, i + 15), ARGV[1]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
for i = 1, #ARGV[3], 16 do
  redis.call('SADD', ARGV[4] .. string.sub(ARGV[3], i, i + 15), ARGV[1])
end
return 0
)lua";

// KEYS: rec, rb, dig set. ARGV: band key prefix. Returns the number of records removed.
constexpr const char* kFuzzyRemoveScript = R"lua(
local ids = redis.call('SMEMBERS', KEYS[3])
for _, id in ipairs(ids) do
  local old = redis.call('HGET', KEYS[2], id)
  if old then
    for i = 1, #old, 16 do redis.call('SREM', ARGV[1] .. string.sub(old, i, i + 15), id) end
  end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
redis.call('DEL', KEYS[3])
return #ids
)lua";

// ---- encoding -----------------------------------------------------------------------------

std::string hex16(uint64_t v) {
  return fmt::format("{:016x}", v);
}

std::vector<uint64_t> sorted_unique(std::span<const uint64_t> in) {
  std::vector<uint64_t> v(in.begin(), in.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::string hex_concat(const std::vector<uint64_t>& v) {
  std::string out;
  out.reserve(v.size() * 16);
  for (uint64_t x : v)
    out += hex16(x);
  return out;
}

char cls_char(Class c) {
  return c == Class::kHam ? 'h' : 's';
}

// Record id: unique per (digest, reporter) and unambiguous for any bytes in either.
std::string record_id(const std::string& digest, const std::string& reporter) {
  return std::to_string(digest.size()) + ":" + digest + reporter;
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

// Blob: version byte 1, class byte, added_unix, digest, reporter, bands, signature.
std::string encode_record(const FuzzyRecord& r) {
  std::string out;
  out.push_back(1);
  out.push_back(cls_char(r.cls));
  put_u64(out, static_cast<uint64_t>(r.added_unix));
  put_str(out, r.message_digest);
  put_str(out, r.reporter);
  put_u64(out, r.bands.size());
  for (uint64_t b : r.bands)
    put_u64(out, b);
  put_u64(out, r.signature.size());
  for (uint32_t s : r.signature)
    put_u64(out, s);
  return out;
}

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool u64(uint64_t& v) {
    if (d_.size() - pos_ < 8)
      return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t{static_cast<unsigned char>(d_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return true;
  }
  bool str(std::string& s) {
    uint64_t n;
    if (!u64(n) || d_.size() - pos_ < n)
      return false;
    s.assign(d_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool byte(char& c) {
    if (pos_ >= d_.size())
      return false;
    c = d_[pos_++];
    return true;
  }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

bool decode_record(std::string_view blob, FuzzyRecord& r) {
  Reader rd(blob);
  char version, cls;
  uint64_t added, n;
  if (!rd.byte(version) || version != 1 || !rd.byte(cls) || !rd.u64(added) ||
      !rd.str(r.message_digest) || !rd.str(r.reporter) || !rd.u64(n) || n > blob.size())
    return false;
  r.cls = cls == 'h' ? Class::kHam : Class::kSpam;
  r.added_unix = static_cast<int64_t>(added);
  r.bands.resize(n);
  for (auto& b : r.bands)
    if (!rd.u64(b))
      return false;
  if (!rd.u64(n) || n > blob.size())
    return false;
  r.signature.resize(n);
  for (auto& s : r.signature) {
    uint64_t v;
    if (!rd.u64(v))
      return false;
    s = static_cast<uint32_t>(v);
  }
  return true;
}

// The reads prefetch() fetched for one recipient's checks, per thread (see Store::prefetch).
struct Prefetched {
  const void* owner = nullptr;  // the store that filled it; nullptr = nothing prefetched
  std::vector<Scope> chain;
  std::vector<uint64_t> tokens;  // as announced (token_counts must ask for exactly these)
  std::vector<uint64_t> bands;   // sorted, unique
  std::vector<ClassTotals> totals;
  std::vector<std::vector<TokenCounts>> counts;
  std::vector<std::map<std::string, int>> shared;  // record id -> bands shared with the query
  std::vector<char> counts_valid, shared_valid;     // per scope: fetched, or known to be empty
  int index(const void* who, const Scope& scope) const {
    if (who != owner) return -1;
    for (size_t i = 0; i < chain.size(); ++i)
      if (chain[i] == scope) return static_cast<int>(i);
    return -1;
  }
};
thread_local Prefetched t_prefetched;

class RedisStore final : public store::Store {
 public:
  std::mutex known_mu_;
  std::unordered_map<std::string, char> known_;  // scope key -> 1 has learned, 2 has fingerprints

 public:
  RedisStore(RedisOptions options, Address address)
      : options_(std::move(options)),
        client_(std::move(address), options_.timeout_ms, options_.pool_size) {}

  ~RedisStore() override {
    if (t_prefetched.owner == this) t_prefetched.owner = nullptr;
  }

  // Checks that the server answers (open time).
  Status ping() {
    auto r = run({{"PING"}});
    if (!r.ok())
      return r.error();
    return Ok{};
  }

  Result<std::vector<TokenCounts>> token_counts(const Scope& scope,
                                                std::span<const uint64_t> tokens) override {
    if (int i = t_prefetched.index(this, scope);
        i >= 0 && t_prefetched.counts_valid[static_cast<size_t>(i)] &&
        std::equal(tokens.begin(), tokens.end(), t_prefetched.tokens.begin(),
                   t_prefetched.tokens.end()))
      return t_prefetched.counts[static_cast<size_t>(i)];
    std::vector<TokenCounts> out(tokens.size());
    if (tokens.empty())
      return out;
    constexpr size_t kChunk = 512;  // tokens per HMGET; all chunks go in one pipeline
    const std::string key = k("tok:", scope);
    std::vector<Command> cmds;
    for (size_t i = 0; i < tokens.size(); i += kChunk) {
      Command c{"HMGET", key};
      for (size_t j = i; j < std::min(tokens.size(), i + kChunk); ++j) {
        std::string h = hex16(tokens[j]);
        c.push_back(h + "h");
        c.push_back(h + "s");
      }
      cmds.push_back(std::move(c));
    }
    auto replies = run(cmds);
    if (!replies.ok())
      return replies.error();
    size_t t = 0;
    for (const Reply& r : *replies) {
      if (r->type != REDIS_REPLY_ARRAY)
        return Error::temporary("redis: unexpected HMGET reply");
      for (size_t e = 0; e + 1 < r->elements; e += 2, ++t) {
        out[t].ham = to_u32(r->element[e]);
        out[t].spam = to_u32(r->element[e + 1]);
      }
    }
    return out;
  }

  Result<ClassTotals> totals(const Scope& scope) override {
    if (int i = t_prefetched.index(this, scope); i >= 0)
      return t_prefetched.totals[static_cast<size_t>(i)];
    auto replies = run({{"HMGET", k("tot:", scope), "h", "s"}});
    if (!replies.ok())
      return replies.error();
    const redisReply* r = (*replies)[0].get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
      return Error::temporary("redis: unexpected HMGET reply");
    return ClassTotals{to_u64(r->element[0]), to_u64(r->element[1])};
  }

  Result<LearnOutcome> learn(const LearnRequest& request) override {
    auto out = learn_batch(std::span<const LearnRequest>(&request, 1));
    if (!out.ok())
      return out.error();
    return (*out)[0];
  }

  // One pipeline of scripts: one round trip for the whole batch; each script is atomic.
  Result<std::vector<LearnOutcome>> learn_batch(std::span<const LearnRequest> requests) override {
    t_prefetched.owner = nullptr;  // own writes: re-read after them
    std::vector<Command> cmds;
    for (const LearnRequest& r : requests)
      cmds.push_back(learn_args(r.scope, r.message_digest, r.cls,
                                hex_concat(sorted_unique(r.tokens)), "learn"));
    auto replies = eval(learn_sha_, kLearnScript, cmds);
    if (!replies.ok())
      return replies.error();
    std::vector<LearnOutcome> out;
    for (const Reply& r : *replies) {
      auto o = outcome(r.get());
      if (!o.ok())
        return o.error();
      out.push_back(*o);
    }
    return out;
  }

  Result<LearnOutcome> unlearn(const Scope& scope, const std::string& message_digest,
                               Class cls) override {
    t_prefetched.owner = nullptr;  // own writes: re-read after them
    auto replies =
        eval(learn_sha_, kLearnScript, {learn_args(scope, message_digest, cls, "", "unlearn")});
    if (!replies.ok())
      return replies.error();
    return outcome((*replies)[0].get());
  }

  Status fuzzy_add(const Scope& scope, const FuzzyRecord& record) override {
    return fuzzy_add_batch(scope, std::span<const FuzzyRecord>(&record, 1));
  }

  Status fuzzy_add_batch(const Scope& scope, std::span<const FuzzyRecord> records) override {
    t_prefetched.owner = nullptr;  // own writes: re-read after them
    if (records.empty())
      return Ok{};
    std::vector<Command> cmds;
    for (const FuzzyRecord& r : records) {
      cmds.push_back({"3", k("fz:rec:", scope), k("fz:rb:", scope),
                      k("fz:dig:", scope) + ":" + r.message_digest,
                      record_id(r.message_digest, r.reporter), encode_record(r),
                      hex_concat(sorted_unique(r.bands)), k("fz:band:", scope) + ":"});
    }
    auto replies = eval(fuzzy_add_sha_, kFuzzyAddScript, cmds);
    if (!replies.ok())
      return replies.error();
    return check_all(*replies);
  }

  Status fuzzy_remove(const Scope& scope, const std::string& message_digest) override {
    t_prefetched.owner = nullptr;  // own writes: re-read after them
    auto replies = eval(fuzzy_remove_sha_, kFuzzyRemoveScript,
                        {{"3", k("fz:rec:", scope), k("fz:rb:", scope),
                          k("fz:dig:", scope) + ":" + message_digest,
                          k("fz:band:", scope) + ":"}});
    if (!replies.ok())
      return replies.error();
    return check_all(*replies);
  }

  Result<std::vector<FuzzyRecord>> fuzzy_candidates(const Scope& scope,
                                                    std::span<const uint64_t> bands,
                                                    size_t limit) override {
    std::vector<FuzzyRecord> out;
    const auto unique_bands = sorted_unique(bands);
    if (limit == 0 || unique_bands.empty())
      return out;
    std::map<std::string, int> shared;
    if (int i = t_prefetched.index(this, scope);
        i >= 0 && t_prefetched.shared_valid[static_cast<size_t>(i)] &&
        t_prefetched.bands == unique_bands) {
      shared = t_prefetched.shared[static_cast<size_t>(i)];
    } else {
      // Round trip 1: the members of every band set.
      std::vector<Command> cmds;
      for (uint64_t b : unique_bands) cmds.push_back(band_members(scope, b));
      auto replies = run(cmds);
      if (!replies.ok())
        return replies.error();
      for (const Reply& r : *replies)
        if (auto st = count_members(r.get(), shared); !st)
          return st.error();
    }
    if (shared.empty())
      return out;
    // Round trip 2: the records. Order by shared bands, then (digest, reporter) after decoding.
    Command get{"HMGET", k("fz:rec:", scope)};
    std::vector<int> counts;
    for (const auto& [id, n] : shared) {
      get.push_back(id);
      counts.push_back(n);
    }
    auto recs = run({get});
    if (!recs.ok())
      return recs.error();
    const redisReply* arr = (*recs)[0].get();
    if (arr->type != REDIS_REPLY_ARRAY || arr->elements != counts.size())
      return Error::temporary("redis: unexpected HMGET reply");
    std::vector<std::pair<int, FuzzyRecord>> found;
    for (size_t i = 0; i < arr->elements; ++i) {
      const redisReply* e = arr->element[i];
      if (e->type != REDIS_REPLY_STRING)
        continue;  // removed between the two round trips
      FuzzyRecord rec;
      if (decode_record(std::string_view(e->str, e->len), rec))
        found.emplace_back(counts[i], std::move(rec));
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first)
        return a.first > b.first;
      return std::tie(a.second.message_digest, a.second.reporter) <
             std::tie(b.second.message_digest, b.second.reporter);
    });
    for (size_t i = 0; i < found.size() && i < limit; ++i)
      out.push_back(std::move(found[i].second));
    return out;
  }

  // One pipeline (one round trip) for everything a recipient's checks read: per scope the class
  // totals, the token counts (HMGET chunks) and the members of every band set. Only the fuzzy
  // records themselves, when some band matched, cost a second round trip.
  void prefetch(std::span<const Scope> chain, std::span<const uint64_t> tokens,
                std::span<const uint64_t> bands) override {
    Prefetched& p = t_prefetched;
    p.owner = nullptr;
    p.chain.assign(chain.begin(), chain.end());
    p.tokens.assign(tokens.begin(), tokens.end());
    p.bands = sorted_unique(bands);
    constexpr size_t kChunk = 512;
    // Scopes this node last saw without learned messages / fingerprints: their token counts and
    // band sets are not asked for (most user and domain scopes are empty; asking cost a reply
    // per token). If such a scope has gained data since, the snapshot says so and the later
    // call fetches it (one more round trip, once).
    std::vector<char> want_tokens(chain.size(), 1), want_bands(chain.size(), 1);
    {
      std::lock_guard lock(known_mu_);
      for (size_t i = 0; i < chain.size(); ++i)
        if (auto it = known_.find(chain[i].key()); it != known_.end()) {
          want_tokens[i] = (it->second & 1) != 0;
          want_bands[i] = (it->second & 2) != 0;
        }
    }
    std::vector<Command> cmds;
    for (size_t si = 0; si < chain.size(); ++si) {
      const Scope& scope = chain[si];
      cmds.push_back({"HMGET", k("tot:", scope), "h", "s"});
      cmds.push_back({"HLEN", k("fz:rec:", scope)});
      const std::string key = k("tok:", scope);
      for (size_t i = 0; want_tokens[si] && i < tokens.size(); i += kChunk) {
        Command c{"HMGET", key};
        for (size_t j = i; j < std::min(tokens.size(), i + kChunk); ++j) {
          std::string h = hex16(tokens[j]);
          c.push_back(h + "h");
          c.push_back(h + "s");
        }
        cmds.push_back(std::move(c));
      }
      if (want_bands[si])
        for (uint64_t b : p.bands) cmds.push_back(band_members(scope, b));
    }
    auto replies = run(cmds);
    if (!replies.ok())
      return;  // the calls that follow fetch (and report the error) themselves
    p.totals.assign(chain.size(), {});
    p.counts.assign(chain.size(), std::vector<TokenCounts>(tokens.size()));
    p.shared.assign(chain.size(), {});
    p.counts_valid.assign(chain.size(), 0);
    p.shared_valid.assign(chain.size(), 0);
    size_t r = 0;
    const size_t token_cmds = (tokens.size() + kChunk - 1) / kChunk;
    for (size_t s = 0; s < chain.size(); ++s) {
      const redisReply* tot = (*replies)[r++].get();
      if (tot->type != REDIS_REPLY_ARRAY || tot->elements != 2)
        return;
      p.totals[s] = ClassTotals{to_u64(tot->element[0]), to_u64(tot->element[1])};
      const redisReply* fz = (*replies)[r++].get();
      if (fz->type != REDIS_REPLY_INTEGER)
        return;
      const bool has_tokens = p.totals[s].ham_messages + p.totals[s].spam_messages > 0;
      const bool has_prints = fz->integer > 0;
      {
        std::lock_guard lock(known_mu_);
        if (known_.size() > 100'000) known_.clear();  // bounded: a cache, not a registry
        known_[chain[s].key()] = static_cast<char>((has_tokens ? 1 : 0) | (has_prints ? 2 : 0));
      }
      // No learned message in the scope = every count is zero (zeroed counts are deleted).
      p.counts_valid[s] = want_tokens[s] || !has_tokens;
      p.shared_valid[s] = want_bands[s] || !has_prints;
      size_t t = 0;
      for (size_t c = 0; want_tokens[s] && c < token_cmds; ++c) {
        const redisReply* rep = (*replies)[r++].get();
        if (rep->type != REDIS_REPLY_ARRAY)
          return;
        for (size_t e = 0; e + 1 < rep->elements && t < tokens.size(); e += 2, ++t) {
          p.counts[s][t].ham = to_u32(rep->element[e]);
          p.counts[s][t].spam = to_u32(rep->element[e + 1]);
        }
      }
      for (size_t b = 0; want_bands[s] && b < p.bands.size(); ++b)
        if (!count_members((*replies)[r++].get(), p.shared[s]))
          return;
    }
    p.owner = this;
  }
  void end_prefetch() override { t_prefetched.owner = nullptr; }

 private:
  Command band_members(const Scope& scope, uint64_t band) const {
    return {"SMEMBERS", k("fz:band:", scope) + ":" + hex16(band)};
  }
  static Status count_members(const redisReply* r, std::map<std::string, int>& shared) {
    if (r->type != REDIS_REPLY_ARRAY)
      return Error::temporary("redis: unexpected SMEMBERS reply");
    for (size_t i = 0; i < r->elements; ++i)
      ++shared[std::string(r->element[i]->str, r->element[i]->len)];
    return Ok{};
  }
  // "<prefix><kind>{<scope key>}"
  std::string k(const char* kind, const Scope& scope) const {
    return options_.prefix + kind + "{" + scope.key() + "}";
  }

  Command learn_args(const Scope& scope, const std::string& digest, Class cls,
                     std::string tokens_hex, const char* mode) const {
    return {"3", k("tok:", scope), k("tot:", scope), k("msg:", scope), digest,
            std::string(1, cls_char(cls)), std::move(tokens_hex), mode};
  }

  static uint64_t to_u64(const redisReply* e) {
    if (e->type == REDIS_REPLY_STRING)
      return std::strtoull(e->str, nullptr, 10);
    if (e->type == REDIS_REPLY_INTEGER)
      return static_cast<uint64_t>(std::max<long long>(0, e->integer));
    return 0;
  }
  static uint32_t to_u32(const redisReply* e) {
    return static_cast<uint32_t>(std::min<uint64_t>(to_u64(e), UINT32_MAX));
  }

  static Result<LearnOutcome> outcome(const redisReply* r) {
    if (r->type == REDIS_REPLY_ERROR)
      return Error::temporary(std::string("redis: learn script: ") + r->str);
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer > 4)
      return Error::temporary("redis: unexpected learn script reply");
    static constexpr LearnOutcome kOutcomes[] = {
        LearnOutcome::kLearned, LearnOutcome::kAlreadyLearned, LearnOutcome::kRelearned,
        LearnOutcome::kUnlearned, LearnOutcome::kNotLearned};
    return kOutcomes[r->integer];
  }

  static Status check_all(const std::vector<Reply>& replies) {
    for (const Reply& r : replies) {
      if (r->type == REDIS_REPLY_ERROR)
        return Error::temporary(std::string("redis: ") + r->str);
    }
    return Ok{};
  }

  Result<std::vector<Reply>> eval(std::string& sha_slot, const char* script,
                                  const std::vector<Command>& args) {
    return client_.eval(sha_slot, script, args);
  }
  Result<std::vector<Reply>> run(const std::vector<Command>& cmds) { return client_.run(cmds); }

  RedisOptions options_;
  redis::Client client_;
  std::mutex sha_mu_;
  std::string learn_sha_, fuzzy_add_sha_, fuzzy_remove_sha_;
};

}  // namespace

Result<std::unique_ptr<store::Store>> open_redis_store(const RedisOptions& options) {
  auto address = parse_address(options.address);
  if (!address.ok())
    return address.error();
  if (options.timeout_ms <= 0 || options.pool_size <= 0)
    return Error::config("redis: timeout_ms and pool_size must be positive");
  auto s = std::make_unique<RedisStore>(options, std::move(address).value());
  Status up = s->ping();
  if (!up.ok())
    return up.error();
  return std::unique_ptr<store::Store>(std::move(s));
}

}  // namespace mailsift::fleet
