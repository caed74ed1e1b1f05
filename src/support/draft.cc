// explain_draft and DraftScanner: the outbound verdict for a message, read-only.
#include <fmt/format.h>

#include <atomic>
#include <mutex>

#include "core/ascii.h"
#include "support/draft_service.h"
#include "support/support.h"
#include "tenant/list_check.h"
#include "tenant/list_entry.h"

namespace mailsift::support {
namespace {

using nlohmann::ordered_json;

// Drops every decision (and counts it): a draft is not traffic.
class DiscardLog final : public decisions::DecisionLog {
 public:
  Status record(const decisions::Decision&) override {
    dropped.fetch_add(1);
    return Ok{};
  }
  Result<std::vector<decisions::Decision>> query(const decisions::Query&) override {
    return std::vector<decisions::Decision>{};
  }
  Result<size_t> expire(int64_t) override { return size_t{0}; }
  std::atomic<uint64_t> dropped{0};
};

}  // namespace

struct DraftScanner::Impl {
  DiscardLog log;
  std::unique_ptr<server::ScanService> service;
  std::mutex mu;
};

DraftScanner::~DraftScanner() = default;

Result<std::unique_ptr<DraftScanner>> DraftScanner::create(
    const Config& config, store::Store& store, policy::PolicyProvider& policies,
    server::ScanService::CheckFactory extra_checks) {
  std::unique_ptr<DraftScanner> out(new DraftScanner());
  out->impl_ = std::make_unique<Impl>();
  auto service = server::ScanService::create(config, store, out->impl_->log, policies,
                                             std::move(extra_checks));
  if (!service)
    return service.error();
  out->impl_->service = std::move(service).value();
  return out;
}

Result<DraftScanResult> DraftScanner::scan(std::string_view raw, const scan::Envelope& envelope) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  server::ScanRequest req{raw, envelope, {}};
  auto outcome = impl_->service->scan(req);
  if (!outcome)
    return outcome.error();
  DraftScanResult r;
  const auto& rc = outcome->recipients.front();
  r.score = rc.verdict.score;
  r.action = scan::to_string(rc.verdict.action);
  r.symbols = rc.verdict.symbols;
  for (const auto& e : rc.verdict.errors)
    r.errors.push_back(e.describe());
  if (outcome->message_reply)
    r.smtp_reply = outcome->message_reply->to_string();
  return r;
}

DraftScanFn DraftScanner::fn() {
  return [this](std::string_view raw, const scan::Envelope& env) { return scan(raw, env); };
}

server::ScanService::CheckFactory default_outbound_checks(const Config& config,
                                                          tenant::TenantStore* tenants) {
  if (!tenants)
    return nullptr;
  const auto scores = tenant::ListCheckScores::from_config(config);
  const bool auth = config.get_bool("auth.enabled");
  return [tenants, scores, auth]() -> Result<std::vector<std::unique_ptr<scan::Check>>> {
    tenant::ListCheck::DmarcOracle oracle;
    if (auth) {
      oracle = [](const scan::ScanTask& t) -> std::optional<bool> {
        auto it = t.annotations.find("dmarc");
        return it != t.annotations.end() && it->second.rfind("fail ", 0) == 0;
      };
    }
    std::vector<std::unique_ptr<scan::Check>> checks;
    checks.push_back(
        std::make_unique<tenant::ListCheck>(*tenants, scores, tenant::system_clock(), oracle));
    return checks;
  };
}

uint64_t DraftScanner::dropped_decisions() const {
  return impl_->log.dropped.load();
}

Result<DraftReport> explain_draft(const DraftDeps& deps, std::string_view user,
                                  std::string_view reseller, std::string_view raw) {
  const std::string u = tenant::normalise_address(user);
  if (u.empty() || u.find('@') == std::string::npos)
    return Error::malformed("--user: a mailbox address is required");
  if (!deps.scan)
    return Error::config("explain-draft: no scanner configured");
  scan::Envelope env;
  env.mail_from = u;
  env.auth_user = u;
  env.outbound = true;
  auto verdict = deps.scan(raw, env);
  if (!verdict)
    return verdict.error();
  DraftReport rep;
  rep.user = u;
  rep.reseller = ascii_lower(reseller);
  rep.verdict = std::move(verdict).value();
  for (const auto& s : rep.verdict.symbols) {
    std::string desc = s.description;
    if (deps.symbols && desc.empty())
      desc = deps.symbols->describe(s.name);
    rep.symbols.push_back({s.name, s.score, desc});
  }
  rep.account = account_check(deps.outbound, deps.guard, deps.now_ms, u, rep.reseller);
  const std::string status =
      rep.account.data.is_object() ? rep.account.data.value("status", std::string()) : "";
  if (!status.empty() && status != "active") {
    rep.would = fmt::format("would be refused at MAIL FROM: the account is {} ({})", status,
                            rep.account.data.value("reason", std::string()));
  } else if (rep.account.status == "unavailable") {
    rep.would = fmt::format(
        "content verdict {} (score {:.2f}); the account status and limits could not be checked: "
        "{}",
        rep.verdict.action, rep.verdict.score, rep.account.answer);
  } else if (!rep.verdict.smtp_reply.empty()) {
    rep.would = "would be refused after DATA with \"" + rep.verdict.smtp_reply + "\"";
  } else if (rep.account.status == "warn") {
    rep.would = fmt::format(
        "content verdict {}, but a sending limit is reached: further mail is "
        "refused until the counters drop",
        rep.verdict.action);
  } else {
    rep.would = fmt::format("would be sent (content verdict: {}, score {:.2f})", rep.verdict.action,
                            rep.verdict.score);
  }
  return rep;
}

std::string render_draft_text(const DraftReport& r) {
  std::string o = fmt::format("Draft as sent by {}{}: {}\n", r.user,
                              r.reseller.empty() ? "" : " (reseller " + r.reseller + ")", r.would);
  o += fmt::format("Score {:.2f}, action \"{}\"{}\n", r.verdict.score, r.verdict.action,
                   r.verdict.smtp_reply.empty() ? "" : ", reply " + r.verdict.smtp_reply);
  for (const auto& s : r.symbols)
    o += fmt::format("  {:>8.2f}  {}  {}\n", s.score, s.name,
                     s.description.empty() ? "(no description)" : s.description);
  for (const auto& e : r.verdict.errors)
    o += "  error: " + e + "\n";
  std::string answer = r.account.answer;
  for (size_t p = answer.find('\n'); p != std::string::npos; p = answer.find('\n', p + 1))
    answer.replace(p, 1, "\n    ");
  o += fmt::format("Account [{}]:\n    {}\n", r.account.status, answer);
  o += "Nothing was logged, learned or counted.\n";
  return o;
}

ordered_json draft_json(const DraftReport& r) {
  ordered_json syms = ordered_json::array();
  for (const auto& s : r.symbols)
    syms.push_back({{"name", s.name}, {"score", s.score}, {"description", s.description}});
  return ordered_json{
      {"user", r.user},
      {"reseller", r.reseller},
      {"would", r.would},
      {"score", r.verdict.score},
      {"action", r.verdict.action},
      {"smtp_reply", r.verdict.smtp_reply},
      {"symbols", syms},
      {"errors", r.verdict.errors},
      {"account",
       {{"status", r.account.status}, {"answer", r.account.answer}, {"data", r.account.data}}},
      {"logged", false}};
}

}  // namespace mailsift::support
