// Redis store::Store (hiredis). Key layout (docs/fleet.md), S = Scope::key(), P = prefix:
//   P tok:{S}            hash  "<token hex16>h" / "<token hex16>s" -> count (absent = 0)
//   P tot:{S}            hash  "h" / "s" -> messages learned per class
//   P msg:{S}            hash  digest -> class char ('h'|'s') + the learned tokens (hex16 each)
//   P fz:rec:{S}         hash  record id -> serialized FuzzyRecord
//   P fz:rb:{S}          hash  record id -> the record's bands (hex16 each)
//   P fz:dig:{S}:<dig>   set   record ids of one digest (one per reporter)
//   P fz:band:{S}:<hex>  set   record ids having that band
//   P chg:{S}            stream change log of a MIRRORED scope (redis_mirror.h): only when it
//                        exists do the write scripts append their results to it (absolute
//                        values), so unmirrored scopes pay nothing
// The {S} hash tag puts every key of a scope in one Redis Cluster slot, so the Lua scripts that
// touch several keys stay legal on a cluster. learn/unlearn/fuzzy_add/fuzzy_remove are Lua
// scripts (EVALSHA, EVAL on NOSCRIPT): atomic on the server, idempotent by digest.
//
// Mirrors (redis.mirror_scopes, docs/fleet.md "Local mirror of large scopes"): a background
// thread loads each mirrored scope once; prefetch then reads only `XRANGE chg:{S} <pos> +` for it
// (in the same pipeline as the other scopes), applies the new entries and answers from memory.
// A mirror answers only right after such an XRANGE succeeded: with Redis down it is not used.
//
// Connections: redis_client.h (shared with the outbound store): a pool of hiredis contexts; each
// call checks one out (waiting at most timeout_ms), a context with an I/O error is dropped and
// the next checkout reconnects. Every connect and every command is bounded by timeout_ms.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "core/prometheus.h"
#include "fleet/fleet.h"
#include "fleet/redis_client.h"
#include "fleet/redis_mirror.h"

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

// KEYS: tok, tot, msg, chg. ARGV: digest, class ('h'|'s'), tokens (hex16 concatenated,
// unique), mode ('learn' | 'unlearn'), change-stream MAXLEN. Returns 0 learned, 1 already,
// 2 relearned, 3 unlearned, 4 not. When the scope's change stream exists (a node mirrors the
// scope, redis_mirror.h) every add() also appends the NEW counts and total to it, in this script:
// absolute values, so a mirror may apply an entry twice.
constexpr const char* kLearnScript = R"lua(
local log = redis.call('EXISTS', KEYS[4]) == 1
local function add(cls, toks, delta)
  local vals = {}
  for i = 1, #toks, 16 do
    local f = string.sub(toks, i, i + 15) .. cls
    local v = tonumber(redis.call('HGET', KEYS[1], f) or '0') + delta
    if v <= 0 then redis.call('HDEL', KEYS[1], f); v = 0 else redis.call('HSET', KEYS[1], f, v) end
    if log then vals[#vals + 1] = string.format('%d', v) end
  end
  local t = tonumber(redis.call('HGET', KEYS[2], cls) or '0') + delta
  if t <= 0 then redis.call('HDEL', KEYS[2], cls); t = 0 else redis.call('HSET', KEYS[2], cls, t) end
  if log then
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'o', 't', 'c', cls, 'k', toks,
               'v', table.concat(vals, ','), 'n', string.format('%d', t))
  end
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

// KEYS: rec, rb, dig set, chg. ARGV: record id, blob, bands (hex16 concatenated, unique), band
// key prefix ("P fz:band:{S}:"), change-stream MAXLEN. Logs the whole record (a put) when the
// change stream exists.
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
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'o', 'a', 'i', ARGV[1], 'r', ARGV[2])
end
return 0
)lua";

// KEYS: rec, rb, dig set, chg. ARGV: band key prefix, change-stream MAXLEN. Returns the number
// of records removed; logs each removed id when the change stream exists.
constexpr const char* kFuzzyRemoveScript = R"lua(
local log = redis.call('EXISTS', KEYS[4]) == 1
local ids = redis.call('SMEMBERS', KEYS[3])
for _, id in ipairs(ids) do
  local old = redis.call('HGET', KEYS[2], id)
  if old then
    for i = 1, #old, 16 do redis.call('SREM', ARGV[1] .. string.sub(old, i, i + 15), id) end
  end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if log then redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'o', 'r', 'i', id) end
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

