// In-memory TenantStore (tests, fuzzers): maps under one mutex.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "tenant/tenant.h"

namespace mailsift::tenant {
namespace {

class MemoryTenantStore final : public TenantStore {
 public:
  Status add_reseller(const Reseller& r) override {
    std::lock_guard lock(mu_);
    if (!resellers_.emplace(r.id, r).second)
      return Error::permanent(fmt::format("reseller '{}' already exists", r.id));
    return Ok{};
  }
  Result<std::optional<Reseller>> get_reseller(std::string_view id) override {
    std::lock_guard lock(mu_);
    return find(resellers_, id);
  }
  Result<std::vector<Reseller>> list_resellers() override {
    std::lock_guard lock(mu_);
    std::vector<Reseller> out;
    for (const auto& [_, r] : resellers_)
      out.push_back(r);
    return out;
  }
  Status add_domain(const Domain& d) override {
    std::lock_guard lock(mu_);
    if (!resellers_.count(d.reseller))
      return Error::permanent(fmt::format("no reseller '{}'", d.reseller));
    if (!domains_.emplace(d.name, d).second)
      return Error::permanent(fmt::format("domain '{}' already exists", d.name));
    return Ok{};
  }
  Result<std::optional<Domain>> get_domain(std::string_view name) override {
    std::lock_guard lock(mu_);
    return find(domains_, name);
  }
  Result<std::vector<Domain>> list_domains(std::string_view reseller) override {
    std::lock_guard lock(mu_);
    std::vector<Domain> out;
    for (const auto& [_, d] : domains_)
      if (reseller.empty() || d.reseller == reseller)
        out.push_back(d);
    return out;
  }
  Status add_user(const User& u) override {
    std::lock_guard lock(mu_);
    if (!domains_.count(u.domain))
      return Error::permanent(fmt::format("no domain '{}'", u.domain));
    if (!users_.emplace(u.address, u).second)
      return Error::permanent(fmt::format("user '{}' already exists", u.address));
    return Ok{};
  }
  Result<std::optional<User>> get_user(std::string_view address) override {
    std::lock_guard lock(mu_);
    return find(users_, address);
  }
  Result<std::vector<User>> list_users(std::string_view domain) override {
    std::lock_guard lock(mu_);
    std::vector<User> out;
    for (const auto& [_, u] : users_)
      if (domain.empty() || u.domain == domain)
        out.push_back(u);
    return out;
  }

  Result<PolicyOverrides> get_policy(Level level, std::string_view id) override {
    std::lock_guard lock(mu_);
    auto it = policies_.find({level, std::string(id)});
    return it == policies_.end() ? PolicyOverrides{} : it->second;
  }
  Status set_policy(Level level, std::string_view id, const PolicyOverrides& p) override {
    std::lock_guard lock(mu_);
    if (auto st = owner_exists(level, id); !st)
      return st;
    if (p.empty())
      policies_.erase({level, std::string(id)});
    else
      policies_[{level, std::string(id)}] = p;
    return Ok{};
  }

  Result<ListEntry> add_list_entry(const ListEntry& e) override {
    std::lock_guard lock(mu_);
    if (auto st = owner_exists(e.level, e.owner); !st)
      return st.error();
    for (const auto& [_, x] : entries_) {
      if (x.level == e.level && x.owner == e.owner && x.kind == e.kind && x.pattern == e.pattern)
        return Error::permanent(fmt::format("{} is already on the {} list of {} {} (entry {})",
                                            e.pattern.value, to_string(e.kind), to_string(e.level),
                                            e.owner, x.id));
    }
    ListEntry stored = e;
    stored.id = ++last_id_;
    entries_[stored.id] = stored;
    return stored;
  }
  Result<std::optional<ListEntry>> get_list_entry(int64_t id) override {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end())
      return std::optional<ListEntry>();
    return std::optional<ListEntry>(it->second);
  }
  Result<bool> remove_list_entry(int64_t id) override {
    std::lock_guard lock(mu_);
    return entries_.erase(id) > 0;
  }
  Result<std::vector<ListEntry>> list_entries(Level level, std::string_view owner) override {
    std::lock_guard lock(mu_);
    std::vector<ListEntry> out;
    for (const auto& [_, e] : entries_)
      if (e.level == level && e.owner == owner)
        out.push_back(e);
    return out;
  }

  Status add_api_key(const ApiKeyRecord& k) override {
    std::lock_guard lock(mu_);
    if (!keys_.emplace(k.hash, k).second)
      return Error::permanent("API key already exists");
    return Ok{};
  }
  Result<std::optional<ApiKeyRecord>> find_api_key(std::string_view hash) override {
    std::lock_guard lock(mu_);
    return find(keys_, hash);
  }

