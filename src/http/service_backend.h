// mailsift::http::ServiceBackend — ScanBackend over the daemon's server::ScanService.
//
// Owns: nothing but the mapping. scan/learn/unlearn go straight to ScanService; health() asks
// the store for its global totals (a read that touches the database); fuzzy() fingerprints the
// message and remembers/forgets it in the recipient's user scope (global when none), which is
// what Rspamd's /fuzzyadd and /fuzzydel do in Rspamd's own fuzzy storage.
//
// Failure semantics: errors from the service and the store pass through unchanged (kTemporary
// for store trouble). A message that cannot be parsed is kMalformed. Thread-safe because
// ScanService and Store are.
#pragma once

#include "http/backend.h"
#include "server/service.h"
#include "store/store.h"

namespace mailsift::http {

class ServiceBackend : public ScanBackend {
 public:
  ServiceBackend(server::ScanService& service, store::Store& store);

  Result<server::ScanOutcome> scan(const server::ScanRequest& request) override;
  Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                  const std::string& recipient) override;
  Result<scan::LearnResult> unlearn(std::string_view raw, store::Class cls,
                                    const std::string& recipient) override;
  Status fuzzy(std::string_view raw, store::Class cls, const std::string& recipient,
               FuzzyOp op) override;
  Status health() override;

 private:
  server::ScanService& service_;
  store::Store& store_;
};

}  // namespace mailsift::http
