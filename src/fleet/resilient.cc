// Surviving shared-server faults: see resilient.h.
#include "fleet/resilient.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/prometheus.h"
#include "decisions/decision_json.h"

namespace mailsift::fleet {

namespace {

thread_local std::string t_degraded;

void note_degraded(const std::string& why) {
  if (t_degraded.empty())
    t_degraded = why;
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s)
    out += fmt::format("{:02x}", c);
  return out;
}

Result<std::string> unhex(const nlohmann::json& j) {
  if (!j.is_string())
    return Error::malformed("replay payload: expected a hex string");
  const std::string& s = j.get_ref<const std::string&>();
  if (s.size() % 2)
    return Error::malformed("replay payload: odd hex string");
  std::string out;
  for (size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    for (size_t k = 0; k < 2; ++k) {
      const char c = s[i + k];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else
        return Error::malformed("replay payload: bad hex digit");
    }
    out += static_cast<char>(v);
  }
  return out;
}

// Store writes carry a random event id (their idempotency at the target is by key; the id keeps
// the queue's FIFO rows distinct and lets a duplicate append be detected).
std::string new_event_id() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:08x}", rng(), counter.fetch_add(1) & 0xffffffffu);
}

nlohmann::json scope_json(const store::Scope& s) {
  return {{"level", static_cast<int>(s.level)}, {"id", hex(s.id)}};
}

Result<store::Scope> scope_from(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("level") || !j["level"].is_number_integer())
    return Error::malformed("replay payload: bad scope");
  const int level = j["level"].get<int>();
  if (level < 0 || level > 3)
    return Error::malformed("replay payload: bad scope level");
  auto id = unhex(j.value("id", nlohmann::json("")));
  if (!id)
    return id.error();
  return store::Scope{static_cast<store::Level>(level), std::move(id).value()};
}

nlohmann::json record_json(const store::FuzzyRecord& r) {
  return {{"digest", hex(r.message_digest)},
          {"cls", static_cast<int>(r.cls)},
          {"bands", r.bands},
          {"signature", r.signature},
          {"reporter", hex(r.reporter)},
          {"added_unix", r.added_unix}};
}

}  // namespace

std::string take_degraded() {
  std::string out;
  out.swap(t_degraded);
  return out;
}

// ---- breaker ----------------------------------------------------------------------------------

Breaker::Breaker(std::string name, int open_ms, NowMs now, FaultLog log)
    : name_(std::move(name)), open_ms_(open_ms), now_(std::move(now)), log_(std::move(log)) {}

bool Breaker::allow() {
  int64_t until = open_until_.load();
  if (until == 0)
    return true;
  const int64_t now = now_();
  if (now < until)
    return false;
  // Past the window: one caller wins the probe by moving the window on; the others stay out.
  return open_until_.compare_exchange_strong(until, now + open_ms_);
}

void Breaker::success() {
  if (open_until_.exchange(0) != 0 && log_)
    log_("fleet_recovered", name_ + " answers again: shared state back in use");
}

void Breaker::failure(const std::string& why) {
  if (open_until_.exchange(now_() + open_ms_) == 0) {
    trips_.fetch_add(1);
    if (log_)
      log_("fleet_degraded",
           fmt::format("{} unavailable ({}): reads answered locally (degraded), writes queued "
                       "for replay; next probe in {} ms",
                       name_, why, open_ms_));
  }
}

// ---- targets ----------------------------------------------------------------------------------

struct Resilience::Target {
  std::string queue_target;  // "store" / "decisions": the queue's target column
  std::shared_ptr<Breaker> breaker;
  std::shared_ptr<ReplayQueue> queue;
  bool replay = true;
  NowMs now;
  FaultLog log;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<decisions::DecisionLog> dlog;
  std::atomic<uint64_t> degraded_reads{0};
  std::atomic<uint64_t> queued_writes{0};
  // A deferred target (add_deferred_target): entries applied by this function once it is set.
  bool deferred = false;
  std::mutex apply_mu;
  ApplyFn custom_apply;
  bool ready() {
    if (!deferred)
      return true;
    std::lock_guard lock(apply_mu);
    return static_cast<bool>(custom_apply);
  }

