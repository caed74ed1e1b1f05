#include "http/service_backend.h"

#include <chrono>

#include "fuzzy/fingerprint.h"
#include "learn/tokenizer.h"
#include "mime/message.h"

namespace mailsift::http {

ServiceBackend::ServiceBackend(server::ScanService& service, store::Store& store)
    : service_(service), store_(store) {}

Result<server::ScanOutcome> ServiceBackend::scan(const server::ScanRequest& request) {
  return service_.scan(request);
}

Result<scan::LearnResult> ServiceBackend::learn(std::string_view raw, store::Class cls,
                                                const std::string& recipient) {
  return service_.learn(raw, cls, recipient);
}

Result<scan::LearnResult> ServiceBackend::unlearn(std::string_view raw, store::Class cls,
                                                  const std::string& recipient) {
  return service_.unlearn(raw, cls, recipient);
}

Status ServiceBackend::fuzzy(std::string_view raw, store::Class cls, const std::string& recipient,
                             FuzzyOp op) {
  auto msg = mime::parse(raw);
  if (!msg.ok())
    return msg.error();
  store::Scope scope = scan::learn_scope(scan::Recipient{recipient, "", ""});
  std::string digest = learn::message_digest(*msg);
  fuzzy::FuzzyMemory memory(store_);
  if (op == FuzzyOp::kRemove)
    return memory.forget(scope, digest);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return memory.remember(scope, digest, cls, /*reporter=*/"", fuzzy::fingerprint(*msg), now);
}

Status ServiceBackend::health() {
  auto totals = store_.totals(store::Scope::global());
  if (!totals.ok())
    return totals.error();
  return Ok{};
}

}  // namespace mailsift::http