  Result<std::optional<Removal>> remove_tenant(Level level, std::string_view id_in) override {
    std::lock_guard lock(mu_);
    std::string id(id_in);
    Removal r;
    r.level = level;
    r.id = id;
    std::set<std::pair<Level, std::string>> owners;
    switch (level) {
      case Level::kGlobal:
        return Error::permanent("the global level cannot be removed");
      case Level::kReseller:
        if (!resellers_.count(id))
          return std::optional<Removal>();
        for (const auto& [name, d] : domains_)
          if (d.reseller == id)
            r.domains.push_back(name);
        owners.insert({Level::kReseller, id});
        break;
      case Level::kDomain:
        if (!domains_.count(id))
          return std::optional<Removal>();
        r.domains.push_back(id);
        break;
      case Level::kUser:
        if (!users_.count(id))
          return std::optional<Removal>();
        r.users.push_back(id);
        break;
    }
    for (const auto& d : r.domains) {
      owners.insert({Level::kDomain, d});
      for (const auto& [address, u] : users_)
        if (u.domain == d)
          r.users.push_back(address);
    }
    for (const auto& u : r.users)
      owners.insert({Level::kUser, u});
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (owners.count({it->second.level, it->second.owner})) {
        it = entries_.erase(it);
        ++r.list_entries;
      } else {
        ++it;
      }
    }
    for (const auto& o : owners)
      r.policies += static_cast<int64_t>(policies_.erase(o));
    if (level == Level::kReseller) {
      for (auto it = keys_.begin(); it != keys_.end();) {
        if (it->second.role == Role::kReseller && it->second.reseller == id) {
          it = keys_.erase(it);
          ++r.api_keys;
        } else {
          ++it;
        }
      }
      resellers_.erase(id);
    }
    for (const auto& u : r.users)
      users_.erase(u);
    for (const auto& d : r.domains)
      domains_.erase(d);
    return std::optional<Removal>(r);
  }
  Result<std::vector<ApiKeyRecord>> list_api_keys(std::string_view reseller) override {
    std::lock_guard lock(mu_);
    std::vector<ApiKeyRecord> out;
    for (const auto& [_, k] : keys_)
      if (reseller.empty() || (k.role == Role::kReseller && k.reseller == reseller))
        out.push_back(k);
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.created_at < b.created_at; });
    return out;
  }
  Result<bool> remove_api_key(std::string_view hash) override {
    std::lock_guard lock(mu_);
    auto it = keys_.find(hash);
    if (it == keys_.end())
      return false;
    keys_.erase(it);
    return true;
  }

 private:
  template <typename M>
  static std::optional<typename M::mapped_type> find(const M& m, std::string_view key) {
    auto it = m.find(key);
    if (it == m.end())
      return std::nullopt;
    return it->second;
  }
  Status owner_exists(Level level, std::string_view id) {
    bool ok = false;
    switch (level) {
      case Level::kGlobal:
        return Error::permanent("the global level is configured in the config file");
      case Level::kReseller:
        ok = resellers_.count(id) > 0;
        break;
      case Level::kDomain:
        ok = domains_.count(id) > 0;
        break;
      case Level::kUser:
        ok = users_.count(id) > 0;
        break;
    }
    if (!ok)
      return Error::permanent(fmt::format("no {} '{}'", to_string(level), id));
    return Ok{};
  }

  std::mutex mu_;
  std::map<std::string, Reseller, std::less<>> resellers_;
  std::map<std::string, Domain, std::less<>> domains_;
  std::map<std::string, User, std::less<>> users_;
  std::map<std::pair<Level, std::string>, PolicyOverrides> policies_;
  std::map<int64_t, ListEntry> entries_;
  std::map<std::string, ApiKeyRecord, std::less<>> keys_;
  int64_t last_id_ = 0;
};

}  // namespace

std::unique_ptr<TenantStore> make_memory_tenant_store() {
  return std::make_unique<MemoryTenantStore>();
}

Result<std::unique_ptr<TenantStore>> open_tenant_store(const std::string& uri) {
  if (uri == "memory:")
    return make_memory_tenant_store();
  if (uri.starts_with("sqlite:"))
    return open_sqlite_tenant_store(uri.substr(7));
  if (uri.empty() || uri.find("://") != std::string::npos)
    return Error::config(
        fmt::format("unsupported tenant store '{}' (memory: or sqlite:PATH)", uri));
  return open_sqlite_tenant_store(uri);
}

}  // namespace mailsift::tenant