  // A write: direct when the server is usable and nothing is queued before it; otherwise (or
  // when it fails temporarily) queued. Returns Ok when applied or durably queued.
  template <typename F>
  Status write(const std::function<std::vector<ReplayItem>()>& items, F&& direct) {
    Error failed = Error::temporary(breaker->name() + ": circuit open");
    if (!(replay && queue->pending(queue_target) > 0)) {
      if (breaker->allow()) {
        Status st = direct();
        if (st) {
          breaker->success();
          return st;
        }
        if (st.error().kind != ErrorKind::kTemporary)
          return st;
        breaker->failure(st.error().message);
        failed = st.error();
      }
    }
    if (!replay)
      return failed;
    Status q = queue->append(queue_target, items(), now());
    if (!q) {
      if (log)
        log("fleet_replay_refused", fmt::format("{}: write NOT queued ({}); the caller gets: {}",
                                                queue_target, q.error().message, failed.message));
      return failed;
    }
    queued_writes.fetch_add(1);
    return Ok{};
  }

  // A read: degraded (the fallback value, thread marked) when the server is unusable.
  template <typename T, typename F>
  Result<T> read(F&& call, T fallback) {
    if (!breaker->allow()) {
      degraded_reads.fetch_add(1);
      note_degraded(breaker->name() + " unavailable (circuit open)");
      return fallback;
    }
    Result<T> r = call();
    if (r) {
      breaker->success();
      return r;
    }
    if (r.error().kind != ErrorKind::kTemporary)
      return r;
    breaker->failure(r.error().message);
    degraded_reads.fetch_add(1);
    note_degraded(breaker->name() + " unavailable: " + r.error().message);
    return fallback;
  }

  Status apply(const ReplayItem& item);
};

