// mailsift::aup — Acceptable Use Policy checks for outbound mail (issue 6, point 1).
//
// Owns: the four content checks that only outbound messages (envelope.outbound: authenticated
// submission) run, each a scan::Check with the contract of scan/check.h. Message-scoped; they
// read the parsed message and the envelope, never a store, and cannot fail (always Ok).
//
//   check           phase        reads                                  symbol
//   aup_phishing    post-filter  earlier symbols (the rule set's        AUP_PHISHING
//                                phishing signals, outbound.aup.
//                                phishing_symbols: PHISHING_LINK)
//   aup_forged_from filter       the From header's domain,              AUP_FORGED_FROM
//                                envelope.auth_user, owned domains
//   aup_bulk        filter       envelope.recipient_count, To/Cc        AUP_BULK_NO_UNSUBSCRIBE
//                                addresses, Precedence, List-Id,
//                                List-Unsubscribe
//   aup_malware     filter       attachment metadata (file name,        AUP_MALWARE_ATTACHMENT
//                                declared + sniffed type) and, for
//                                Office documents, the decoded bytes
//                                (VBA project = macros)
//
// aup_phishing is a post-filter on purpose: the phase contract lets post-filters read earlier
// symbols (composites), so it reuses the inbound rule set's phishing detection instead of a
// second copy of it; without rules.enabled it never fires.
// Scores come from config (outbound.aup.*_score); AupConfig::from_config reads them once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "scan/check.h"

namespace mailsift::aup {

// The From domains an authenticated user may use besides the domain of its own login (tenant
// store: the user's registered domain). Lower-case domains; an error makes forged-From skip the
// message (recorded as a non-temporary check error, never a reject on missing data).
using OwnedDomains = std::function<Result<std::vector<std::string>>(std::string_view auth_user)>;

struct AupConfig {
  double phishing_score = 10;
  std::vector<std::string> phishing_symbols{"PHISHING_LINK"};
  double forged_from_score = 10;
  double bulk_score = 6;
  int64_t bulk_recipients = 50;  // envelope + header recipients that make a message "bulk"
  double malware_score = 10;
  static AupConfig from_config(const Config& config);
};

std::unique_ptr<scan::Check> make_phishing_check(const AupConfig& config);
std::unique_ptr<scan::Check> make_forged_from_check(const AupConfig& config,
                                                    OwnedDomains owned = nullptr);
std::unique_ptr<scan::Check> make_bulk_check(const AupConfig& config);
std::unique_ptr<scan::Check> make_malware_check(const AupConfig& config);

// All four, in the order above.
std::vector<std::unique_ptr<scan::Check>> make_aup_checks(const AupConfig& config,
                                                          OwnedDomains owned = nullptr);

// Exposed for tests: whether `domain` is `owner` or a subdomain of it.
bool domain_within(std::string_view domain, std::string_view owner);
// Why an attachment name/type is a malware carrier ("" = it is not): "executable .exe",
// "double extension invoice.pdf.exe", "macro document .docm", ...
std::string malware_reason(std::string_view filename, std::string_view declared_type,
                           std::string_view sniffed_type, std::string_view decoded);

}  // namespace mailsift::aup
