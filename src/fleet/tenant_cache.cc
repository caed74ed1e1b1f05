// The scan path's tenant reads with a short TTL (tenant.cache_ms; fleet_tenant.h). Why: with
// tenant.backend = postgres every scan otherwise costs ~8 PostgreSQL round trips (policy chain
// and the list entries of three levels); a fleet accepts seeing another node's change up to
// cache_ms late in exchange for none.
//
// Cached: get_reseller/domain/user, get_policy, list_entries (values only, never errors).
// Not cached: API keys (revocation takes effect at the next request, tenant.h), listings, and
// get_list_entry. Every write through this object clears the whole cache, so a node always sees
// its own changes at once. Bounded: the cache is cleared when it reaches kMaxEntries.
#include <functional>
#include <map>
#include <mutex>

#include "fleet/fleet_tenant.h"

namespace mailsift::fleet {
namespace {

using tenant::Level;

constexpr size_t kMaxEntries = 100'000;

class CachingTenantStore final : public tenant::TenantStore {
 public:
  CachingTenantStore(std::unique_ptr<tenant::TenantStore> inner, int ttl_ms,
                     std::function<int64_t()> now_ms)
      : inner_(std::move(inner)), ttl_ms_(ttl_ms), now_ms_(std::move(now_ms)) {}

  Status add_reseller(const tenant::Reseller& r) override { return wrote(inner_->add_reseller(r)); }
  Result<std::optional<tenant::Reseller>> get_reseller(std::string_view id) override {
    return cached(resellers_, std::string(id), [&] { return inner_->get_reseller(id); });
  }
  Result<std::vector<tenant::Reseller>> list_resellers() override {
    return inner_->list_resellers();
  }
  Status add_domain(const tenant::Domain& d) override { return wrote(inner_->add_domain(d)); }
  Result<std::optional<tenant::Domain>> get_domain(std::string_view name) override {
    return cached(domains_, std::string(name), [&] { return inner_->get_domain(name); });
  }
  Result<std::vector<tenant::Domain>> list_domains(std::string_view reseller) override {
    return inner_->list_domains(reseller);
  }
  Status add_user(const tenant::User& u) override { return wrote(inner_->add_user(u)); }
  Result<std::optional<tenant::User>> get_user(std::string_view address) override {
    return cached(users_, std::string(address), [&] { return inner_->get_user(address); });
  }
  Result<std::vector<tenant::User>> list_users(std::string_view domain) override {
    return inner_->list_users(domain);
  }
  Result<tenant::PolicyOverrides> get_policy(Level level, std::string_view id) override {
    return cached(policies_, key(level, id), [&] { return inner_->get_policy(level, id); });
  }
  Status set_policy(Level level, std::string_view id, const tenant::PolicyOverrides& p) override {
    return wrote(inner_->set_policy(level, id, p));
  }
  Result<tenant::ListEntry> add_list_entry(const tenant::ListEntry& e) override {
    return wrote(inner_->add_list_entry(e));
  }
  Result<std::optional<tenant::ListEntry>> get_list_entry(int64_t id) override {
    return inner_->get_list_entry(id);
  }
  Result<bool> remove_list_entry(int64_t id) override {
    return wrote(inner_->remove_list_entry(id));
  }
  Result<std::vector<tenant::ListEntry>> list_entries(Level level,
                                                      std::string_view owner) override {
    return cached(entries_, key(level, owner), [&] { return inner_->list_entries(level, owner); });
  }
  Status add_api_key(const tenant::ApiKeyRecord& k) override {
    return wrote(inner_->add_api_key(k));
  }
  Result<std::optional<tenant::ApiKeyRecord>> find_api_key(std::string_view hash) override {
    return inner_->find_api_key(hash);
  }
  Result<std::optional<tenant::Removal>> remove_tenant(Level level, std::string_view id) override {
    return wrote(inner_->remove_tenant(level, id));
  }
  Result<std::vector<tenant::ApiKeyRecord>> list_api_keys(std::string_view reseller) override {
    return inner_->list_api_keys(reseller);
  }
  Result<bool> remove_api_key(std::string_view hash) override {
    return wrote(inner_->remove_api_key(hash));
  }

 private:
  template <typename T>
  struct Slot {
    T value;
    int64_t at_ms;
  };
  template <typename T>
  using Map = std::map<std::string, Slot<T>, std::less<>>;

  static std::string key(Level level, std::string_view id) {
    return std::to_string(static_cast<int>(level)) + ":" + std::string(id);
  }

  // Clears everything after any write attempt (even a failed one may have committed).
  template <typename R>
  R wrote(R result) {
    std::lock_guard lock(mu_);
    ++generation_;
    clear_locked();
    return result;
  }
  void clear_locked() {
    resellers_.clear();
    domains_.clear();
    users_.clear();
    policies_.clear();
    entries_.clear();
    size_ = 0;
  }

  template <typename T, typename F>
  Result<T> cached(Map<T>& map, std::string k, F&& load) {
    const int64_t now = now_ms_();
    {
      std::lock_guard lock(mu_);
      auto it = map.find(k);
      if (it != map.end() && now - it->second.at_ms < ttl_ms_ && now >= it->second.at_ms)
        return it->second.value;
    }
    const uint64_t generation = generation_of_load();
    auto r = load();
    if (!r)
      return r;
    std::lock_guard lock(mu_);
    // A write through this object while we were loading: the value may predate it; don't keep.
    if (generation == generation_ && size_ < kMaxEntries) {
      auto [it, inserted] = map.insert_or_assign(std::move(k), Slot<T>{*r, now});
      size_ += inserted;
    } else if (size_ >= kMaxEntries) {
      clear_locked();
    }
    return r;
  }
  uint64_t generation_of_load() {
    std::lock_guard lock(mu_);
    return generation_;
  }

  std::unique_ptr<tenant::TenantStore> inner_;
  int ttl_ms_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  uint64_t generation_ = 0;  // bumped by every write (see wrote())
  size_t size_ = 0;
  Map<std::optional<tenant::Reseller>> resellers_;
  Map<std::optional<tenant::Domain>> domains_;
  Map<std::optional<tenant::User>> users_;
  Map<tenant::PolicyOverrides> policies_;
  Map<std::vector<tenant::ListEntry>> entries_;
};

}  // namespace

std::unique_ptr<tenant::TenantStore> cache_tenant_store(std::unique_ptr<tenant::TenantStore> inner,
                                                        int ttl_ms,
                                                        std::function<int64_t()> now_ms) {
  return std::make_unique<CachingTenantStore>(std::move(inner), ttl_ms, std::move(now_ms));
}

}  // namespace mailsift::fleet