Status Resilience::Target::apply(const ReplayItem& item) {
  if (deferred) {
    // Held during the call: set_apply(nullptr) then waits for it, so the owner of the function
    // can go away safely after clearing it.
    std::lock_guard lock(apply_mu);
    if (!custom_apply)
      return Error::temporary(queue_target + ": nothing applies its entries yet");
    return custom_apply(item);
  }
  nlohmann::json j = nlohmann::json::parse(item.payload, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::malformed("replay payload is not a JSON object");
  try {
    if (dlog) {
      if (item.kind != "decision")
        return Error::malformed("unknown decision-log replay kind " + item.kind);
      auto d = decisions::decision_from_json(j);
      if (!d)
        return d.error();
      return dlog->record(*d);
    }
    auto scope = scope_from(j.value("scope", nlohmann::json()));
    if (!scope)
      return scope.error();
    const auto cls = j.value("cls", 1) == 0 ? store::Class::kHam : store::Class::kSpam;
    auto digest = unhex(j.value("digest", nlohmann::json("")));
    if (!digest)
      return digest.error();
    if (item.kind == "learn") {
      store::LearnRequest r;
      r.scope = *scope;
      r.message_digest = *digest;
      r.cls = cls;
      r.tokens = j.at("tokens").get<std::vector<uint64_t>>();
      auto o = store->learn(r);
      return o ? Status(Ok{}) : Status(o.error());
    }
    if (item.kind == "unlearn") {
      auto o = store->unlearn(*scope, *digest, cls);
      return o ? Status(Ok{}) : Status(o.error());
    }
    if (item.kind == "fuzzy_add") {
      store::FuzzyRecord r;
      r.message_digest = *digest;
      r.cls = cls;
      r.bands = j.at("bands").get<std::vector<uint64_t>>();
      r.signature = j.at("signature").get<std::vector<uint32_t>>();
      auto rep = unhex(j.value("reporter", nlohmann::json("")));
      if (!rep)
        return rep.error();
      r.reporter = *rep;
      r.added_unix = j.value("added_unix", int64_t{0});
      return store->fuzzy_add(*scope, r);
    }
    if (item.kind == "fuzzy_remove")
      return store->fuzzy_remove(*scope, *digest);
  } catch (const nlohmann::json::exception& e) {
    return Error::malformed(std::string("replay payload: ") + e.what());
  }
  return Error::malformed("unknown store replay kind " + item.kind);
}

namespace {

using Target = Resilience::Target;

class ResilientStore : public store::Store {
 public:
  explicit ResilientStore(std::shared_ptr<Target> t) : t_(std::move(t)) {}

  Result<std::vector<store::TokenCounts>> token_counts(const store::Scope& scope,
                                                       std::span<const uint64_t> tokens) override {
    return t_->read<std::vector<store::TokenCounts>>(
        [&] { return t_->store->token_counts(scope, tokens); },
        std::vector<store::TokenCounts>(tokens.size()));
  }
  Result<store::ClassTotals> totals(const store::Scope& scope) override {
    return t_->read<store::ClassTotals>([&] { return t_->store->totals(scope); },
                                        store::ClassTotals{});
  }
  Result<std::vector<store::FuzzyRecord>> fuzzy_candidates(const store::Scope& scope,
                                                           std::span<const uint64_t> bands,
                                                           size_t limit) override {
    return t_->read<std::vector<store::FuzzyRecord>>(
        [&] { return t_->store->fuzzy_candidates(scope, bands, limit); }, {});
  }

  // The one-round-trip read of a recipient's scopes (Redis): only while the server is believed
  // up, so a dead one costs nothing; a failed prefetch leaves the reads above to trip the breaker.
  void prefetch(std::span<const store::Scope> chain, std::span<const uint64_t> tokens,
                std::span<const uint64_t> bands) override {
    if (!t_->breaker->is_open())
      t_->store->prefetch(chain, tokens, bands);
  }
  void end_prefetch() override { t_->store->end_prefetch(); }

  Result<store::LearnOutcome> learn(const store::LearnRequest& r) override {
    store::LearnOutcome out = store::LearnOutcome::kLearned;
    Status st = t_->write([&] { return std::vector<ReplayItem>{learn_item(r)}; },
                          [&]() -> Status {
                            auto o = t_->store->learn(r);
                            if (!o)
                              return o.error();
                            out = *o;
                            return Ok{};
                          });
    if (!st)
      return st.error();
    return out;
  }
  Result<std::vector<store::LearnOutcome>> learn_batch(
      std::span<const store::LearnRequest> rs) override {
    std::vector<store::LearnOutcome> out(rs.size(), store::LearnOutcome::kLearned);
    Status st = t_->write(
        [&] {
          std::vector<ReplayItem> items;
          for (const auto& r : rs)
            items.push_back(learn_item(r));
          return items;
        },
        [&]() -> Status {
          auto o = t_->store->learn_batch(rs);
          if (!o)
            return o.error();
          out = std::move(o).value();
          return Ok{};
        });
    if (!st)
      return st.error();
    return out;
  }
  Result<store::LearnOutcome> unlearn(const store::Scope& scope, const std::string& digest,
                                      store::Class cls) override {
    store::LearnOutcome out = store::LearnOutcome::kUnlearned;
    Status st = t_->write(
        [&] {
          nlohmann::json j = {{"scope", scope_json(scope)},
                              {"digest", hex(digest)},
                              {"cls", static_cast<int>(cls)}};
          return std::vector<ReplayItem>{{new_event_id(), "unlearn", j.dump()}};
        },
        [&]() -> Status {
          auto o = t_->store->unlearn(scope, digest, cls);
          if (!o)
            return o.error();
          out = *o;
          return Ok{};
        });
    if (!st)
      return st.error();
    return out;
  }
  Status fuzzy_add(const store::Scope& scope, const store::FuzzyRecord& r) override {
    return t_->write([&] { return std::vector<ReplayItem>{fuzzy_item(scope, r)}; },
                     [&] { return t_->store->fuzzy_add(scope, r); });
  }
  Status fuzzy_add_batch(const store::Scope& scope,
                         std::span<const store::FuzzyRecord> rs) override {
    return t_->write(
        [&] {
          std::vector<ReplayItem> items;
          for (const auto& r : rs)
            items.push_back(fuzzy_item(scope, r));
          return items;
        },
        [&] { return t_->store->fuzzy_add_batch(scope, rs); });
  }
  Status fuzzy_remove(const store::Scope& scope, const std::string& digest) override {
    return t_->write(
        [&] {
          nlohmann::json j = {{"scope", scope_json(scope)}, {"digest", hex(digest)}};
          return std::vector<ReplayItem>{{new_event_id(), "fuzzy_remove", j.dump()}};
        },
        [&] { return t_->store->fuzzy_remove(scope, digest); });
  }

 private:
  static ReplayItem learn_item(const store::LearnRequest& r) {
    nlohmann::json j = {{"scope", scope_json(r.scope)},
                        {"digest", hex(r.message_digest)},
                        {"cls", static_cast<int>(r.cls)},
                        {"tokens", r.tokens}};
    return {new_event_id(), "learn", j.dump()};
  }
  static ReplayItem fuzzy_item(const store::Scope& scope, const store::FuzzyRecord& r) {
    nlohmann::json j = record_json(r);
    j["scope"] = scope_json(scope);
    return {new_event_id(), "fuzzy_add", j.dump()};
  }
  std::shared_ptr<Target> t_;
};

class ResilientLog : public decisions::DecisionLog {
 public:
  explicit ResilientLog(std::shared_ptr<Target> t) : t_(std::move(t)) {}

  Status record(const decisions::Decision& d) override {
    return t_->write([&] { return std::vector<ReplayItem>{item(d)}; },
                     [&] { return t_->dlog->record(d); });
  }
  Status record_batch(std::span<const decisions::Decision> ds) override {
    return t_->write(
        [&] {
          std::vector<ReplayItem> items;
          for (const auto& d : ds)
            items.push_back(item(d));
          return items;
        },
        [&] { return t_->dlog->record_batch(ds); });
  }
  Status flush() override {
    // Queued decisions are durable in the replay file already.
    if (t_->breaker->is_open())
      return Ok{};
    return t_->dlog->flush();
  }
  Result<std::vector<decisions::Decision>> query(const decisions::Query& q) override {
    if (!t_->breaker->allow())
      return Error::temporary(t_->breaker->name() + ": circuit open");
    auto r = t_->dlog->query(q);
    track(r);
    return r;
  }
  Result<size_t> expire(int64_t older_than_unix_ms) override {
    if (!t_->breaker->allow())
      return Error::temporary(t_->breaker->name() + ": circuit open");
    auto r = t_->dlog->expire(older_than_unix_ms);
    track(r);
    return r;
  }

 private:
  template <typename R>
  void track(const R& r) {
    if (r)
      t_->breaker->success();
    else if (r.error().kind == ErrorKind::kTemporary)
      t_->breaker->failure(r.error().message);
  }
  static ReplayItem item(const decisions::Decision& d) {
    // Invalid UTF-8 from headers becomes U+FFFD, as the PostgreSQL log stores it anyway.
    return {d.id, "decision",
            decisions::decision_to_json(d).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace)};
  }
  std::shared_ptr<Target> t_;
};

}  // namespace