// The reads prefetch() fetched for one recipient's checks, per thread (see Store::prefetch).
struct Prefetched {
  const void* owner = nullptr;  // the store that filled it; nullptr = nothing prefetched
  std::vector<Scope> chain;
  std::vector<uint64_t> tokens;  // as announced (token_counts must ask for exactly these)
  std::vector<uint64_t> bands;   // sorted, unique
  std::vector<ClassTotals> totals;
  std::vector<std::vector<TokenCounts>> counts;
  std::vector<std::map<std::string, int>> shared;  // record id -> bands shared with the query
  std::vector<char> counts_valid, shared_valid;    // per scope: fetched, or known to be empty
  std::vector<char> totals_valid;
  // Scopes answered from a local mirror: the matching fuzzy records too (no second round trip).
  std::vector<char> mirrored;
  std::vector<std::map<std::string, FuzzyRecord>> records;
  int index(const void* who, const Scope& scope) const {
    if (who != owner)
      return -1;
    for (size_t i = 0; i < chain.size(); ++i)
      if (chain[i] == scope)
        return static_cast<int>(i);
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
        client_(std::move(address), options_.timeout_ms, options_.pool_size) {
    for (const std::string& key : options_.mirror_scopes) {
      auto m = std::make_unique<Mirror>();
      m->key = key;
      m->chg = options_.prefix + "chg:{" + key + "}";
      m->tok = options_.prefix + "tok:{" + key + "}";
      m->tot = options_.prefix + "tot:{" + key + "}";
      m->rec = options_.prefix + "fz:rec:{" + key + "}";
      mirrors_.push_back(std::move(m));
    }
  }

  ~RedisStore() override {
    if (t_prefetched.owner == this)
      t_prefetched.owner = nullptr;
    {
      std::lock_guard lock(load_mu_);
      stop_ = true;
    }
    load_cv_.notify_all();
    if (loader_.joinable())
      loader_.join();
  }

  RedisMirrorStats mirror_stats() const {
    RedisMirrorStats st;
    st.loads = loads_.load();
    st.reloads = reloads_.load();
    st.load_failures = load_failures_.load();
    st.entries_applied = entries_applied_.load();
    st.served = served_.load();
    for (const auto& m : mirrors_) {
      std::shared_lock lock(m->mu);
      if (!m->data)
        continue;
      ++st.scopes_ready;
      st.token_fields += m->data->token_fields();
      st.records += m->data->record_count();
      st.memory_bytes += m->data->memory_bytes();
    }
    return st;
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
    if (int i = t_prefetched.index(this, scope);
        i >= 0 && t_prefetched.totals_valid[static_cast<size_t>(i)])
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
      cmds.push_back({"4", k("fz:rec:", scope), k("fz:rb:", scope),
                      k("fz:dig:", scope) + ":" + r.message_digest, k("chg:", scope),
                      record_id(r.message_digest, r.reporter), redis::encode_fuzzy_record(r),
                      hex_concat(sorted_unique(r.bands)), k("fz:band:", scope) + ":",
                      stream_max()});
    }
    auto replies = eval(fuzzy_add_sha_, kFuzzyAddScript, cmds);
    if (!replies.ok())
      return replies.error();
    return check_all(*replies);
  }

  Status fuzzy_remove(const Scope& scope, const std::string& message_digest) override {
    t_prefetched.owner = nullptr;  // own writes: re-read after them
    auto replies = eval(
        fuzzy_remove_sha_, kFuzzyRemoveScript,
        {{"4", k("fz:rec:", scope), k("fz:rb:", scope), k("fz:dig:", scope) + ":" + message_digest,
          k("chg:", scope), k("fz:band:", scope) + ":", stream_max()}});
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
    const std::map<std::string, FuzzyRecord>* mirrored = nullptr;
    if (int i = t_prefetched.index(this, scope);
        i >= 0 && t_prefetched.shared_valid[static_cast<size_t>(i)] &&
        t_prefetched.bands == unique_bands) {
      shared = t_prefetched.shared[static_cast<size_t>(i)];
      if (t_prefetched.mirrored[static_cast<size_t>(i)])
        mirrored = &t_prefetched.records[static_cast<size_t>(i)];
    } else {
      // Round trip 1: the members of every band set.
      std::vector<Command> cmds;
      for (uint64_t b : unique_bands)
        cmds.push_back(band_members(scope, b));
      auto replies = run(cmds);
      if (!replies.ok())
        return replies.error();
      for (const Reply& r : *replies)
        if (auto st = count_members(r.get(), shared); !st)
          return st.error();
    }
    if (shared.empty())
      return out;
    std::vector<std::pair<int, FuzzyRecord>> found;
    if (mirrored) {
      // The mirror copied the matching records at prefetch time: no second round trip.
      for (const auto& [id, n] : shared)
        if (auto it = mirrored->find(id); it != mirrored->end())
          found.emplace_back(n, it->second);
      return order_candidates(std::move(found), limit);
    }
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
    for (size_t i = 0; i < arr->elements; ++i) {
      const redisReply* e = arr->element[i];
      if (e->type != REDIS_REPLY_STRING)
        continue;  // removed between the two round trips
      FuzzyRecord rec;
      if (redis::decode_fuzzy_record(std::string_view(e->str, e->len), rec))
        found.emplace_back(counts[i], std::move(rec));
    }
    return order_candidates(std::move(found), limit);
  }

