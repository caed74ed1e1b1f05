// mailsift::auth::AuthCheck — sender authentication as one pipeline check: SPF (envelope), DKIM
// (every signature), ARC (chain), DMARC (From alignment), iprev and DNS blocklists (client IP,
// domains of URLs and of the sender), each result a named symbol, all of them summarised for the
// Authentication-Results header mailsiftd writes.
//
// Contract (docs/architecture.md §checks):
//   reads   the raw message, the envelope (client IP, HELO, MAIL FROM), URLs from the parser;
//           DNS through its own dns::Resolver (one per engine, i.e. per worker thread: c-ares
//           channels are single-threaded);
//   emits   R_SPF_{ALLOW,FAIL,SOFTFAIL,NEUTRAL,NA,DNSFAIL,PERMFAIL}, R_DKIM_{ALLOW,REJECT,
//           TEMPFAIL,PERMFAIL,NA}, DKIM_WEAK_ALGO, ARC_{ALLOW,REJECT,NA}, DMARC_{POLICY_ALLOW,
//           POLICY_REJECT,POLICY_QUARANTINE,POLICY_SOFTFAIL,NA,DNSFAIL,BAD_POLICY},
//           IPREV_{PASS,FAIL, TEMPFAIL}, RBL_<LIST> / URIBL_<LIST> / DBL_<LIST> per listing,
//           RBL_RESOLVER_PROBLEM; annotations "authentication-results" (the header value) and
//           "dmarc" (disposition); an action floor when DMARC says quarantine/reject
//           (auth.dmarc_*_action: spam folder by default, reject only when the operator chose it);
//   phase   pre-filter, once per message.
// Failure semantics: DNS trouble is never a pass. SPF/DKIM/DMARC temperror become *_DNSFAIL /
// TEMPFAIL symbols and the Status returned is kTemporary when auth.tempfail_on_dns_error is set
// (then the engine answers soft reject, as for a store outage); otherwise it is only stated.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "dns/resolver.h"
#include "dnsbl/lists.h"
#include "scan/check.h"

namespace mailsift::auth {

struct AuthOptions {
  std::string authserv_id = "localhost";
  bool spf = true, dkim = true, arc = true, dmarc = true, iprev = true;
  bool tempfail_on_dns_error = false;
  std::vector<dnsbl::ListSpec> lists;
  // What a failing DMARC policy does (the symbol always explains it).
  scan::ActionFloor::Kind dmarc_reject = scan::ActionFloor::kSpamFolder;
  scan::ActionFloor::Kind dmarc_quarantine = scan::ActionFloor::kSpamFolder;
  double spf_fail = 2, spf_softfail = 0.5, spf_allow = -0.2;
  double dkim_reject = 1, dkim_allow = -0.2;
  double dmarc_reject_score = 4, dmarc_quarantine_score = 2, dmarc_allow = -0.5;
  double arc_reject = 1, arc_allow = -0.2;
  double iprev_fail = 1;

  static Result<AuthOptions> from_config(const Config& config);
};

class AuthCheck final : public scan::Check {
 public:
  AuthCheck(AuthOptions options, std::unique_ptr<dns::Resolver> resolver,
            std::function<int64_t()> now_unix);
  std::string_view name() const override { return "auth"; }
  scan::Phase phase() const override { return scan::Phase::kPreFilter; }
  std::vector<scan::SymbolInfo> symbols() const override;
  Status run(scan::ScanTask& task, std::vector<scan::Symbol>& out) override;

 private:
  AuthOptions options_;
  std::unique_ptr<dns::Resolver> resolver_;
  std::function<int64_t()> now_;
};

// The production factory: a CaresResolver from config (dns.*) per check instance.
Result<std::unique_ptr<scan::Check>> make_auth_check(const Config& config);

}  // namespace mailsift::auth
