// mailsift::support — answers to the support article's questions from the five facts of a case.
//
// Owns:
//  - lookup_case(): reseller R, user U, sender S, recipient T and a local date-time in an IANA
//    zone -> the decisions around that moment (inbound to T or U's mailboxes, outbound from S or
//    U), each recipient's outcome in plain words (delivered / spam folder / subject tagged /
//    rejected at SMTP with reply and stage / tempfailed / accepted then probably bounced), every
//    symbol with weight and description, recognised client-misconfiguration patterns
//    (client_patterns.h), and the article's checks: the recipient's effective spam action and its
//    provenance, block/allow entries touching S / its domain / the client IP, SPF/DKIM/DMARC as
//    logged, U's outbound status and counters vs limits, and the outbound IPs' blocklist state
//    (a seam: IpStateFn, filled by the outbound IP monitor when the build has one);
//  - explain_draft(): the outbound verdict for a message as if U had submitted it, through the
//    caller's scan function (mailsiftd passes its outbound ScanService built with a discarding
//    log), plus what U's account status and limits would answer — read-only;
//  - SymbolDescriptions: name -> description for every symbol a built-in check can emit;
//  - ReadOnlyOutboundStore: an OutboundStore view that drops writes (Guard::usage folds the EWMA
//    baseline, a write; support tools must change nothing).
//
// Everything is read-only: nothing here records decisions, learns, or counts against limits.
// Dependencies are injected (DecisionLog, TenantStore, OutboundStore, Config, clock), so the
// engine is tested hermetically with the memory backends.
//
// Failure semantics: errors are values. Bad input (unparseable time, a local time that does not
// exist, an unknown zone, a bad window) is kMalformed/kConfig with a message naming it; an
// ambiguous local time (DST fold) is NOT an error: both instants are searched and the report
// says so. Unknown reseller/user and "no match" are answers (CaseReport::notes), not errors. A
// store that cannot be read is kTemporary for the decision log (nothing to answer without it);
// the tenant and outbound stores failing only mark their check "unavailable: ...".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/result.h"
#include "decisions/decisions.h"
#include "outbound/guard.h"
#include "outbound/store.h"
#include "scan/check.h"
#include "tenant/tenant.h"

namespace mailsift::scan {
class Engine;  // scan/engine.h; only referenced here
}

