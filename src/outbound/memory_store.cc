// Memory OutboundStore (tests) and the Subject/Level helpers shared by every backend.
#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "outbound/store.h"

namespace mailsift::outbound {

const char* to_string(Level level) {
  switch (level) {
    case Level::kActive:
      return "active";
    case Level::kSendingDisabled:
      return "sending_disabled";
    case Level::kSuspended:
      return "suspended";
  }
  return "active";
}

std::optional<Level> parse_level(std::string_view text) {
  for (Level l : {Level::kActive, Level::kSendingDisabled, Level::kSuspended})
    if (text == to_string(l))
      return l;
  return std::nullopt;
}

const char* to_string(SubjectKind kind) {
  switch (kind) {
    case SubjectKind::kUser:
      return "user";
    case SubjectKind::kDomain:
      return "domain";
    case SubjectKind::kReseller:
      return "reseller";
  }
  return "user";
}

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Surrounding <> of an envelope address are not part of the identity.
  if (out.size() >= 2 && out.front() == '<' && out.back() == '>')
    out = out.substr(1, out.size() - 2);
  return out;
}
}  // namespace

Subject Subject::user(std::string_view address) { return {SubjectKind::kUser, lower(address)}; }
Subject Subject::domain(std::string_view domain) { return {SubjectKind::kDomain, lower(domain)}; }
Subject Subject::reseller(std::string_view id) { return {SubjectKind::kReseller, std::string(id)}; }
std::string Subject::key() const { return std::string(to_string(kind)) + ":" + id; }
std::string Subject::describe() const {
  return kind == SubjectKind::kUser ? id : std::string(to_string(kind)) + " " + id;
}

namespace {

class MemoryStore final : public OutboundStore {
 public:
  Result<std::optional<AccountStatus>> get_status(const Subject& s) override {
    std::lock_guard lock(mu_);
    auto it = status_.find(s.key());
    if (it == status_.end())
      return std::optional<AccountStatus>();
    return std::optional<AccountStatus>(it->second);
  }
  Status put_status(const AccountStatus& st) override {
    std::lock_guard lock(mu_);
    status_[st.subject.key()] = st;
    return Ok{};
  }
  Result<std::vector<AccountStatus>> restricted() override {
    std::lock_guard lock(mu_);
    std::vector<AccountStatus> out;
    for (const auto& [k, v] : status_)
      if (v.level != Level::kActive)
        out.push_back(v);
    return out;
  }
  Status add_count(std::string_view key, int64_t bucket, int64_t delta,
                   int64_t keep_from) override {
    std::lock_guard lock(mu_);
    auto& m = counters_[std::string(key)];
    m[bucket] += delta;
    m.erase(m.begin(), m.lower_bound(keep_from));
    return Ok{};
  }
  Result<int64_t> sum_counts(std::string_view key, int64_t first, int64_t last) override {
    std::lock_guard lock(mu_);
    auto it = counters_.find(key);
    if (it == counters_.end())
      return int64_t{0};
    int64_t sum = 0;
    for (auto b = it->second.lower_bound(first); b != it->second.end() && b->first <= last; ++b)
      sum += b->second;
    return sum;
  }
  Result<bool> touch_member(std::string_view key, std::string_view member, int64_t now_ms,
                            int64_t keep_since_ms) override {
    std::lock_guard lock(mu_);
    auto& m = sets_[std::string(key)];
    std::erase_if(m, [&](const auto& kv) { return kv.second < keep_since_ms; });
    auto [it, inserted] = m.try_emplace(std::string(member), now_ms);
    if (!inserted)
      it->second = std::max(it->second, now_ms);
    return inserted;
  }
  Result<bool> has_member(std::string_view key, std::string_view member,
                          int64_t since_ms) override {
    std::lock_guard lock(mu_);
    auto it = sets_.find(key);
    if (it == sets_.end())
      return false;
    auto m = it->second.find(std::string(member));
    return m != it->second.end() && m->second >= since_ms;
  }
  Result<int64_t> count_members(std::string_view key, int64_t since_ms) override {
    std::lock_guard lock(mu_);
    auto it = sets_.find(key);
    if (it == sets_.end())
      return int64_t{0};
    return static_cast<int64_t>(std::count_if(it->second.begin(), it->second.end(),
                                              [&](const auto& kv) { return kv.second >= since_ms; }));
  }
  Result<std::optional<std::string>> get_value(std::string_view key) override {
    std::lock_guard lock(mu_);
    auto it = values_.find(key);
    if (it == values_.end())
      return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status put_value(std::string_view key, std::string_view value) override {
    std::lock_guard lock(mu_);
    values_[std::string(key)] = std::string(value);
    return Ok{};
  }
  Status add_alert(const Alert& a) override {
    std::lock_guard lock(mu_);
    alerts_.push_back(a);
    return Ok{};
  }
  Result<std::vector<Alert>> alerts(std::string_view subject_key, size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<Alert> out;
    for (auto it = alerts_.rbegin(); it != alerts_.rend() && (limit == 0 || out.size() < limit);
         ++it)
      if (subject_key.empty() || it->subject == subject_key)
        out.push_back(*it);
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, AccountStatus, std::less<>> status_;
  std::map<std::string, std::map<int64_t, int64_t>, std::less<>> counters_;
  std::map<std::string, std::map<std::string, int64_t>, std::less<>> sets_;
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<Alert> alerts_;
};

}  // namespace

std::unique_ptr<OutboundStore> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace mailsift::outbound
