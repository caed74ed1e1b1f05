// mailsift::support::DraftScanner — the outbound scan path without side effects, for "explain a
// draft".
//
// Owns: a server::ScanService built exactly like mailsiftd's (same config, store, policy
// provider and extra-check factory, so every check a deployment adds — tenant lists, the
// outbound acceptable-use checks — runs here too) over a decision log that discards what it is
// given. A draft is therefore scored by the real engine but never logged; ScanService::scan
// does not learn, and the outbound Guard is not involved (limits are read, not counted, by
// support::explain_draft).
// Failure semantics: create() fails like ScanService::create (kConfig for broken rules);
// scan() fails only for input that is not mail (kMalformed).
#pragma once

#include <memory>

#include "server/service.h"
#include "support/support.h"
#include "tenant/tenant.h"

namespace mailsift::support {

class DraftScanner {
 public:
  static Result<std::unique_ptr<DraftScanner>> create(
      const Config& config, store::Store& store, policy::PolicyProvider& policies,
      server::ScanService::CheckFactory extra_checks = nullptr);
  ~DraftScanner();
  Result<DraftScanResult> scan(std::string_view raw, const scan::Envelope& envelope);
  // A DraftScanFn calling scan() (the scanner must outlive it). Serialised: one draft at a time.
  DraftScanFn fn();
  // Decisions the service tried to record (and that were dropped): tests prove nothing leaks.
  uint64_t dropped_decisions() const;

 private:
  DraftScanner() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the CLI uses where mailsiftd passes Daemon::build's factory: the tenant block/allow-list
// check (DMARC oracle when auth.enabled), as mailsiftd.cc builds it. Keep the two in step; a
// check added to Daemon::build's extra_checks (e.g. outbound acceptable-use scoring) belongs
// here too, or — better — in one shared factory both call.
server::ScanService::CheckFactory default_outbound_checks(const Config& config,
                                                          tenant::TenantStore* tenants);

}  // namespace mailsift::support