  // Ordered by shared bands, then (digest, reporter), like every backend.
  static std::vector<FuzzyRecord> order_candidates(std::vector<std::pair<int, FuzzyRecord>> found,
                                                   size_t limit) {
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first)
        return a.first > b.first;
      return std::tie(a.second.message_digest, a.second.reporter) <
             std::tie(b.second.message_digest, b.second.reporter);
    });
    std::vector<FuzzyRecord> out;
    for (size_t i = 0; i < found.size() && i < limit; ++i)
      out.push_back(std::move(found[i].second));
    return out;
  }

  // One pipeline (one round trip) for everything a recipient's checks read: per scope the class
  // totals, the token counts (HMGET chunks) and the members of every band set; for a mirrored
  // scope only the change-stream entries since the mirror's position (XRANGE), applied before
  // the mirror answers. Only the fuzzy records of a non-mirrored scope, when some band matched,
  // cost a second round trip.
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
    // Mirrored scopes with a loaded mirror: the position to read the stream from.
    std::vector<Mirror*> mirror(chain.size(), nullptr);
    std::vector<redis::StreamId> from(chain.size());
    for (size_t i = 0; i < chain.size(); ++i) {
      Mirror* m = mirror_for(chain[i]);
      if (!m)
        continue;
      bool loaded;
      {
        std::shared_lock lock(m->mu);
        loaded = m->data != nullptr;
        from[i] = m->last;
      }
      if (loaded)
        mirror[i] = m;
      else
        request_load(*m);  // in the background; this message reads the scope from Redis
    }
    std::vector<Command> cmds;
    for (size_t si = 0; si < chain.size(); ++si) {
      const Scope& scope = chain[si];
      if (mirror[si]) {
        cmds.push_back(stream_range(*mirror[si], from[si]));
        continue;
      }
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
        for (uint64_t b : p.bands)
          cmds.push_back(band_members(scope, b));
    }
    auto replies = run(cmds);
    if (!replies.ok())
      return;  // the calls that follow fetch (and report the error) themselves
    p.totals.assign(chain.size(), {});
    p.counts.assign(chain.size(), std::vector<TokenCounts>(tokens.size()));
    p.shared.assign(chain.size(), {});
    p.counts_valid.assign(chain.size(), 0);
    p.shared_valid.assign(chain.size(), 0);
    p.totals_valid.assign(chain.size(), 0);
    p.mirrored.assign(chain.size(), 0);
    p.records.assign(chain.size(), {});
    size_t r = 0;
    const size_t token_cmds = (tokens.size() + kChunk - 1) / kChunk;
    for (size_t s = 0; s < chain.size(); ++s) {
      if (mirror[s]) {
        // Not served (gap, error): left invalid, the calls read this scope from Redis.
        if (Mirror& m = *mirror[s]; advance(m, from[s], (*replies)[r++].get())) {
          std::shared_lock lock(m.mu);
          if (m.data) {
            p.totals[s] = m.data->totals();
            m.data->lookup(tokens, p.counts[s].data());
            m.data->candidates(p.bands, p.shared[s], p.records[s]);
            p.totals_valid[s] = p.counts_valid[s] = p.shared_valid[s] = p.mirrored[s] = 1;
            served_.fetch_add(1, std::memory_order_relaxed);
          }
        }
        continue;
      }
      const redisReply* tot = (*replies)[r++].get();
      if (tot->type != REDIS_REPLY_ARRAY || tot->elements != 2)
        return;
      p.totals[s] = ClassTotals{to_u64(tot->element[0]), to_u64(tot->element[1])};
      p.totals_valid[s] = 1;
      const redisReply* fz = (*replies)[r++].get();
      if (fz->type != REDIS_REPLY_INTEGER)
        return;
      const bool has_tokens = p.totals[s].ham_messages + p.totals[s].spam_messages > 0;
      const bool has_prints = fz->integer > 0;
      {
        std::lock_guard lock(known_mu_);
        if (known_.size() > 100'000)
          known_.clear();  // bounded: a cache, not a registry
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
  // ---- local mirrors (redis_mirror.h; docs/fleet.md "Local mirror of large scopes") ----------

  struct Mirror {
    std::string key, chg, tok, tot, rec;  // scope key and its Redis keys
    mutable std::shared_mutex mu;
    std::unique_ptr<redis::ScopeMirror> data;  // null: not loaded yet, or dropped for a reload
    redis::StreamId last;                      // the last stream entry `data` contains
    // Under load_mu_:
    bool loading = false;
    bool disabled = false;  // too big for redis.mirror_max_tokens: read from Redis, not mirrored
    std::chrono::steady_clock::time_point retry_at{};
  };

  // Entries per XRANGE; a fuller reply means more are pending (read at once, more round trips).
  static constexpr size_t kRangeCount = 512;

  Mirror* mirror_for(const Scope& scope) const {
    if (mirrors_.empty())
      return nullptr;
    const std::string key = scope.key();
    for (const auto& m : mirrors_)
      if (m->key == key)
        return m.get();
    return nullptr;
  }

  std::string stream_max() const { return std::to_string(options_.mirror_stream_max); }

  // Mirror events go to stderr (mailsiftd's log), like the fault wrappers' default.
  static void log_event(const std::string& event, const std::string& detail) {
    std::cerr << "event=" << event << " " << detail << "\n";
  }

  // From `from` INCLUSIVE: the first entry must be `from` itself, which proves nothing between
  // it and the rest of the reply was trimmed (MAXLEN trims the oldest entries first).
  Command stream_range(const Mirror& m, redis::StreamId from) const {
    return {"XRANGE", m.chg, from.str(), "+", "COUNT", std::to_string(kRangeCount)};
  }

  static bool parse_entries(const redisReply* r, std::vector<redis::StreamEntry>& out) {
    out.clear();
    if (r->type != REDIS_REPLY_ARRAY)
      return false;
    for (size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
          e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
      redis::StreamEntry entry;
      if (!redis::StreamId::parse(std::string_view(e->element[0]->str, e->element[0]->len),
                                  entry.id))
        return false;
      const redisReply* f = e->element[1];
      for (size_t j = 0; j + 1 < f->elements; j += 2)
        entry.fields.emplace_back(std::string(f->element[j]->str, f->element[j]->len),
                                  std::string(f->element[j + 1]->str, f->element[j + 1]->len));
      out.push_back(std::move(entry));
    }
    return true;
  }

  enum class Applied { kOk, kGap, kBad };
  // Applies a range read from `from` (inclusive) to a mirror at `last` (from <= last: positions
  // only move forward). Entries up to `last` are already in it and skipped; applying one twice
  // would be harmless anyway (absolute values), skipping just saves the work.
  Applied apply_range(redis::ScopeMirror& data, redis::StreamId& last, redis::StreamId from,
                      const std::vector<redis::StreamEntry>& entries) {
    if (entries.empty() || entries.front().id != from)
      return Applied::kGap;
    for (const redis::StreamEntry& e : entries) {
      if (e.id <= last)
        continue;
      if (!data.apply(e))
        return Applied::kBad;
      last = e.id;
      entries_applied_.fetch_add(1, std::memory_order_relaxed);
    }
    return Applied::kOk;
  }

  // Brings a loaded mirror up to the stream's end, starting from the XRANGE reply the prefetch
  // pipeline got. false: not served this time (dropped for a reload, or a Redis error).
  bool advance(Mirror& m, redis::StreamId from, const redisReply* reply) {
    std::vector<redis::StreamEntry> entries;
    std::vector<Reply> more_replies;  // keeps the extra XRANGE replies alive while parsed
    for (;;) {
      if (!parse_entries(reply, entries))
        return false;
      // The common case: nothing new since `from`.
      if (entries.size() == 1 && entries[0].id == from) {
        std::shared_lock lock(m.mu);
        if (m.data && m.last == from)
          return true;
      }
      {
        std::unique_lock lock(m.mu);
        if (!m.data)
          return false;
        const Applied a = apply_range(*m.data, m.last, from, entries);
        if (a == Applied::kGap && from < m.last)
          return false;  // this thread read an older position; the mirror itself is fine
        if (a != Applied::kOk) {
          // Trimmed past the mirror, the stream is gone (restart without persistence, flush),
          // or an entry it cannot apply: drop it and load again.
          m.data.reset();
          lock.unlock();
          reloads_.fetch_add(1, std::memory_order_relaxed);
          log_event("redis_mirror_reload",
                    fmt::format("scope={} reason={}", m.key,
                                a == Applied::kGap ? "stream trimmed past the mirror or missing"
                                                   : "entry not applicable"));
          request_load(m);
          return false;
        }
        if (entries.size() < kRangeCount)
          return true;
        from = m.last;
      }
      auto more = run({stream_range(m, from)});
      if (!more.ok())
        return false;
      more_replies = std::move(more).value();
      reply = more_replies.at(0).get();
    }
  }

  void request_load(Mirror& m) {
    std::lock_guard lock(load_mu_);
    if (m.loading || m.disabled || stop_ || std::chrono::steady_clock::now() < m.retry_at)
      return;
    m.loading = true;
    load_queue_.push_back(&m);
    if (!loader_.joinable())
      loader_ = std::thread([this] { loader_main(); });
    load_cv_.notify_one();
  }

  // One background thread loads mirrors, so no scan waits for a load (those messages read the
  // scope from Redis meanwhile).
  void loader_main() {
    for (;;) {
      Mirror* m;
      {
        std::unique_lock lock(load_mu_);
        load_cv_.wait(lock, [&] { return stop_ || !load_queue_.empty(); });
        if (stop_)
          return;
        m = load_queue_.front();
        load_queue_.pop_front();
      }
      const auto started = std::chrono::steady_clock::now();
      Status st = load_mirror(*m);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      if (st.ok()) {
        std::shared_lock lock(m->mu);
        if (m->data)
          log_event("redis_mirror_loaded",
                    fmt::format("scope={} token_fields={} records={} bytes={} ms={}", m->key,
                                m->data->token_fields(), m->data->record_count(),
                                m->data->memory_bytes(), ms));
      } else {
        log_event("redis_mirror_load_failed",
                  fmt::format("scope={} ms={} error=\"{}\"", m->key, ms, st.error().describe()));
      }
      std::lock_guard lock(load_mu_);
      m->loading = false;
      if (!st.ok()) {
        load_failures_.fetch_add(1, std::memory_order_relaxed);
        m->retry_at = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        if (st.error().kind == ErrorKind::kConfig)
          m->disabled = true;
      }
    }
  }

  // Writes a marker entry (creating the stream, so the write scripts start logging) and takes
  // its ID as the position; then scans the hashes, then replays from the marker. The scan is not
  // atomic, but every change after the marker is in the stream with its absolute result, so the
  // replay leaves each field at its current value whether the scan saw it before or after.
  Status load_mirror(Mirror& m) {
    auto marker = run({{"XADD", m.chg, "MAXLEN", "~", stream_max(), "*", "o", "i"}});
    if (!marker.ok())
      return marker.error();
    const redisReply* id = (*marker)[0].get();
    redis::StreamId last;
    if (id->type != REDIS_REPLY_STRING ||
        !redis::StreamId::parse(std::string_view(id->str, id->len), last))
      return Error::temporary("redis: unexpected XADD reply");
    auto fresh = std::make_unique<redis::ScopeMirror>();
    auto tot = run({{"HMGET", m.tot, "h", "s"}});
    if (!tot.ok())
      return tot.error();
    const redisReply* t = (*tot)[0].get();
    if (t->type != REDIS_REPLY_ARRAY || t->elements != 2)
      return Error::temporary("redis: unexpected HMGET reply");
    fresh->set_total('h', to_u64(t->element[0]));
    fresh->set_total('s', to_u64(t->element[1]));
    auto scan = [&](const std::string& key, auto&& one) -> Status {
      std::string cursor = "0";
      do {
        {
          std::lock_guard lock(load_mu_);
          if (stop_)
            return Error::temporary("redis: mirror load stopped");
        }
        auto rep = run({{"HSCAN", key, cursor, "COUNT", "5000"}});
        if (!rep.ok())
          return rep.error();
        const redisReply* r = (*rep)[0].get();
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
          return Error::temporary("redis: unexpected HSCAN reply");
        cursor.assign(r->element[0]->str, r->element[0]->len);
        const redisReply* kv = r->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2)
          if (Status st = one(std::string(kv->element[i]->str, kv->element[i]->len),
                              std::string_view(kv->element[i + 1]->str, kv->element[i + 1]->len));
              !st.ok())
            return st;
      } while (cursor != "0");
      return Ok{};
    };
    const auto max_tokens = static_cast<size_t>(std::max<int64_t>(0, options_.mirror_max_tokens));
    if (Status st =
            scan(m.tok,
                 [&](const std::string& f, std::string_view v) -> Status {
                   if (!fresh->load_token_field(f, v))
                     return Error::temporary("redis: bad token field in " + m.tok);
                   if (fresh->token_fields() > max_tokens)
                     return Error::config("redis: " + m.tok + " exceeds redis.mirror_max_tokens");
                   return Ok{};
                 });
        !st.ok())
      return st;
    if (Status st = scan(m.rec,
                         [&](const std::string& f, std::string_view v) -> Status {
                           fresh->load_record(f, v);  // undecodable: skipped, as on reads
                           return Ok{};
                         });
        !st.ok())
      return st;
    // Replay what happened during the scan; a gap here (trimmed while loading) = try again.
    redis::StreamId from = last;
    std::vector<redis::StreamEntry> entries;
    for (;;) {
      auto rep = run({stream_range(m, from)});
      if (!rep.ok())
        return rep.error();
      if (!parse_entries((*rep)[0].get(), entries))
        return Error::temporary("redis: unexpected XRANGE reply");
      if (apply_range(*fresh, last, from, entries) != Applied::kOk)
        return Error::temporary("redis: change stream trimmed during the mirror load");
      if (entries.size() < kRangeCount)
        break;
      from = last;
    }
    std::unique_lock lock(m.mu);
    m.data = std::move(fresh);
    m.last = last;
    loads_.fetch_add(1, std::memory_order_relaxed);
    return Ok{};
  }

  std::vector<std::unique_ptr<Mirror>> mirrors_;
  std::mutex load_mu_;
  std::condition_variable load_cv_;
  std::deque<Mirror*> load_queue_;
  bool stop_ = false;
  std::thread loader_;
  std::atomic<uint64_t> loads_{0}, reloads_{0}, load_failures_{0}, entries_applied_{0}, served_{0};

  // ---- Redis helpers ------------------------------------------------------------------------

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
    return {"4",
            k("tok:", scope),
            k("tot:", scope),
            k("msg:", scope),
            k("chg:", scope),
            digest,
            std::string(1, cls_char(cls)),
            std::move(tokens_hex),
            mode,
            stream_max()};
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

RedisMirrorStats redis_mirror_stats(const store::Store& store) {
  if (const auto* r = dynamic_cast<const RedisStore*>(&store))
    return r->mirror_stats();
  return {};
}

std::string redis_mirror_metrics(const store::Store& store) {
  if (dynamic_cast<const RedisStore*>(&store) == nullptr)
    return "";
  const RedisMirrorStats st = redis_mirror_stats(store);
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, uint64_t v) {
    out += prometheus_family(name, type, help, v);
  };
  family("mailsift_redis_mirror_loads_total", "counter",
         "Full loads of mirrored scopes (first use and reloads).", st.loads);
  family("mailsift_redis_mirror_reloads_total", "counter",
         "Mirrors dropped and reloaded (stream trimmed past them, missing, or a bad entry).",
         st.reloads);
  family("mailsift_redis_mirror_load_failures_total", "counter",
         "Mirror loads that failed (server error, scope over redis.mirror_max_tokens).",
         st.load_failures);
  family("mailsift_redis_mirror_entries_applied_total", "counter",
         "Change-stream entries applied to the mirrors.", st.entries_applied);
  family("mailsift_redis_mirror_served_total", "counter",
         "Scope reads of a scan answered from a mirror.", st.served);
  family("mailsift_redis_mirror_scopes_ready", "gauge", "Mirrored scopes loaded now.",
         st.scopes_ready);
  family("mailsift_redis_mirror_memory_bytes", "gauge", "Memory held by the mirrors.",
         st.memory_bytes);
  return out;
}

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
