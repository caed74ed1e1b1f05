// The in-memory DecisionLog: the reference semantics for the conformance suite, and tests.
#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "decisions/decisions.h"
#include "decisions/normalize.h"

namespace mailsift::decisions {
namespace {

bool recipient_matches(const RecipientDecision& r, const Query& q) {
  if (!q.recipient.empty() && address_key(r.address) != address_key(q.recipient))
    return false;
  if (!q.user.empty() && user_key(r.user) != user_key(q.user))
    return false;
  if (!q.domain.empty() && domain_key(r.domain) != domain_key(q.domain))
    return false;
  if (!q.reseller.empty() && r.reseller != q.reseller)
    return false;
  if (!q.action.empty() && word_key(r.action) != word_key(q.action))
    return false;
  return true;
}

bool matches(const Decision& d, const Query& q) {
  if (q.since_unix_ms && d.time_unix_ms < *q.since_unix_ms)
    return false;
  if (q.until_unix_ms && d.time_unix_ms >= *q.until_unix_ms)
    return false;
  if (!q.id.empty() && d.id != q.id)
    return false;
  if (!q.sender.empty() && address_key(d.mail_from) != address_key(q.sender))
    return false;
  if (!q.queue_id.empty() && d.queue_id != q.queue_id)
    return false;
  if (!q.message_id.empty() && message_id_key(d.message_id) != message_id_key(q.message_id))
    return false;
  if (!q.client_ip.empty() && ip_key(d.client_ip) != ip_key(q.client_ip))
    return false;
  if (!q.direction.empty() && word_key(d.direction) != word_key(q.direction))
    return false;
  const bool per_recipient = !q.recipient.empty() || !q.user.empty() || !q.domain.empty() ||
                             !q.reseller.empty() || !q.action.empty();
  if (!per_recipient)
    return true;
  return std::any_of(d.recipients.begin(), d.recipients.end(),
                     [&](const RecipientDecision& r) { return recipient_matches(r, q); });
}

class MemoryLog final : public DecisionLog {
 public:
  Status record(const Decision& decision) override {
    if (decision.id.empty())
      return Error::malformed("decision has no id");
    std::lock_guard lock(mu_);
    if (!ids_.insert(decision.id).second)
      return Ok{};  // a retry of a recorded decision
    decisions_.push_back(decision);
    return Ok{};
  }

  Result<std::vector<Decision>> query(const Query& q) override {
    std::lock_guard lock(mu_);
    std::vector<const Decision*> hits;
    for (const Decision& d : decisions_) {
      if (matches(d, q))
        hits.push_back(&d);
    }
    std::sort(hits.begin(), hits.end(), [](const Decision* a, const Decision* b) {
      if (a->time_unix_ms != b->time_unix_ms)
        return a->time_unix_ms > b->time_unix_ms;
      return a->id > b->id;
    });
    if (q.limit != 0 && hits.size() > q.limit)
      hits.resize(q.limit);
    std::vector<Decision> out;
    out.reserve(hits.size());
    for (const Decision* d : hits)
      out.push_back(*d);
    return out;
  }

  Result<size_t> expire(int64_t older_than_unix_ms) override {
    std::lock_guard lock(mu_);
    size_t before = decisions_.size();
    auto doomed = std::remove_if(decisions_.begin(), decisions_.end(), [&](const Decision& d) {
      return d.time_unix_ms < older_than_unix_ms;
    });
    for (auto it = doomed; it != decisions_.end(); ++it)
      ids_.erase(it->id);
    decisions_.erase(doomed, decisions_.end());
    return before - decisions_.size();
  }

 private:
  std::mutex mu_;
  std::vector<Decision> decisions_;
  std::unordered_set<std::string> ids_;
};

}  // namespace

std::unique_ptr<DecisionLog> make_memory_log() {
  return std::make_unique<MemoryLog>();
}

}  // namespace mailsift::decisions
