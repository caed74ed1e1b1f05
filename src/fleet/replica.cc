// In-memory replicas of the tenant tables and the users' corrections (fleet_tenant.h,
// docs/fleet-tenants.md "Replicas"). Why: with tenant.backend = feedback.backend = postgres a
// scan otherwise reads PostgreSQL ~5 times (policy chain, list entries of three levels, the
// threshold shift); a TTL cache still misses for every mailbox without mail in the TTL.
//
// How a change reaches memory: a write through this node re-reads the written key from the
// source right after it (so the node sees its own writes at once); every other change arrives
// through the source's change feed, whose keys are re-read the same way. Re-reading the current
// value (instead of applying a delta) makes a change seen twice harmless, which the feed's
// snapshot arithmetic relies on (pg_changes.h). All re-reads run under one mutex, in order, so
// an older read can never overwrite a newer one in memory. Scans only take the image's shared
// lock, never the re-read mutex, and never wait on PostgreSQL.
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "fleet/fleet_tenant.h"

namespace mailsift::fleet {
namespace {

using tenant::Level;

std::function<int64_t()> steady_ms_or(std::function<int64_t()> now_ms) {
  if (now_ms)
    return now_ms;
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
}

// The background thread of a replica: step() every poll_ms until destroyed.
class PollLoop {
 public:
  PollLoop(int poll_ms, std::function<void()> step) {
    if (poll_ms <= 0)
      return;
    thread_ = std::thread([this, poll_ms, step = std::move(step)] {
      std::unique_lock lock(mu_);
      while (!stop_) {
        if (cv_.wait_for(lock, std::chrono::milliseconds(poll_ms), [this] { return stop_; }))
          break;
        lock.unlock();
        step();
        lock.lock();
      }
    });
  }
  ~PollLoop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// What both replicas share: the re-read mutex, the feed cursor, the reload rule, statistics, the
// error log and the background loop. The replica supplies what is specific to its tables.
class FeedFollower {
 public:
  struct Hooks {
    std::function<Result<FeedCursor>()> reload;  // full load into memory; the cursor after it
    std::function<Result<std::vector<ChangedKey>>(FeedCursor&)> read;  // the source's feed
    std::function<Status(const ChangedKey&)> apply;                    // re-read one key
    std::function<Status(int64_t older_than_s)> prune;
  };
  FeedFollower(const char* what, const ReplicaOptions& o, Hooks hooks)
      : what_(what), options_(o), now_ms_(steady_ms_or(o.now_ms)), hooks_(std::move(hooks)) {}
  // The owner calls stop() first in its destructor: the loop uses the owner's members.
  void stop() { loop_.reset(); }

  // The first full load (its failure is the open's error), then the loop every poll_ms.
  Status start() {
    {
      std::lock_guard lock(mu_);
      auto cursor = hooks_.reload();
      if (!cursor)
        return cursor.error();
      loaded(*cursor);
    }
    loop_ = std::make_unique<PollLoop>(options_.poll_ms, [this] { (void)poll(); });
    return Ok{};
  }

  // One poll: reload when the feed may have been pruned past us, else read and apply it.
  Status poll() {
    std::lock_guard lock(mu_);
    const int64_t now = now_ms_();
    Status s = Ok{};
    if (now - last_ok_ms_ > options_.retention_s * 1000 / 2) {
      auto cursor = hooks_.reload();
      if (cursor) {
        loaded(*cursor);
        ++stats_.reloads;
      } else {
        s = cursor.error();
      }
    } else {
      FeedCursor next = cursor_;
      auto changed = hooks_.read(next);
      if (!changed) {
        s = changed.error();
      } else {
        for (const ChangedKey& k : *changed) {
          s = hooks_.apply(k);
          if (!s.ok())
            break;  // the cursor stays: the whole window is read again next time
        }
        if (s.ok()) {
          cursor_ = next;
          stats_.changes_applied += static_cast<int64_t>(changed->size());
        }
      }
    }
    maybe_prune(now);
    ++stats_.polls;
    if (!s.ok()) {
      ++stats_.poll_errors;
      if (!failing_)
        std::cerr << "mailsift: " << what_ << " replica: cannot follow PostgreSQL ("
                  << s.error().describe() << "); serving the last image\n";
      failing_ = true;
      return s;
    }
    if (failing_)
      std::cerr << "mailsift: " << what_ << " replica: following PostgreSQL again\n";
    failing_ = false;
    last_ok_ms_ = now;
    stats_.last_ok_ms = now;
    return Ok{};
  }

