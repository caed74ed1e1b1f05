// mailsift::http::ScanBackend — the narrow interface the HTTP handlers call.
//
// Owns: nothing; it is the seam between the HTTP layer and server::ScanService. The daemon
// wraps its ScanService in ServiceBackend (service_backend.h); tests use a fake. Keeping the
// handlers on this interface lets the HTTP layer be tested and fuzzed without a store or rules.
//
// Failure semantics (what the handlers turn into HTTP statuses):
//   kMalformed -> 400, kTemporary -> 503 (client retries), kPermanent -> 422, kConfig -> 500.
// Implementations must be thread-safe: the server calls them from every io_context thread.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "scan/engine.h"
#include "server/service.h"
#include "store/store.h"

namespace mailsift::http {

// Which fuzzy-storage change /fuzzyadd and /fuzzydel ask for.
enum class FuzzyOp { kAdd, kRemove };

class ScanBackend {
 public:
  virtual ~ScanBackend() = default;

  virtual Result<server::ScanOutcome> scan(const server::ScanRequest& request) = 0;
  // `recipient` is a mailbox address ("" = global scope).
  virtual Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                          const std::string& recipient) = 0;
  virtual Result<scan::LearnResult> unlearn(std::string_view raw, store::Class cls,
                                            const std::string& recipient) = 0;
  // Remember (or forget) the message's near-duplicate fingerprint. Optional: the default says
  // the operation is not available (kPermanent).
  virtual Status fuzzy(std::string_view raw, store::Class cls, const std::string& recipient,
                       FuzzyOp op) {
    return Error::permanent("fuzzy storage is not available on this server");
  }
  // Ok when the store answers; kTemporary otherwise (GET /health -> 503).
  virtual Status health() = 0;
};

}  // namespace mailsift::http
