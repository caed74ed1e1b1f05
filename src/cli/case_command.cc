#include "cli/case_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "decisions/decisions.h"
#include "fleet/fleet.h"
#include "fleet/fleet_tenant.h"
#include "ipwatch/options.h"
#include "ipwatch/store.h"
#include "outbound/store.h"
#include "policy/policy.h"
#include "rules/rules.h"
#include "support/draft_service.h"
#include "support/ipwatch_state.h"
#include "support/support.h"
#include "tenant/policy_provider.h"

namespace mailsift::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitTemporary = 3;

int fail(std::ostream& err, const Error& e) {
  err << "mailsift: " << e.describe() << "\n";
  return e.kind == ErrorKind::kTemporary ? kExitTemporary : kExitUsage;
}

// Stores every support command reads. The outbound store only when its file exists (a node
// without the policy listener has none; the account check then says "not available").
struct Stores {
  std::unique_ptr<decisions::DecisionLog> log;
  std::unique_ptr<tenant::TenantStore> tenants;
  std::unique_ptr<outbound::OutboundStore> outbound;
  std::unique_ptr<store::Store> learning;
  std::string log_path;
};

Result<Stores> open_stores(const Config& config, const std::string& data_dir, bool need_log) {
  Stores s;
  const std::filesystem::path dir(data_dir);
  std::error_code ec;
  auto log = fleet::open_configured_log_for_reading(config, data_dir, &s.log_path);
  if (!log)
    return log.error();
  s.log = std::move(log).value();
  if (!s.log && need_log)
    s.log = decisions::make_memory_log();  // empty: the answer says what was searched
  auto tenants = fleet::open_configured_tenant_store(config, dir.string());
  if (!tenants)
    return tenants.error();
  s.tenants = std::move(tenants).value();
  // A fleet's account statuses and counters are on Redis (outbound.store.backend); the embedded
  // file only when it exists (a node without the policy listener has none).
  const auto opath = dir / config.get_string("outbound.file");
  if (config.get_string("outbound.store.backend") == "redis") {
    auto os = fleet::open_configured_outbound_store(config, dir.string());
    if (!os)
      return os.error();
    s.outbound = std::move(os).value();
  } else if (std::filesystem::exists(opath, ec)) {
    auto os = outbound::open_sqlite_store(opath.string());
    if (!os)
      return os.error();
    s.outbound = std::move(os).value();
  }
  std::filesystem::create_directories(dir, ec);
  rules::set_compile_cache_dir((dir / "rules-cache").string());
  auto learning = fleet::open_configured_store(config, data_dir);
  if (!learning)
    return learning.error();
  s.learning = std::move(learning).value();
  return s;
}

int64_t now_ms() {
  return outbound::Guard::system_now_ms();
}

}  // namespace

std::pair<CLI::App*, CLI::App*> add_case_commands(CLI::App& app, CaseCliOptions& o) {
  auto* c = app.add_subcommand(
      "case", "Support case lookup: what happened to a message, why, and the article's checks");
  c->add_option("--reseller", o.reseller, "Reseller id of the case")->required();
  c->add_option("--user", o.user, "Authorised user (mailbox) of the case");
  c->add_option("--from", o.from, "Sender address");
  c->add_option("--to", o.to, "Recipient address");
  c->add_option("--at", o.at, "Local date and time of the failure, \"2026-11-27 10:15\"")
      ->required();
  c->add_option("--tz", o.tz, "IANA time zone of --at (default UTC)");
  c->add_option("--window", o.window, "Search this long before and after --at (default 30m)");
  c->add_flag("--json", o.json, "One JSON object (same data as the text)");
  auto* d = app.add_subcommand(
      "explain-draft",
      "Outbound verdict for a message as if USER sent it (nothing logged, learned or counted)");
  d->add_option("--user", o.user, "Sending user (mailbox)")->required();
  d->add_option("--reseller", o.reseller, "Reseller id of the user");
  d->add_option("file", o.file, "Message file, or - for standard input")->required();
  d->add_flag("--json", o.json, "JSON output");
  return {c, d};
}

