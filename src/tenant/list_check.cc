#include "tenant/list_check.h"

#include <fmt/format.h>

#include <ctime>

#include "mime/message.h"

namespace mailsift::tenant {
namespace {

const char* level_prefix(Level l) {
  switch (l) {
    case Level::kUser:
      return "USER";
    case Level::kDomain:
      return "DOMAIN";
    case Level::kReseller:
      return "RESELLER";
    case Level::kGlobal:
      return "GLOBAL";
  }
  return "?";
}

const char* type_suffix(EntryType t) {
  switch (t) {
    case EntryType::kAddress:
      return "ADDR";
    case EntryType::kDomain:
    case EntryType::kDomainTree:
      return "DOMAIN";
    case EntryType::kIp:
    case EntryType::kCidr:
      return "IP";
  }
  return "?";
}

std::string symbol_name(const ListEntry& e) {
  return fmt::format("{}_{}_{}", level_prefix(e.level),
                     e.kind == ListKind::kBlock ? "BLOCK" : "ALLOW", type_suffix(e.pattern.type));
}

std::string iso_time(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string describe_match(const ListMatch& m) {
  std::string s = fmt::format("entry {} '{}' ({} {}) matched {}, since {}, by {}", m.entry.id,
                              display(m.entry.pattern), to_string(m.entry.level), m.entry.owner,
                              m.matched, iso_time(m.entry.created_at), m.entry.created_by);
  if (!m.entry.note.empty())
    s += ", note: " + m.entry.note;
  return s;
}

bool domain_based(const ListEntry& e) {
  return e.pattern.type == EntryType::kAddress || e.pattern.type == EntryType::kDomain ||
         e.pattern.type == EntryType::kDomainTree;
}

std::string description(const std::string& name) {
  for (const auto& s : list_symbols())
    if (s.name == name)
      return std::string(s.description);
  return {};
}

}  // namespace

ListCheckScores ListCheckScores::from_config(const Config& config) {
  return {config.get_double("policy.blocklist_score"), config.get_double("policy.allowlist_score")};
}

std::vector<scan::SymbolInfo> list_symbols() {
  // Static storage: SymbolInfo holds views.
  static const std::vector<std::pair<std::string, std::string>> kInfo = [] {
    std::vector<std::pair<std::string, std::string>> v;
    for (const char* level : {"USER", "DOMAIN", "RESELLER"}) {
      const char* who = level[0] == 'U'   ? "recipient's"
                        : level[0] == 'D' ? "recipient domain's"
                                          : "reseller's";
      for (const char* kind : {"BLOCK", "ALLOW"}) {
        for (const char* type : {"ADDR", "DOMAIN", "IP"}) {
          const char* what = type[0] == 'A'   ? "sender address"
                             : type[0] == 'D' ? "sender domain"
                                              : "client IP";
          v.emplace_back(fmt::format("{}_{}_{}", level, kind, type),
                         fmt::format("The {} is on the {} {} list", what, who,
                                     kind[0] == 'B' ? "block" : "allow"));
        }
      }
    }
    v.emplace_back("ALLOW_DMARC_FAIL_IGNORED",
                   "An allow-list entry for the sender's address or domain was ignored: the "
                   "message fails DMARC for that domain (or DMARC was not evaluated)");
    return v;
  }();
  std::vector<scan::SymbolInfo> out;
  for (const auto& [n, d] : kInfo)
    out.push_back({n, d});
  return out;
}

Result<ListCheckResult> evaluate_lists(TenantStore& store, const ListCheckScores& scores,
                                       const ListCheckInput& input, int64_t now) {
  ListCheckResult out;
  if (input.user.empty())
    return out;
  SenderFacts facts{input.sender_address, input.sender_domains, input.client_ip};
  auto decision = match(store, input.user, facts, now, input.dmarc_failed_for_domain);
  if (!decision)
    return decision.error();
  out.decision = std::move(decision).value();
  const auto& matches = out.decision.matches;
  if (out.decision.deciding) {
    const ListMatch& m = matches[*out.decision.deciding];
    std::string name = symbol_name(m.entry);
    out.symbols.push_back(
        scan::Symbol{name, m.entry.kind == ListKind::kBlock ? scores.block : scores.allow,
                     description(name), describe_match(m)});
    out.verdict = m.entry.kind;
  }
  std::vector<std::string> ignored;
  for (size_t i = 0; i < matches.size(); ++i) {
    if (out.decision.deciding && i == *out.decision.deciding)
      continue;
    const ListMatch& m = matches[i];
    bool voided =
        input.dmarc_failed_for_domain && m.entry.kind == ListKind::kAllow && domain_based(m.entry);
    if (voided)
      ignored.push_back(fmt::format("entry {} '{}' ({} {})", m.entry.id, display(m.entry.pattern),
                                    to_string(m.entry.level), m.entry.owner));
    std::string name = symbol_name(m.entry);
    std::string detail = describe_match(m);
    if (voided)
      detail += "; void: DMARC failed or not evaluated";
    else if (out.decision.deciding)
      detail += "; overridden by " + out.symbols.front().name;
    out.symbols.push_back(scan::Symbol{name, 0, description(name), std::move(detail)});
  }
  if (!ignored.empty()) {
    std::string detail;
    for (const auto& s : ignored)
      detail += (detail.empty() ? "" : ", ") + s;
    out.symbols.push_back(scan::Symbol{"ALLOW_DMARC_FAIL_IGNORED", 0,
                                       description("ALLOW_DMARC_FAIL_IGNORED"), detail});
  }
  return out;
}

ListCheck::ListCheck(TenantStore& store, ListCheckScores scores, Clock clock, DmarcOracle dmarc)
    : store_(store), scores_(scores), clock_(std::move(clock)), dmarc_(std::move(dmarc)) {}

Status ListCheck::run(scan::ScanTask& task, std::vector<scan::Symbol>& out) {
  ListCheckInput in;
  in.user = task.recipient.user;
  if (task.envelope) {
    in.sender_address = task.envelope->mail_from;
    in.client_ip = task.envelope->client_ip;
  }
  if (const mime::Header* from = task.message.header("From")) {
    std::string addr = mime::extract_address(from->value);
    std::string_view d = mime::address_domain(addr);
    if (!d.empty())
      in.sender_domains.emplace_back(d);
  }
  std::optional<bool> failed = dmarc_ ? dmarc_(task) : std::nullopt;
  in.dmarc_failed_for_domain = failed.value_or(true);
  auto r = evaluate_lists(store_, scores_, in, clock_());
  if (!r)
    return r.error();
  for (auto& s : r->symbols)
    out.push_back(std::move(s));
  return Ok{};
}

scan::ActionPolicy to_action_policy(const EffectivePolicy& p) {
  scan::ActionPolicy a;
  a.add_header = p.spam_score.value;
  a.rewrite_subject = p.rewrite_subject;
  a.rewrite_subject_enabled = false;
  a.reject = p.reject_score.value;
  a.reject_enabled = false;
  a.tempfail_on_error = p.tempfail_on_error;
  switch (p.spam_action.value) {
    case SpamAction::kFolder:
      break;
    case SpamAction::kTagSubject:
      // Tag every message that is spam (it also goes to the spam folder).
      a.rewrite_subject_enabled = true;
      a.rewrite_subject = p.spam_score.value;
      break;
    case SpamAction::kReject:
      a.reject_enabled = true;
      break;
  }
  a.source = p.describe();
  return a;
}

}  // namespace mailsift::tenant