namespace mailsift::support {

// ---- Symbol descriptions ---------------------------------------------------------------------

class SymbolDescriptions {
 public:
  void add(std::string_view name, std::string_view description);
  void add(const std::vector<scan::SymbolInfo>& infos);
  // The description, "" when unknown. Names built at run time (RBL_<LIST>, URIBL_<LIST>,
  // DBL_<LIST>, OUTBOUND_<rule>) fall back to their family's description.
  std::string describe(std::string_view name) const;
  bool knows(std::string_view name) const { return !describe(name).empty(); }
  size_t size() const { return by_name_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> by_name_;
};

// Symbols added outside the checks' own declarations: the scan service's sender-list symbols
// (USER_ALLOWLIST, USER_BLOCKLIST, ALLOW_DMARC_FAIL_IGNORED), the tenant list check's, the
// outbound policy's OUTBOUND_<rule> (from outbound::reply_table) and OUTBOUND_AUTO_HOLD, and the
// authentication check's (declared with AuthCheck::symbols, built without a resolver).
SymbolDescriptions service_symbol_descriptions();
// service_symbol_descriptions() plus every symbol of an engine built from `config` over `store`
// (rules, bayes, fuzzy). kConfig when the rules cannot be loaded.
Result<SymbolDescriptions> builtin_symbol_descriptions(const Config& config, store::Store& store);
// service_symbol_descriptions() plus every symbol of an engine already built (mailsiftd's).
SymbolDescriptions builtin_symbol_descriptions(const scan::Engine& engine);

// ---- Read-only outbound store -----------------------------------------------------------------

// Reads pass through; writes succeed without writing (counted in dropped_writes()).
std::unique_ptr<outbound::OutboundStore> read_only(outbound::OutboundStore& inner);

// ---- Case lookup ------------------------------------------------------------------------------

struct CaseQuery {
  std::string reseller, user, from, to;
  std::string at;              // local date-time as typed, "2026-11-27 10:15"
  std::string tz = "UTC";      // IANA zone name
  std::string window = "30m";  // decisions::parse_duration_ms syntax
};

// Blocklist state of one outbound IP (filled by the IP monitor, issue 8's ipwatch helper).
struct IpState {
  std::string ip;
  bool listed = false;
  std::vector<std::string> lists;  // where it is listed
  int64_t checked_at_ms = 0;
  std::string detail;
};
using IpStateFn = std::function<std::optional<IpState>(std::string_view ip)>;

// Which outbound IPs Postfix was sending from at a moment: the pool the IP monitor's socketmap
// steered to then (its steering history), and each of that pool's IPs' listings at that moment.
struct OutboundRoute {
  bool known = false;  // false: no steering record at or before that moment
  std::string error;   // the history could not be read (then nothing else is set)
  int64_t since_ms = 0;
  std::string pool, transport;
  bool fallback = false;         // no pool was healthy; the answer was the fallback transport
  std::vector<std::string> ips;  // the pool's IPs ("" pool: none)
  std::vector<std::pair<std::string, std::vector<std::string>>> listed_then;  // ip -> lists
};
using RouteAtFn = std::function<OutboundRoute(int64_t at_ms)>;

struct CaseDeps {
  decisions::DecisionLog& log;
  tenant::TenantStore& tenants;
  outbound::OutboundStore* outbound = nullptr;  // nullptr: account check "not available"
  outbound::GuardConfig guard = {};
  tenant::PolicyDefaults policy_defaults = {};
  const SymbolDescriptions* symbols = nullptr;  // nullptr: descriptions left empty
  std::function<int64_t()> now_ms = {};         // UTC ms, for list expiry and counters
  IpStateFn ip_state = {};                      // empty: not monitored (no ipwatch.pools)
  std::vector<std::string> outbound_ips = {};   // the provider's sending IPs to ask about
  RouteAtFn route_at =
      {};  // empty: which IPs were in use is unknown (every configured IP is shown)
  std::string store_description = "decision log";  // named in "what was searched"
  size_t max_decisions = 2000;                     // per query; more is reported as truncated
};

struct SymbolLine {
  std::string name;
  double score = 0;
  std::string description;
};

struct RecipientOutcomeText {
  std::string address;
  std::string outcome;  // delivered|spam_folder|subject_tagged|rejected|tempfailed|accepted|...
  std::string summary;  // one plain sentence
  std::string action, stage, smtp_reply, policy_source;
  double score = 0;
  std::vector<SymbolLine> symbols;
};

struct ClientHint {
  std::string pattern;  // id from the pattern table
  std::string title;
  std::string explanation;
  std::string check;  // what to check in the client / account
};

struct CaseMessage {
  std::string decision_id;
  int64_t time_unix_ms = 0;
  std::string time_local;  // in the case's zone
  std::string direction;
  std::string mail_from, auth_user, client_ip, helo, subject, message_id, queue_id, node;
  bool sender_matches = false;  // mail_from is S (else: other mail of U / to T in the window)
  std::vector<RecipientOutcomeText> recipients;
  std::vector<std::string> auth_results;  // SPF/DKIM/DMARC/ARC symbols as logged
  std::vector<std::string> bounced_by;    // ids of later null-sender decisions to the sender
  std::vector<ClientHint> hints;
  std::vector<std::string> errors;
};

struct CaseCheck {
  std::string name;    // spam_action|lists|authentication|account|outbound_ip
  std::string status;  // ok|warn|info|unavailable|not_applicable
  std::string answer;  // plain text, may be several lines
  nlohmann::ordered_json data;
};

struct CaseReport {
  CaseQuery query;
  std::string zone;                  // canonical
  std::vector<int64_t> instants_ms;  // one, or two for an ambiguous local time
  bool ambiguous = false;
  int64_t window_ms = 0;
  std::vector<std::pair<int64_t, int64_t>> ranges;  // searched UTC [since, until)
  std::string searched;                             // what was searched, in words
  bool reseller_known = false, user_known = false;
  std::vector<std::string> notes;  // unknown ids, no match, ambiguity, truncation
  std::vector<CaseMessage> messages;
  std::vector<CaseCheck> checks;
};

Result<CaseReport> lookup_case(const CaseDeps& deps, const CaseQuery& query);
std::string render_case_text(const CaseReport& report);
nlohmann::ordered_json case_json(const CaseReport& report);

// ---- Explain a draft ---------------------------------------------------------------------------

// One scan as the outbound path would do it; must not log, learn or count (mailsiftd: its
// outbound ScanService built over a discarding decision log; the CLI: the same construction).
struct DraftScanResult {
  double score = 0;
  std::string action;
  std::vector<scan::Symbol> symbols;
  std::vector<std::string> errors;
  std::string smtp_reply;  // what the submitting client would see, "" when accepted
};
using DraftScanFn =
    std::function<Result<DraftScanResult>(std::string_view raw, const scan::Envelope& envelope)>;

struct DraftDeps {
  DraftScanFn scan;
  outbound::OutboundStore* outbound = nullptr;  // wrapped read-only inside
  outbound::GuardConfig guard;
  const SymbolDescriptions* symbols = nullptr;
  std::function<int64_t()> now_ms;
};

struct DraftReport {
  std::string user, reseller;
  DraftScanResult verdict;
  std::vector<SymbolLine> symbols;  // verdict symbols with descriptions
  CaseCheck account;                // what status and limits would answer now
  std::string would;                // "would be sent" / "would be refused: ..." in one sentence
};

Result<DraftReport> explain_draft(const DraftDeps& deps, std::string_view user,
                                  std::string_view reseller, std::string_view raw);
std::string render_draft_text(const DraftReport& report);
nlohmann::ordered_json draft_json(const DraftReport& report);

// Account status and limits of a sending user, read-only (shared by case and draft).
CaseCheck account_check(outbound::OutboundStore* store, const outbound::GuardConfig& config,
                        const std::function<int64_t()>& now_ms, std::string_view user,
                        std::string_view reseller);

}  // namespace mailsift::support