// ---- Resilience -------------------------------------------------------------------------------

Result<std::unique_ptr<Resilience>> Resilience::create(ResilienceOptions options) {
  std::unique_ptr<Resilience> r(new Resilience());
  if (!options.now)
    options.now = system_now_ms;
  if (!options.log)
    options.log = [](const std::string& event, const std::string& detail) {
      std::cerr << event << ": " << detail << "\n";
    };
  r->opt_ = std::move(options);
  auto q = ReplayQueue::open(r->opt_.queue_path, r->opt_.replay_max);
  if (!q)
    return q.error();
  r->queue_ = std::move(q).value();
  return r;
}

Resilience::~Resilience() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

namespace {
std::shared_ptr<Breaker> breaker_for(std::vector<std::shared_ptr<Resilience::Target>>& targets,
                                     const std::string& server, const ResilienceOptions& o) {
  for (const auto& t : targets)
    if (t->breaker->name() == server)
      return t->breaker;  // store and log on one server share its breaker
  return std::make_shared<Breaker>(server, o.breaker_ms, o.now, o.log);
}
}  // namespace

std::shared_ptr<Resilience::Target> Resilience::add_target(const char* queue_target,
                                                           const std::string& server) {
  auto t = std::make_shared<Target>();
  t->queue_target = queue_target;
  t->breaker = breaker_for(targets_, server, opt_);
  t->queue = queue_;
  t->replay = opt_.replay;
  t->now = opt_.now;
  t->log = opt_.log;
  targets_.push_back(t);
  return t;
}

std::unique_ptr<store::Store> Resilience::wrap_store(std::unique_ptr<store::Store> inner,
                                                     const std::string& server) {
  auto t = add_target("store", server);
  t->store = std::move(inner);
  return std::make_unique<ResilientStore>(t);
}

std::unique_ptr<decisions::DecisionLog> Resilience::wrap_log(
    std::unique_ptr<decisions::DecisionLog> inner, const std::string& server) {
  auto t = add_target("decisions", server);
  t->dlog = std::move(inner);
  return std::make_unique<ResilientLog>(t);
}

void Resilience::add_deferred_target(const std::string& queue_target, const std::string& server) {
  auto t = add_target(queue_target.c_str(), server);
  t->deferred = true;
}

void Resilience::set_apply(const std::string& queue_target, ApplyFn apply) {
  for (const auto& t : targets_)
    if (t->deferred && t->queue_target == queue_target) {
      std::lock_guard lock(t->apply_mu);
      t->custom_apply = std::move(apply);
    }
}

Status Resilience::defer(const std::string& queue_target, const ReplayItem& item) {
  for (const auto& t : targets_) {
    if (!t->deferred || t->queue_target != queue_target)
      continue;
    if (!opt_.replay)
      return Error::temporary("fleet.replay is off: " + queue_target + " not queued");
    Status q = queue_->append(queue_target, {item}, opt_.now());
    if (!q) {
      opt_.log("fleet_replay_refused",
               fmt::format("{}: {} NOT queued ({})", queue_target, item.kind, q.error().message));
      return q;
    }
    t->queued_writes.fetch_add(1);
    cv_.notify_all();
    return Ok{};
  }
  return Error::config("no deferred replay target " + queue_target);
}