  // A node's own write: its keys re-read at once, in order with the feed's re-reads (so an
  // older read never overwrites a newer one). A failure is left to the feed, which brings the
  // key again.
  void refresh(const std::vector<ChangedKey>& keys) {
    std::lock_guard lock(mu_);
    for (const auto& k : keys)
      (void)hooks_.apply(k);
  }

  ReplicaStats stats() {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  void loaded(FeedCursor cursor) {
    cursor_ = cursor;
    last_ok_ms_ = now_ms_();
    stats_.last_ok_ms = last_ok_ms_;
  }
  // Prunes the feed at most once a minute (every node does; the deletes are idempotent).
  void maybe_prune(int64_t now) {
    if (now - last_prune_ms_ < 60'000 && last_prune_ms_ != 0)
      return;
    last_prune_ms_ = now;
    (void)hooks_.prune(options_.retention_s);
  }

  const char* what_;
  ReplicaOptions options_;
  std::function<int64_t()> now_ms_;
  Hooks hooks_;
  std::mutex mu_;  // every re-read and reload, in order; guards what follows
  FeedCursor cursor_;
  int64_t last_ok_ms_ = 0, last_prune_ms_ = 0;
  bool failing_ = false;
  ReplicaStats stats_;
  std::unique_ptr<PollLoop> loop_;
};

std::string level_key(Level level, std::string_view id) {
  std::string k = std::to_string(static_cast<int>(level));
  k += ':';
  k += id;
  return k;
}
// "<level>:<id>" back to its parts; nullopt for a malformed key.
std::optional<std::pair<Level, std::string>> parse_level_key(const std::string& key) {
  const size_t colon = key.find(':');
  if (colon != 1 || key[0] < '1' || key[0] > '3')
    return std::nullopt;
  return std::pair<Level, std::string>{static_cast<Level>(key[0] - '0'), key.substr(2)};
}

// ---- Tenants ------------------------------------------------------------------------------

// The users (the bulk of a replica: one per mailbox), kept as address -> created_at: a user's
// domain is the part of its address after the '@' (tenant.h), so it is not stored again; a row
// whose stored domain differs (not written by mailsift) is kept whole beside them.
class Users {
 public:
  void reserve(size_t n) { created_.reserve(n); }
  void put(tenant::User u) {
    if (u.domain == domain_of(u.address)) {
      odd_.erase(u.address);
      created_.insert_or_assign(std::move(u.address), u.created_at);
    } else {
      created_.erase(u.address);
      std::string key = u.address;
      odd_.insert_or_assign(std::move(key), std::move(u));
    }
  }
  void erase(const std::string& address) {
    created_.erase(address);
    odd_.erase(address);
  }
  std::optional<tenant::User> get(const std::string& address) const {
    if (auto it = created_.find(address); it != created_.end())
      return tenant::User{address, std::string(domain_of(address)), it->second};
    if (auto it = odd_.find(address); it != odd_.end())
      return it->second;
    return std::nullopt;
  }
  void swap(Users& o) {
    created_.swap(o.created_);
    odd_.swap(o.odd_);
  }

 private:
  static std::string_view domain_of(std::string_view address) {
    const size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
  }
  std::unordered_map<std::string, int64_t> created_;
  std::unordered_map<std::string, tenant::User> odd_;
};

class TenantReplicaImpl final : public TenantReplica {
 public:
  TenantReplicaImpl(std::unique_ptr<ReplicableTenantStore> source, const ReplicaOptions& o)
      : source_(std::move(source)),
        feed_("tenant", o,
              {[this] { return reload(); }, [this](FeedCursor& c) { return source_->changes(c); },
               [this](const ChangedKey& k) { return refresh(k); },
               [this](int64_t s) { return source_->prune_changes(s); }}) {}
  ~TenantReplicaImpl() override { feed_.stop(); }

  Status start() { return feed_.start(); }
  Status poll() override { return feed_.poll(); }
  ReplicaStats stats() override { return feed_.stats(); }

  // -- The scan path: memory only.
  Result<std::optional<tenant::Reseller>> get_reseller(std::string_view id) override {
    std::shared_lock lock(image_mu_);
    return find(resellers_, std::string(id));
  }
  Result<std::optional<tenant::Domain>> get_domain(std::string_view name) override {
    std::shared_lock lock(image_mu_);
    return find(domains_, std::string(name));
  }
  Result<std::optional<tenant::User>> get_user(std::string_view address) override {
    std::shared_lock lock(image_mu_);
    return users_.get(std::string(address));
  }
  Result<tenant::PolicyOverrides> get_policy(Level level, std::string_view id) override {
    std::shared_lock lock(image_mu_);
    return find(policies_, level_key(level, id)).value_or(tenant::PolicyOverrides{});
  }
  Result<std::vector<tenant::ListEntry>> list_entries(Level level,
                                                      std::string_view owner) override {
    std::shared_lock lock(image_mu_);
    return find(entries_, level_key(level, owner)).value_or(std::vector<tenant::ListEntry>{});
  }

  // -- Writes: to the source, then the written keys are re-read.
  Status add_reseller(const tenant::Reseller& r) override {
    return then_refresh(source_->add_reseller(r), {{"reseller", r.id}});
  }
  Status add_domain(const tenant::Domain& d) override {
    return then_refresh(source_->add_domain(d), {{"domain", d.name}});
  }
  Status add_user(const tenant::User& u) override {
    return then_refresh(source_->add_user(u), {{"user", u.address}});
  }
  Status set_policy(Level level, std::string_view id, const tenant::PolicyOverrides& p) override {
    return then_refresh(source_->set_policy(level, id, p), {{"policy", level_key(level, id)}});
  }
  Result<tenant::ListEntry> add_list_entry(const tenant::ListEntry& e) override {
    return then_refresh(source_->add_list_entry(e), {{"list", level_key(e.level, e.owner)}});
  }
  Result<bool> remove_list_entry(int64_t id) override {
    std::vector<ChangedKey> keys;
    {
      std::shared_lock lock(image_mu_);
      if (auto it = entry_owner_.find(id); it != entry_owner_.end())
        keys.push_back({"list", it->second});
    }
    // An entry this node has not seen yet (added elsewhere, not yet polled) is removed all the
    // same; the feed then brings its owner's list.
    return then_refresh(source_->remove_list_entry(id), keys);
  }
  Result<std::optional<tenant::Removal>> remove_tenant(Level level, std::string_view id) override {
    auto removed = source_->remove_tenant(level, id);
    if (removed && *removed) {
      const tenant::Removal& r = **removed;
      std::vector<ChangedKey> keys;
      auto owner = [&](const char* topic, Level l, const std::string& who) {
        keys.push_back({topic, who});
        keys.push_back({"policy", level_key(l, who)});
        keys.push_back({"list", level_key(l, who)});
      };
      if (r.level == Level::kReseller)
        owner("reseller", Level::kReseller, r.id);
      for (const auto& d : r.domains)
        owner("domain", Level::kDomain, d);
      for (const auto& u : r.users)
        owner("user", Level::kUser, u);
      feed_.refresh(keys);
    }
    return removed;
  }

  // -- Passed through: listings and API keys are not on the scan path, and API keys must take
  // effect at the next request (tenant.h).
  Result<std::vector<tenant::Reseller>> list_resellers() override {
    return source_->list_resellers();
  }
  Result<std::vector<tenant::Domain>> list_domains(std::string_view reseller) override {
    return source_->list_domains(reseller);
  }
  Result<std::vector<tenant::User>> list_users(std::string_view domain) override {
    return source_->list_users(domain);
  }
  Result<std::optional<tenant::ListEntry>> get_list_entry(int64_t id) override {
    return source_->get_list_entry(id);
  }
  Status add_api_key(const tenant::ApiKeyRecord& k) override { return source_->add_api_key(k); }
  Result<std::optional<tenant::ApiKeyRecord>> find_api_key(std::string_view hash) override {
    return source_->find_api_key(hash);
  }
  Result<std::vector<tenant::ApiKeyRecord>> list_api_keys(std::string_view reseller) override {
    return source_->list_api_keys(reseller);
  }
  Result<bool> remove_api_key(std::string_view hash) override {
    return source_->remove_api_key(hash);
  }

 private:
  template <typename Map>
  static std::optional<typename Map::mapped_type> find(const Map& m, const std::string& k) {
    auto it = m.find(k);
    if (it == m.end())
      return std::nullopt;
    return it->second;
  }

  // A write's keys are re-read whatever its result: a write that timed out may have committed.
  template <typename R>
  R then_refresh(R result, const std::vector<ChangedKey>& keys) {
    feed_.refresh(keys);
    return result;
  }

  // The feed's hooks (called under its mutex).
  Result<FeedCursor> reload() {
    const auto t0 = std::chrono::steady_clock::now();
    auto image = source_->load_image();
    if (!image)
      return image.error();
    const auto t1 = std::chrono::steady_clock::now();
    const size_t counts[] = {image->resellers.size(), image->domains.size(), image->users.size(),
                             image->policies.size(), image->entries.size()};
    const FeedCursor cursor = image->cursor;
    install(std::move(image).value());
    // The image's vectors were about as large as the maps built from them: give the pages back.
    malloc_trim(0);
    const auto ms = [](auto d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    std::cerr << "mailsift: tenant replica loaded: " << counts[0] << " resellers, " << counts[1]
              << " domains, " << counts[2] << " users, " << counts[3] << " policies, " << counts[4]
              << " list entries in " << ms(std::chrono::steady_clock::now() - t0)
              << " ms (reading PostgreSQL " << ms(t1 - t0) << " ms)\n";
    return cursor;
  }
  void install(TenantImage image) {
    decltype(resellers_) resellers;
    decltype(domains_) domains;
    decltype(users_) users;
    decltype(policies_) policies;
    decltype(entries_) entries;
    decltype(entry_owner_) entry_owner;
    for (auto& r : image.resellers)
      resellers.emplace(r.id, std::move(r));
    for (auto& d : image.domains)
      domains.emplace(d.name, std::move(d));
    users.reserve(image.users.size());
    for (auto& u : image.users)
      users.put(std::move(u));
    for (auto& p : image.policies)
      policies.emplace(level_key(p.level, p.id), p.overrides);
    for (auto& e : image.entries) {  // by id, as list_entries() returns them
      std::string k = level_key(e.level, e.owner);
      entry_owner.emplace(e.id, k);
      entries[k].push_back(std::move(e));
    }
    {
      std::unique_lock lock(image_mu_);
      resellers_.swap(resellers);
      domains_.swap(domains);
      users_.swap(users);
      policies_.swap(policies);
      entries_.swap(entries);
      entry_owner_.swap(entry_owner);
    }
  }

  // Re-reads one key from the source into memory. Unknown topics (a newer node's) are skipped.
  Status refresh(const ChangedKey& k) {
    if (k.topic == "reseller")
      return put(resellers_, k.key, source_->get_reseller(k.key));
    if (k.topic == "domain")
      return put(domains_, k.key, source_->get_domain(k.key));
    if (k.topic == "user") {
      auto u = source_->get_user(k.key);
      if (!u)
        return u.error();
      std::unique_lock lock(image_mu_);
      if (*u)
        users_.put(std::move(**u));
      else
        users_.erase(k.key);
      return Ok{};
    }
    auto parsed = parse_level_key(k.key);
    if (!parsed)
      return Ok{};
    const auto& [level, id] = *parsed;
    if (k.topic == "policy") {
      auto p = source_->get_policy(level, id);
      if (!p)
        return p.error();
      std::unique_lock lock(image_mu_);
      if (p->empty())
        policies_.erase(k.key);
      else
        policies_[k.key] = *p;
      return Ok{};
    }
    if (k.topic == "list") {
      auto e = source_->list_entries(level, id);
      if (!e)
        return e.error();
      std::unique_lock lock(image_mu_);
      if (auto old = entries_.find(k.key); old != entries_.end())
        for (const auto& x : old->second)
          entry_owner_.erase(x.id);
      for (const auto& x : *e)
        entry_owner_[x.id] = k.key;
      if (e->empty())
        entries_.erase(k.key);
      else
        entries_[k.key] = std::move(*e);
      return Ok{};
    }
    return Ok{};
  }
  template <typename Map, typename T>
  Status put(Map& map, const std::string& key, Result<std::optional<T>> value) {
    if (!value)
      return value.error();
    std::unique_lock lock(image_mu_);
    if (*value)
      map[key] = std::move(**value);
    else
      map.erase(key);
    return Ok{};
  }

  std::unique_ptr<ReplicableTenantStore> source_;
  FeedFollower feed_;
  std::shared_mutex image_mu_;
  std::unordered_map<std::string, tenant::Reseller> resellers_;
  std::unordered_map<std::string, tenant::Domain> domains_;
  Users users_;
  std::unordered_map<std::string, tenant::PolicyOverrides> policies_;        // "<level>:<id>"
  std::unordered_map<std::string, std::vector<tenant::ListEntry>> entries_;  // "<level>:<owner>"
  std::unordered_map<int64_t, std::string> entry_owner_;  // entry id -> its entries_ key
};

// ---- Feedback corrections -----------------------------------------------------------------

class FeedbackReplicaImpl final : public FeedbackReplica {
 public:
  FeedbackReplicaImpl(std::unique_ptr<ReplicableFeedbackStore> source, const ReplicaOptions& o)
      : source_(std::move(source)),
        feed_("feedback", o,
              {[this] { return reload(); }, [this](FeedCursor& c) { return source_->changes(c); },
               [this](const ChangedKey& k) { return refresh(k); },
               [this](int64_t s) { return source_->prune_changes(s); }}) {}
  ~FeedbackReplicaImpl() override { feed_.stop(); }

  Status start() { return feed_.start(); }
  Status poll() override { return feed_.poll(); }
  ReplicaStats stats() override { return feed_.stats(); }

  Result<feedback::Corrections> corrections(const std::string& user) override {
    std::shared_lock lock(image_mu_);
    auto it = corrections_.find(user);
    return it == corrections_.end() ? feedback::Corrections{} : it->second;
  }
  Result<bool> commit_report(const feedback::ReportRecord& report,
                             const feedback::ReportEffects& effects) override {
    auto r = source_->commit_report(report, effects);
    feed_.refresh({{"corrections", report.user}});
    return r;
  }
  Result<std::vector<feedback::ReportRecord>> forget_user(const std::string& user) override {
    auto r = source_->forget_user(user);
    feed_.refresh({{"corrections", user}});
    return r;
  }

  Result<bool> has_report(const std::string& user, const std::string& digest,
                          feedback::Kind kind) override {
    return source_->has_report(user, digest, kind);
  }
  Result<std::vector<feedback::ReportRecord>> campaign_candidates(
      const std::vector<uint64_t>& bands, int64_t since_ms) override {
    return source_->campaign_candidates(bands, since_ms);
  }
  Result<feedback::ReporterStats> reporter(const std::string& user) override {
    return source_->reporter(user);
  }
  Result<feedback::SenderStats> sender(const std::string& user,
                                       const std::string& sender) override {
    return source_->sender(user, sender);
  }
  Result<std::pair<int64_t, int64_t>> report_counts(const std::string& user) override {
    return source_->report_counts(user);
  }
  Result<feedback::Consent> consent(const std::string& user) override {
    return source_->consent(user);
  }
  Status set_consent(const std::string& user, feedback::Consent consent, int64_t at_ms) override {
    return source_->set_consent(user, consent, at_ms);
  }

 private:
  // The feed's hooks (called under its mutex).
  Result<FeedCursor> reload() {
    auto image = source_->load_corrections();
    if (!image)
      return image.error();
    std::unordered_map<std::string, feedback::Corrections> loaded;
    loaded.reserve(image->users.size());
    for (auto& [user, c] : image->users)
      loaded.emplace(std::move(user), c);
    {
      std::unique_lock lock(image_mu_);
      corrections_.swap(loaded);
    }
    return image->cursor;
  }
  Status refresh(const ChangedKey& k) {
    if (k.topic != "corrections")
      return Ok{};
    auto c = source_->corrections(k.key);
    if (!c)
      return c.error();
    std::unique_lock lock(image_mu_);
    if (c->missed_spam == 0 && c->false_positive == 0)
      corrections_.erase(k.key);
    else
      corrections_[k.key] = *c;
    return Ok{};
  }

  std::unique_ptr<ReplicableFeedbackStore> source_;
  FeedFollower feed_;
  std::shared_mutex image_mu_;
  std::unordered_map<std::string, feedback::Corrections> corrections_;
};

}  // namespace

std::string replica_metrics(tenant::TenantStore* tenants, feedback::FeedbackStore* feedback) {
  std::vector<std::pair<const char*, ReplicaStats>> replicas;
  if (auto* t = dynamic_cast<TenantReplica*>(tenants))
    replicas.emplace_back("tenant", t->stats());
  if (auto* f = dynamic_cast<FeedbackReplica*>(feedback))
    replicas.emplace_back("feedback", f->stats());
  if (replicas.empty())
    return "";
  const int64_t now = steady_ms_or(nullptr)();
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [label, st] : replicas)
      out += std::string(name) + "{replica=\"" + label + "\"} " + value(st) + "\n";
  };
  auto count = [](int64_t ReplicaStats::*field) {
    return [field](const ReplicaStats& st) { return std::to_string(st.*field); };
  };
  family("mailsift_replica_polls_total", "counter", "Reads of the replica's change feed.",
         count(&ReplicaStats::polls));
  family("mailsift_replica_poll_errors_total", "counter",
         "Feed reads that failed (PostgreSQL down or slow); the last image kept answering.",
         count(&ReplicaStats::poll_errors));
  family("mailsift_replica_changes_applied_total", "counter",
         "Changed keys re-read from PostgreSQL into the replica.",
         count(&ReplicaStats::changes_applied));
  family("mailsift_replica_reloads_total", "counter",
         "Full reloads after the feed was not read for half of postgres.changes_retention_s.",
         count(&ReplicaStats::reloads));
  family("mailsift_replica_last_ok_age_seconds", "gauge",
         "Seconds since the replica last read its feed (how stale it may be).",
         [now](const ReplicaStats& st) { return std::to_string((now - st.last_ok_ms) / 1000.0); });
  return out;
}

Result<std::unique_ptr<TenantReplica>> replicate_tenant_store(
    std::unique_ptr<ReplicableTenantStore> source, ReplicaOptions options) {
  auto r = std::make_unique<TenantReplicaImpl>(std::move(source), options);
  if (Status s = r->start(); !s.ok())
    return s.error();
  return std::unique_ptr<TenantReplica>(std::move(r));
}

Result<std::unique_ptr<FeedbackReplica>> replicate_feedback_store(
    std::unique_ptr<ReplicableFeedbackStore> source, ReplicaOptions options) {
  auto r = std::make_unique<FeedbackReplicaImpl>(std::move(source), options);
  if (Status s = r->start(); !s.ok())
    return s.error();
  return std::unique_ptr<FeedbackReplica>(std::move(r));
}

}  // namespace mailsift::fleet