int run_case_command(const CaseCliOptions& o, const Config& config, const std::string& data_dir,
                     std::ostream& out, std::ostream& err) {
  auto stores = open_stores(config, data_dir, true);
  if (!stores)
    return fail(err, stores.error());
  auto symbols = support::builtin_symbol_descriptions(config, *stores->learning);
  if (!symbols)
    return fail(err, symbols.error());
  auto guard = outbound::GuardConfig::from_config(config);
  if (!guard)
    return fail(err, guard.error());
  support::CaseDeps deps{*stores->log, *stores->tenants};
  deps.outbound = stores->outbound.get();
  deps.guard = *guard;
  deps.policy_defaults = tenant::PolicyDefaults::from_config(config);
  deps.symbols = &*symbols;
  deps.now_ms = now_ms;
  deps.store_description = "decision log " + stores->log_path;
  // Outbound IPs: the last round mailsiftd's monitor recorded in ipwatch.db (the CLI runs none).
  std::unique_ptr<ipwatch::Store> ipwatch_store;
  if (auto iopts = ipwatch::options_from_config(config); iopts && !iopts->pools.empty()) {
    const auto ipath = std::filesystem::path(data_dir) / iopts->file;
    std::error_code ec;
    if (std::filesystem::exists(ipath, ec)) {
      auto st = ipwatch::open_sqlite_store(ipath.string());
      if (!st)
        return fail(err, st.error());
      ipwatch_store = std::move(st).value();
      deps.ip_state = support::ip_state_from_store(*ipwatch_store, *iopts);
      deps.route_at = support::route_at_from_store(*ipwatch_store, *iopts);
    } else {
      // No round recorded yet: every IP answers "not monitored", never "not listed".
      deps.ip_state = [](std::string_view) -> std::optional<support::IpState> { return {}; };
    }
    deps.outbound_ips = support::configured_outbound_ips(*iopts);
  } else if (!iopts) {
    return fail(err, iopts.error());
  }
  support::CaseQuery q{o.reseller, o.user, o.from, o.to, o.at, o.tz, o.window};
  auto rep = support::lookup_case(deps, q);
  if (!rep)
    return fail(err, rep.error());
  if (o.json)
    out << support::case_json(*rep).dump() << "\n";
  else
    out << support::render_case_text(*rep);
  return kExitOk;
}

int run_explain_draft_command(const CaseCliOptions& o, const Config& config,
                              const std::string& data_dir, std::ostream& out, std::ostream& err) {
  std::string raw;
  if (o.file == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    raw = ss.str();
  } else {
    std::ifstream in(o.file, std::ios::binary);
    if (!in)
      return fail(err, Error::malformed(fmt::format("cannot read {}", o.file)));
    std::ostringstream ss;
    ss << in.rdbuf();
    raw = ss.str();
  }
  auto stores = open_stores(config, data_dir, false);
  if (!stores)
    return fail(err, stores.error());
  auto symbols = support::builtin_symbol_descriptions(config, *stores->learning);
  if (!symbols)
    return fail(err, symbols.error());
  auto guard = outbound::GuardConfig::from_config(config);
  if (!guard)
    return fail(err, guard.error());
  // The policy provider and checks mailsiftd builds (Daemon::build), without a feedback shift.
  tenant::TenantPolicyProvider policies(policy::make_default_provider(config), *stores->tenants,
                                        tenant::PolicyDefaults::from_config(config), nullptr);
  auto scanner = support::DraftScanner::create(
      config, *stores->learning, policies,
      support::default_outbound_checks(config, stores->tenants.get()));
  if (!scanner)
    return fail(err, scanner.error());
  support::DraftDeps deps;
  deps.scan = (*scanner)->fn();
  deps.outbound = stores->outbound.get();
  deps.guard = *guard;
  deps.symbols = &*symbols;
  deps.now_ms = now_ms;
  auto rep = support::explain_draft(deps, o.user, o.reseller, raw);
  if (!rep)
    return fail(err, rep.error());
  if (o.json)
    out << support::draft_json(*rep).dump() << "\n";
  else
    out << support::render_draft_text(*rep);
  return kExitOk;
}

}  // namespace mailsift::cli