size_t Resilience::replay_once() {
  size_t applied = 0;
  for (const auto& t : targets_) {
    if (!t->ready())
      continue;
    while (queue_->pending(t->queue_target) > 0) {
      if (!t->breaker->allow())
        break;
      auto batch = queue_->peek(t->queue_target, 64);
      if (!batch || batch->empty())
        break;
      bool server_failed = false;
      for (const ReplayEntry& e : *batch) {
        Status st = t->apply(e.item);
        if (st) {
          t->breaker->success();
          // Applied; if the process dies before this delete, the replay repeats as a no-op.
          if (!queue_->remove(e.seq)) {
            server_failed = true;
            break;
          }
          ++applied;
          continue;
        }
        if (st.error().kind == ErrorKind::kTemporary) {
          t->breaker->failure(st.error().message);
          server_failed = true;
          break;
        }
        opt_.log("fleet_replay_dead",
                 fmt::format("{} entry {} ({}) refused for good, kept in replay_dead: {}",
                             t->queue_target, e.item.event_id, e.item.kind, st.error().message));
        (void)queue_->dead_letter(e, st.error().message, opt_.now());
      }
      if (server_failed)
        break;
    }
  }
  return applied;
}

void Resilience::start() {
  if (thread_.joinable() || !opt_.replay)
    return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      const size_t n = replay_once();
      if (n > 0)
        opt_.log("fleet_replayed", fmt::format("{} queued writes applied; {} still queued", n,
                                               queue_->stats().pending));
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(opt_.replay_interval_ms), [&] { return stop_; });
    }
  });
}

std::string Resilience::metrics() const {
  const ReplayQueueStats s = queue_->stats();
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, uint64_t v) {
    out += prometheus_family(name, type, help, v);
  };
  family("mailsift_fleet_replay_enqueued_total", "counter",
         "Writes queued durably while their server was down.", s.enqueued);
  family("mailsift_fleet_replay_applied_total", "counter",
         "Queued writes applied to their server and removed.", s.replayed);
  family("mailsift_fleet_replay_pending", "gauge", "Writes queued now, not yet applied.",
         s.pending);
  family("mailsift_fleet_replay_refused_total", "counter",
         "Writes refused because the replay queue was full (the caller got kTemporary).",
         s.refused_full);
  family("mailsift_fleet_replay_dead_total", "counter",
         "Queued writes the server refused for good (kept in replay_dead).", s.dead);
  uint64_t degraded = 0, trips = 0, open = 0;
  for (const auto& t : targets_) {
    degraded += t->degraded_reads.load();
    trips += t->breaker->trips();
    open += t->breaker->is_open() ? 1 : 0;
  }
  family("mailsift_fleet_degraded_reads_total", "counter",
         "Store reads answered with local state only (shared store unavailable).", degraded);
  family("mailsift_fleet_breaker_trips_total", "counter",
         "Times a shared server was found unavailable (circuit opened).", trips);
  family("mailsift_fleet_breaker_open", "gauge", "Wrapped backends whose circuit is open now.",
         open);
  return out;
}

Result<std::unique_ptr<Resilience>> wrap_for_faults(const Config& config,
                                                    const std::string& data_dir,
                                                    std::unique_ptr<store::Store>& store,
                                                    std::unique_ptr<decisions::DecisionLog>& log,
                                                    FaultLog log_fn) {
  const std::string& sb = config.get_string("store.backend");
  const bool wrap_store = sb == "redis" || sb == "postgres";
  const bool wrap_log = config.get_string("decisions.backend") == "postgres";
  const bool defer_feedback = config.get_string("feedback.backend") == "postgres";
  if (!wrap_store && !wrap_log && !defer_feedback)
    return std::unique_ptr<Resilience>();
  ResilienceOptions o;
  o.replay = config.get_bool("fleet.replay");
  o.replay_max = static_cast<uint64_t>(config.get_int("fleet.replay_max"));
  o.breaker_ms = static_cast<int>(config.get_int("fleet.breaker_ms"));
  o.queue_path =
      (std::filesystem::path(data_dir) / config.get_string("fleet.replay_file")).string();
  o.log = std::move(log_fn);
  auto r = Resilience::create(std::move(o));
  if (!r)
    return r.error();
  if (wrap_store)
    store = (*r)->wrap_store(std::move(store), sb);
  if (wrap_log)
    log = (*r)->wrap_log(std::move(log), "postgres");
  if (defer_feedback)
    (*r)->add_deferred_target("feedback", "postgres");
  (*r)->start();
  return r;
}

}  // namespace mailsift::fleet
