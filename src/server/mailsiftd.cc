// mailsiftd — the mailsift daemon: milter front end for Postfix/Sendmail and (when built with
// src/http) the HTTP API, over one embedded store and decision log in the data directory.
//
// Signals: SIGHUP reloads the config file, rules and policy file (a new ScanService is built
// off the I/O threads and swapped in; messages in progress finish on the old one; on any error
// the old one stays and the error is logged). SIGTERM/SIGINT drain: stop accepting, let
// conversations in progress finish (server.drain_timeout), exit 0.
// Exit codes: 0 clean stop, 2 usage/configuration error, 3 store or log unavailable at start.
// Runs as whatever user starts it; see docs/operations.md for the unprivileged setup.
#include <fmt/format.h>

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "core/config.h"
#include "core/prometheus.h"
#include "decisions/decisions.h"
#include "dkim/dkim.h"
#include "dns/cares_resolver.h"
#include "feedback/arf_relay.h"
#include "feedback/feedback.h"
#include "feedback/feedback_api.h"
#ifdef MAILSIFT_WITH_TENANT
#include "doctor/doctor.h"
#include "doctor/doctor_api.h"
#endif
#include "fleet/degraded_check.h"
#include "fleet/fleet.h"
#include "fleet/fleet_tenant.h"
#include "fleet/resilient.h"
#include "ipwatch/api.h"
#include "ipwatch/map_server.h"
#include "ipwatch/monitor.h"
#include "outbound/guard.h"
#include "outbound/policy_server.h"
#include "outbound/store.h"
#include "policy/policy.h"
#include "rules/rules.h"
#include "server/log.h"
#include "server/milter_server.h"
#include "server/service.h"
#include "store/store.h"
#include "support/draft_service.h"

#ifdef MAILSIFT_WITH_HTTP
#include "http/http_server.h"
#include "http/metrics.h"
#include "http/service_backend.h"
#ifdef MAILSIFT_WITH_CONSOLE
#include "console/console.h"
#endif
#include "support/api.h"
#include "support/ipwatch_state.h"
#ifdef MAILSIFT_WITH_TENANT
#include "tenant/api.h"
#include "tenant/feedback_bridge.h"
#include "tenant/list_check.h"
#include "tenant/policy_provider.h"
#include "tenant/sending_domains.h"
#endif
#endif

namespace {

namespace asio = boost::asio;
namespace server = mailsift::server;
using mailsift::Config;
using mailsift::Error;
using mailsift::Result;
using server::kv;
using server::log_line;

constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 3;

Result<Config> load_config(const std::string& file, const std::vector<std::string>& sets) {
  Config config;
  if (!file.empty()) {
    auto loaded = Config::load_file(file);
    if (!loaded)
      return loaded.error();
    config = std::move(loaded).value();
  }
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos)
      return Error::config("--set needs name=value: " + s);
    auto st = config.set(s.substr(0, eq), s.substr(eq + 1));
    if (!st)
      return st.error();
  }
  return config;
}

// Everything a reload replaces, kept alive together while any message still uses it.
struct Generation {
  Config config;
  std::unique_ptr<mailsift::policy::PolicyProvider> policies;
  std::unique_ptr<server::ScanService> service;
  // Support's explain-draft: the same checks and policies over a log that drops decisions.
  std::unique_ptr<mailsift::support::DraftScanner> draft;
#ifdef MAILSIFT_WITH_HTTP
  std::unique_ptr<mailsift::http::ServiceBackend> backend;
#endif
};

class Daemon {
 public:
  Daemon(mailsift::store::Store& store, mailsift::decisions::DecisionLog& log)
      : store_(store), log_(log) {}
#ifdef MAILSIFT_WITH_TENANT
  void set_tenants(mailsift::tenant::TenantStore* tenants) {
    tenants_ = tenants;
  }
#endif
  void set_feedback(mailsift::feedback::FeedbackStore* feedback) {
    feedback_ = feedback;
  }
  // Outbound scans feed the Guard's high_score / same_content signals (src/aup, docs/outbound.md).
  void set_outbound_reporter(server::ScanService::OutboundReporter reporter) {
    std::lock_guard<std::mutex> lock(mu_);
    outbound_reporter_ = reporter;
    if (current_)
      current_->service->set_outbound_reporter(std::move(reporter));
  }

  Result<std::shared_ptr<Generation>> build(const Config& config) {
    auto gen = std::make_shared<Generation>();
    gen->config = config;
    const std::string& policy_file = config.get_string("server.policy_file");
    if (policy_file.empty()) {
      gen->policies = mailsift::policy::make_default_provider(config);
    } else {
      auto loaded = mailsift::policy::load_policy_file(config, policy_file);
      if (!loaded)
        return loaded.error();
      gen->policies = std::move(loaded).value();
    }
    server::ScanService::CheckFactory extra_checks;
    std::function<Result<double>(const std::string&)> shift;
    if (feedback_) {
      const auto fopts = mailsift::feedback::Options::from_config(config);
      mailsift::feedback::FeedbackStore* fstore = feedback_;
      shift = [fstore, fopts](const std::string& user) -> Result<double> {
        auto c = fstore->corrections(user);
        if (!c)
          return c.error();
        return mailsift::feedback::threshold_shift_for(fopts, *c);
      };
    }
#ifdef MAILSIFT_WITH_TENANT
    if (tenants_) {
      gen->policies = std::make_unique<mailsift::tenant::TenantPolicyProvider>(
          std::move(gen->policies), *tenants_,
          mailsift::tenant::PolicyDefaults::from_config(config), shift);
      mailsift::tenant::TenantStore* tenants = tenants_;
      const auto scores = mailsift::tenant::ListCheckScores::from_config(config);
      const bool auth = config.get_bool("auth.enabled");
      extra_checks = [tenants, scores,
                      auth]() -> Result<std::vector<std::unique_ptr<mailsift::scan::Check>>> {
        // Without authentication there is no DMARC result: address/domain allow entries then
        // do not count (an allow list must never let a spoof through).
        mailsift::tenant::ListCheck::DmarcOracle oracle;
        if (auth) {
          oracle = [](const mailsift::scan::ScanTask& t) -> std::optional<bool> {
            auto it = t.annotations.find("dmarc");
            return it != t.annotations.end() && it->second.rfind("fail ", 0) == 0;
          };
        }
        std::vector<std::unique_ptr<mailsift::scan::Check>> checks;
        checks.push_back(std::make_unique<mailsift::tenant::ListCheck>(
            *tenants, scores, mailsift::tenant::system_clock(), oracle));
        return checks;
      };
    }
#endif
    // FLEET_DEGRADED when the shared store was unavailable (docs/fleet.md).
    extra_checks = mailsift::fleet::with_degraded_checks(config, std::move(extra_checks));
    auto service = server::ScanService::create(config, store_, log_, *gen->policies, extra_checks);
    if (!service)
      return service.error();
    gen->service = std::move(service).value();
#ifdef MAILSIFT_WITH_TENANT
    // Forged-From (outbound AUP): a user owns its tenant domain (tenant/sending_domains.h).
    if (tenants_) {
      mailsift::tenant::TenantStore* owned_store = tenants_;
      gen->service->set_owned_domains([owned_store](std::string_view login) {
        return mailsift::tenant::sending_domains(*owned_store, login);
      });
    }
#endif
    auto draft =
        mailsift::support::DraftScanner::create(config, store_, *gen->policies, extra_checks);
    if (!draft)
      return draft.error();
    gen->draft = std::move(draft).value();
    {
      std::lock_guard<std::mutex> lock(mu_);
      gen->service->set_outbound_reporter(outbound_reporter_);
    }
#ifdef MAILSIFT_WITH_HTTP
    gen->backend = std::make_unique<mailsift::http::ServiceBackend>(*gen->service, store_);
#endif
    return gen;
  }

  void install(std::shared_ptr<Generation> gen) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(gen);
  }
  std::shared_ptr<Generation> current() {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  // Aliasing pointer: the service keeps its whole generation (policy provider) alive.
  std::shared_ptr<server::ScanService> service() {
    auto gen = current();
    return std::shared_ptr<server::ScanService>(gen, gen->service.get());
  }

 private:
  mailsift::store::Store& store_;
#ifdef MAILSIFT_WITH_TENANT
  mailsift::tenant::TenantStore* tenants_ = nullptr;
#endif
  mailsift::feedback::FeedbackStore* feedback_ = nullptr;
  mailsift::decisions::DecisionLog& log_;
  std::mutex mu_;
  std::shared_ptr<Generation> current_;
  server::ScanService::OutboundReporter outbound_reporter_;
};

#ifdef MAILSIFT_WITH_HTTP
// The HTTP backend follows reloads: every request goes to the current generation.
class CurrentBackend final : public mailsift::http::ScanBackend {
 public:
  explicit CurrentBackend(Daemon& d) : daemon_(d) {}
  Result<server::ScanOutcome> scan(const server::ScanRequest& r) override {
    auto g = daemon_.current();
    return g->backend->scan(r);
  }
  Result<mailsift::scan::LearnResult> learn(std::string_view raw, mailsift::store::Class cls,
                                            const std::string& rcpt) override {
    auto g = daemon_.current();
    return g->backend->learn(raw, cls, rcpt);
  }
  Result<mailsift::scan::LearnResult> unlearn(std::string_view raw, mailsift::store::Class cls,
                                              const std::string& rcpt) override {
    auto g = daemon_.current();
    return g->backend->unlearn(raw, cls, rcpt);
  }
  mailsift::Status fuzzy(std::string_view raw, mailsift::store::Class cls, const std::string& rcpt,
                         mailsift::http::FuzzyOp op) override {
    auto g = daemon_.current();
    return g->backend->fuzzy(raw, cls, rcpt, op);
  }
  mailsift::Status health() override {
    auto g = daemon_.current();
    return g->backend->health();
  }

 private:
  Daemon& daemon_;
};

class MetricsObserver final : public server::MilterObserver {
 public:
  explicit MetricsObserver(mailsift::http::Metrics& m) : metrics_(m) {}
  void connection_opened() override {
    metrics_.connection_opened(mailsift::http::Frontend::kMilter);
  }
  void connection_closed() override {
    metrics_.connection_closed(mailsift::http::Frontend::kMilter);
  }
  void scanned(const Result<server::ScanOutcome>& result, double seconds) override {
    metrics_.scan_finished(mailsift::http::Frontend::kMilter, seconds);
    if (!result) {
      metrics_.error(mailsift::http::Frontend::kMilter, result.error().kind);
      return;
    }
    for (const auto& r : result->recipients) {
      metrics_.recipient_action(mailsift::http::Frontend::kMilter, r.verdict.action);
    }
  }

 private:
  mailsift::http::Metrics& metrics_;
};
#endif

#ifdef MAILSIFT_WITH_TENANT
// "Block this sender for this user" from the feedback service, as a user-level entry in the
// tenant block/allow lists (created_by "feedback", with the reason as note).
class TenantSenderLists final : public mailsift::feedback::SenderLists {
 public:
  explicit TenantSenderLists(mailsift::tenant::TenantStore& store) : store_(store) {}
  mailsift::Status block_sender(const mailsift::scan::Recipient& user, const std::string& address,
                                const std::string& reason) override {
    return add(user, address, mailsift::tenant::ListKind::kBlock, reason);
  }
  mailsift::Status allow_sender(const mailsift::scan::Recipient& user, const std::string& address,
                                const std::string& reason) override {
    return add(user, address, mailsift::tenant::ListKind::kAllow, reason);
  }

 private:
  mailsift::Status add(const mailsift::scan::Recipient& user, const std::string& address,
                       mailsift::tenant::ListKind kind, const std::string& reason) {
    auto pattern = mailsift::tenant::parse_list_entry(address);
    if (!pattern)
      return pattern.error();
    mailsift::tenant::ListEntry e;
    e.level = mailsift::tenant::Level::kUser;
    e.owner = user.user;
    e.kind = kind;
    e.pattern = *pattern;
    e.created_at = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    e.created_by = "feedback";
    e.note = reason;
    auto added = store_.add_list_entry(e);
    if (!added)
      return added.error();
    return mailsift::Ok{};
  }
  mailsift::tenant::TenantStore& store_;
};
#endif
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mailsiftd — mailsift daemon: Postfix milter and HTTP API"};
  app.set_version_flag("--version", "mailsiftd 0.1.0");
  std::string config_file, data_dir;
  std::vector<std::string> sets;
  bool dump_config = false, check_config = false;
  app.add_option("--config", config_file, "TOML configuration file (same table as mailsift)");
  app.add_option("--data-dir", data_dir, "Data directory (overrides server.data_dir)")
      ->envname("MAILSIFT_DATA_DIR");
  app.add_option("--set", sets, "Override one parameter: name=value (repeatable)");
  app.add_flag("--dump-config", dump_config, "Print every parameter with its value and exit");
  app.add_flag("--check-config", check_config,
               "Load config, policy file and rules, report errors, and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  auto loaded = load_config(config_file, sets);
  if (!loaded) {
    std::cerr << "mailsiftd: " << loaded.error().describe() << "\n";
    return kExitUsage;
  }
  Config config = std::move(loaded).value();
  if (dump_config) {
    std::cout << config.dump_toml();
    return 0;
  }
  if (data_dir.empty())
    data_dir = config.get_string("server.data_dir");

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    std::cerr << fmt::format("mailsiftd: cannot create data dir {}: {}\n", data_dir, ec.message());
    return kExitUnavailable;
  }
  const std::filesystem::path dir(data_dir);
  mailsift::rules::set_compile_cache_dir((dir / "rules-cache").string());
  // store.backend / decisions.backend: embedded SQLite by default, Redis / PostgreSQL for a
  // fleet (docs/fleet.md).
  auto store = mailsift::fleet::open_configured_store(config, data_dir);
  if (!store) {
    std::cerr << "mailsiftd: store: " << store.error().describe() << "\n";
    return store.error().kind == mailsift::ErrorKind::kConfig ? kExitUsage : kExitUnavailable;
  }
  auto decision_log = mailsift::fleet::open_configured_log(config, data_dir);
  if (!decision_log) {
    std::cerr << "mailsiftd: decision log: " << decision_log.error().describe() << "\n";
    return decision_log.error().kind == mailsift::ErrorKind::kConfig ? kExitUsage
                                                                     : kExitUnavailable;
  }

  // Group commit unless decisions.flush_ms = 0 (synchronous: each record() is its own durable
  // commit). The contract (what a crash can lose) is in decisions.h and docs/decision-log.md.
  std::unique_ptr<mailsift::decisions::DecisionLog> log_owner = std::move(decision_log).value();
  // Faults of the fleet servers (docs/fleet.md "Faults and degraded mode"): Redis/PostgreSQL
  // calls go through a circuit breaker; while a server is down scans use local state only
  // (FLEET_DEGRADED) and writes are queued durably (fleet.replay_file) and replayed later.
  // The store itself, before any fault wrapper: its Redis mirror statistics go to /metrics.
  const mailsift::store::Store* unwrapped_store = store->get();
  std::unique_ptr<mailsift::fleet::Resilience> fleet_faults;
  {
    auto wrapped = mailsift::fleet::wrap_for_faults(
        config, data_dir, *store, log_owner, [](const std::string& event, const std::string& d) {
          log_line("warn", fmt::format("event={} {}", event, kv("detail", d)));
        });
    if (!wrapped) {
      std::cerr << "mailsiftd: fleet replay queue: " << wrapped.error().describe() << "\n";
      return kExitUnavailable;
    }
    fleet_faults = std::move(wrapped).value();
  }
  mailsift::decisions::GroupCommitLog* group_commit = nullptr;
  if (const int64_t flush_ms = config.get_int("decisions.flush_ms"); flush_ms > 0) {
    mailsift::decisions::GroupCommitOptions gopts;
    gopts.flush_ms = static_cast<int>(flush_ms);
    gopts.batch_max = static_cast<size_t>(config.get_int("decisions.batch_max"));
    gopts.queue_max = static_cast<size_t>(config.get_int("decisions.queue_max"));
    auto wrapped = mailsift::decisions::make_group_commit_log(std::move(log_owner), gopts);
    group_commit = wrapped.get();
    log_owner = std::move(wrapped);
  }

  // Tenants (docs/tenants.md) and users' feedback (docs/feedback.md) are opened before the scan
  // service: recipients' policies, block/allow lists and feedback threshold shifts come from them.
#ifdef MAILSIFT_WITH_TENANT
  std::unique_ptr<mailsift::tenant::TenantStore> tenant_store;
  {
    // tenant.backend: sqlite (default) or postgres (shared by a fleet; docs/fleet-tenants.md).
    auto tenants = mailsift::fleet::open_configured_tenant_store(
        config, dir.string(), mailsift::fleet::StoreUse::kScanPath);
    if (!tenants) {
      std::cerr << "mailsiftd: " << tenants.error().describe() << "\n";
      return tenants.error().kind == mailsift::ErrorKind::kTemporary ? 3 : kExitUsage;
    }
    tenant_store = std::move(tenants).value();
  }
#endif
  std::unique_ptr<mailsift::feedback::FeedbackStore> feedback_store;
  {
    // feedback.backend: sqlite (default) or postgres (shared by a fleet).
    auto fstore = mailsift::fleet::open_configured_feedback_store(
        config, dir.string(), mailsift::fleet::StoreUse::kScanPath);
    if (!fstore) {
      std::cerr << "mailsiftd: feedback: " << fstore.error().describe() << "\n";
      return fstore.error().kind == mailsift::ErrorKind::kTemporary ? 3 : kExitUsage;
    }
    feedback_store = std::move(fstore).value();
  }
  Daemon daemon(**store, *log_owner);
#ifdef MAILSIFT_WITH_TENANT
  daemon.set_tenants(tenant_store.get());
#endif
  daemon.set_feedback(feedback_store.get());
  auto first = daemon.build(config);
  if (!first) {
    std::cerr << "mailsiftd: " << first.error().describe() << "\n";
    return kExitUsage;
  }
  if (check_config) {
    std::cout << "configuration ok\n";
    return 0;
  }
  daemon.install(std::move(first).value());

  const int64_t threads = server_threads(config);

  asio::io_context io(static_cast<int>(threads));
  asio::thread_pool scan_pool(static_cast<size_t>(threads));

#ifdef MAILSIFT_WITH_HTTP
  mailsift::http::Metrics metrics;
  MetricsObserver observer(metrics);
  CurrentBackend backend(daemon);
  if (group_commit) {
    metrics.set_extra([group_commit] {
      const auto st = group_commit->stats();
      std::string out;
      auto counter = [&](const char* name, const char* help, uint64_t v) {
        out += mailsift::prometheus_family(name, "counter", help, v);
      };
      counter("mailsift_decisions_queued_total", "Decisions accepted by the group-commit queue.",
              st.queued);
      counter("mailsift_decisions_written_total", "Decisions committed to the decision log.",
              st.written);
      counter("mailsift_decision_batches_total", "Decision-log transactions committed.",
              st.batches);
      counter("mailsift_decision_write_errors_total",
              "Failed decision-log batch writes (each is retried; nothing is dropped).",
              st.write_errors);
      counter("mailsift_decision_queue_blocked_total",
              "Scans that waited for a full decision queue (back-pressure).", st.blocked);
      out += mailsift::prometheus_family("mailsift_decisions_pending", "gauge",
                                         "Decisions queued, not yet committed.", st.pending);
      return out;
    });
  }
  if (fleet_faults) {
    mailsift::fleet::Resilience* faults = fleet_faults.get();
    metrics.add_extra([faults] { return faults->metrics(); });
  }
  metrics.add_extra(
      [unwrapped_store] { return mailsift::fleet::redis_mirror_metrics(*unwrapped_store); });
#ifdef MAILSIFT_WITH_TENANT
  metrics.add_extra([tenants = tenant_store.get(), feedback = feedback_store.get()] {
    return mailsift::fleet::replica_metrics(tenants, feedback);
  });
#endif
#endif

  // Outbound policy delegation listener (docs/outbound.md): its own store file, the decision
  // log shared with the milter. Read once at start.
  std::unique_ptr<mailsift::outbound::OutboundStore> outbound_store;
  std::unique_ptr<mailsift::outbound::Guard> guard;
  std::unique_ptr<mailsift::outbound::PolicyService> policy_service;
  std::unique_ptr<mailsift::outbound::PolicyServer> policy_server;
  const std::string& policy_listen = config.get_string("outbound.policy_listen");
  if (!policy_listen.empty()) {
    auto gc = mailsift::outbound::GuardConfig::from_config(config);
    if (!gc) {
      std::cerr << "mailsiftd: " << gc.error().describe() << "\n";
      return kExitUsage;
    }
    // outbound.store.backend: SQLite with write-behind counters (outbound.store.flush_ms; the
    // CLI opens the same file directly), or Redis shared by a fleet (docs/fleet.md).
    auto os = mailsift::fleet::open_configured_outbound_store(config, dir.string());
    if (!os) {
      std::cerr << "mailsiftd: outbound store: " << os.error().describe() << "\n";
      return kExitUnavailable;
    }
    outbound_store = std::move(os).value();
    guard = std::make_unique<mailsift::outbound::Guard>(*outbound_store, std::move(gc).value());
    std::string node = config.get_string("server.node_name");
    if (node.empty()) {
      char host[256] = {0};
      if (gethostname(host, sizeof host - 1) == 0)
        node = host;
    }
    policy_service = std::make_unique<mailsift::outbound::PolicyService>(
        *guard, *log_owner, mailsift::outbound::PolicyServiceOptions{node, {}});
    mailsift::outbound::PolicyServerOptions popts;
    popts.listen = policy_listen;
    popts.handler = [svc = policy_service.get()](const mailsift::outbound::PolicyRequest& r) {
      return svc->handle(r);
    };
    auto started = mailsift::outbound::PolicyServer::start(io, popts);
    if (!started) {
      std::cerr << "mailsiftd: " << started.error().describe() << "\n";
      return kExitUsage;
    }
    policy_server = std::move(started).value();
    // The outbound profile's verdicts (milter / HTTP end of data) feed detection.
    daemon.set_outbound_reporter([g = guard.get()](const mailsift::scan::Envelope& e, double score,
                                                   const std::string& digest, size_t rcpts) {
      if (e.auth_user.empty())
        return;
      auto st = g->report_scanned(mailsift::outbound::Identity::from(e.auth_user, e.mail_from),
                                  score, digest, static_cast<int64_t>(rcpts));
      if (!st)
        log_line("warn", fmt::format("event=outbound_report_failed {}",
                                     kv("error", st.error().describe())));
    });
  }

  // Outbound IP protection (docs/outbound.md "Outbound IPs"): the blocklist monitor runs on its
  // own one-thread pool (DNS blocks it, never the I/O or scan threads) with its own resolver;
  // the socketmap server answers Postfix from the monitor's in-memory snapshot. Read at start.
  std::unique_ptr<mailsift::ipwatch::Store> ipwatch_store;
  std::unique_ptr<mailsift::dns::Resolver> ipwatch_resolver;
  std::unique_ptr<mailsift::ipwatch::Monitor> ipwatch_monitor;
  std::unique_ptr<mailsift::ipwatch::MapServer> ipwatch_map;
  std::optional<mailsift::ipwatch::Options> ipwatch_options;
  asio::thread_pool ipwatch_pool(1);
  asio::steady_timer ipwatch_timer(ipwatch_pool);
  std::function<void()> ipwatch_round;
  // Destroyed first (also on early error returns): stops the pool and waits for a round in
  // progress (bounded by the DNS timeout) before the timer and the round function go away.
  struct PoolJoin {
    asio::thread_pool& pool;
    ~PoolJoin() {
      pool.stop();
      pool.join();
    }
  } ipwatch_join{ipwatch_pool};
  {
    auto iopts = mailsift::ipwatch::options_from_config(config);
    if (!iopts) {
      std::cerr << "mailsiftd: " << iopts.error().describe() << "\n";
      return kExitUsage;
    }
    if (!iopts->pools.empty()) {
      auto is = mailsift::ipwatch::open_sqlite_store((dir / iopts->file).string());
      if (!is) {
        std::cerr << "mailsiftd: ipwatch store: " << is.error().describe() << "\n";
        return kExitUnavailable;
      }
      ipwatch_store = std::move(is).value();
      auto dns_options = mailsift::dns::cares_options_from_config(config);
      if (!dns_options) {
        std::cerr << "mailsiftd: " << dns_options.error().describe() << "\n";
        return kExitUsage;
      }
      auto resolver = mailsift::dns::CaresResolver::create(*dns_options);
      if (!resolver) {
        std::cerr << "mailsiftd: ipwatch resolver: " << resolver.error().describe() << "\n";
        return kExitUsage;
      }
      ipwatch_resolver = std::move(resolver).value();
      ipwatch_options = *iopts;
      ipwatch_monitor = std::make_unique<mailsift::ipwatch::Monitor>(
          *iopts, *ipwatch_store, *ipwatch_resolver,
          [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
          },
          [](std::string_view level, std::string_view fields) { log_line(level, fields); });
      if (auto st = ipwatch_monitor->load(); !st)
        log_line("error",
                 fmt::format("event=ipwatch_load_failed {}", kv("error", st.error().describe())));
      if (!iopts->map_listen.empty()) {
        mailsift::ipwatch::MapServerOptions mopts;
        mopts.listen = iopts->map_listen;
        mopts.reply = [m = ipwatch_monitor.get()](std::string_view p) { return m->map_reply(p); };
        auto started = mailsift::ipwatch::MapServer::start(io, mopts);
        if (!started) {
          std::cerr << "mailsiftd: " << started.error().describe() << "\n";
          return kExitUsage;
        }
        ipwatch_map = std::move(started).value();
      }
      const auto interval = std::chrono::seconds(iopts->interval_seconds);
      ipwatch_round = [&, interval] {
        auto report = ipwatch_monitor->run_round();
        if (!report)
          log_line("error", fmt::format("event=ipwatch_round_failed {}",
                                        kv("error", report.error().describe())));
        ipwatch_timer.expires_after(interval);
        ipwatch_timer.async_wait([&](boost::system::error_code ec) {
          if (!ec)
            ipwatch_round();
        });
      };
      asio::post(ipwatch_pool, [&] { ipwatch_round(); });
    }
  }

  std::unique_ptr<server::MilterServer> milter;
  const std::string& milter_listen = config.get_string("server.milter_listen");
  if (!milter_listen.empty()) {
    server::MilterOptions opts;
    opts.listen = milter_listen;
    opts.idle_timeout = std::chrono::seconds(config.get_int("server.milter_idle_timeout"));
    opts.progress_interval =
        std::chrono::seconds(config.get_int("server.milter_progress_interval"));
    opts.max_packet = static_cast<size_t>(config.get_int("server.max_milter_packet"));
    opts.current_service = [&daemon] { return daemon.service(); };
    opts.scan_executor = scan_pool.get_executor();
#ifdef MAILSIFT_WITH_HTTP
    opts.observer = &observer;
#endif
    auto started = server::MilterServer::start(io, opts);
    if (!started) {
      std::cerr << "mailsiftd: " << started.error().describe() << "\n";
      return kExitUsage;
    }
    milter = std::move(started).value();
  }

#ifdef MAILSIFT_WITH_HTTP
#ifdef MAILSIFT_WITH_TENANT
  // Declared before the server: the server's handler points at the API until it is destroyed.
  std::unique_ptr<mailsift::tenant::TenantApi> tenant_api;
#endif
  std::unique_ptr<mailsift::scan::Engine> feedback_engine;
  std::unique_ptr<mailsift::feedback::EngineLearner> feedback_learner;
  std::unique_ptr<mailsift::feedback::SenderLists> feedback_lists;
  std::unique_ptr<mailsift::feedback::FeedbackService> feedback_service;
  std::unique_ptr<mailsift::feedback::FeedbackApi> feedback_api;
  // Reports queued while the feedback store's PostgreSQL was down are applied through
  // feedback_service by the fleet replayer; cleared (waiting for an apply in progress) before
  // feedback_service goes away.
  struct ClearFeedbackReplay {
    mailsift::fleet::Resilience* faults = nullptr;
    ~ClearFeedbackReplay() {
      if (faults)
        faults->set_apply("feedback", nullptr);
    }
  } clear_feedback_replay;
  // Report storms and ARF delivery to the partner's relay (docs/feedback.md).
  std::unique_ptr<mailsift::feedback::RateLimiter> feedback_limiter;
  std::unique_ptr<mailsift::feedback::ArfRelay> arf_relay;
  std::unique_ptr<mailsift::feedback::ArfSender> arf_sender;
#ifdef MAILSIFT_WITH_TENANT
  // Domain doctor (docs/doctor.md): its clusters, its own resolver, its API extension.
  std::unique_ptr<mailsift::doctor::Clusters> doctor_clusters;
  std::unique_ptr<mailsift::dns::Resolver> doctor_resolver;
  std::unique_ptr<mailsift::doctor::DoctorApi> doctor_api;
#endif
  std::unique_ptr<mailsift::ipwatch::IpwatchApi> ipwatch_api;
#if defined(MAILSIFT_WITH_CONSOLE) && defined(MAILSIFT_WITH_TENANT)
  std::unique_ptr<mailsift::console::Console> console;
#endif
  std::unique_ptr<mailsift::support::SupportApi> support_api;
  std::unique_ptr<mailsift::outbound::OutboundStore> support_outbound;  // without policy listener
  // The domain doctor waits on DNS (seconds when a zone is broken) and a case lookup may scan a
  // large log: both run here, not on the I/O threads that answer scans. Declared before the
  // server so it outlives it; destroyed (joined) before the APIs declared above.
  boost::asio::thread_pool http_slow_pool(2);
  std::unique_ptr<mailsift::http::HttpServer> http_server;
  const std::string& http_listen = config.get_string("server.http_listen");
  if (!http_listen.empty()) {
    auto spec = server::parse_listen_spec(http_listen);
    if (!spec || spec->kind != "inet") {
      std::cerr << "mailsiftd: server.http_listen must be HOST:PORT\n";
      return kExitUsage;
    }
    mailsift::http::HttpOptions hopts;
    hopts.address = spec->host;
    hopts.port = spec->port;
    hopts.max_body_bytes = static_cast<size_t>(config.get_int("mime.max_message_bytes"));
    hopts.metrics = &metrics;
    hopts.slow_pool = &http_slow_pool;
    hopts.slow_prefixes = {"/api/v1/doctor", "/console/doctor", "/api/v1/case", "/console/case"};
#ifdef MAILSIFT_WITH_TENANT
    // Tenant management API (/api/v1/resellers, /domains, /users, /policy, /lists):
    // docs/tenants.md. Its store is opened once; SIGHUP does not reopen it.
    tenant_api = std::make_unique<mailsift::tenant::TenantApi>(
        *tenant_store, mailsift::tenant::PolicyDefaults::from_config(config),
        mailsift::tenant::ListCheckScores::from_config(config), mailsift::tenant::system_clock());
    hopts.handler.extension = tenant_api.get();
#endif
    // Users' "mark as spam" / "not spam" (docs/feedback.md): its own store, its own engine
    // (an Engine is single-threaded; the learner serialises it), block/allow entries into the
    // tenant lists, DKIM for the trusted-bulk-sender rule when authentication is on.
    auto fengine = mailsift::scan::Engine::create(config, **store);
    if (!fengine) {
      std::cerr << "mailsiftd: feedback engine: " << fengine.error().describe() << "\n";
      return kExitUsage;
    }
    feedback_engine = std::move(fengine).value();
    feedback_learner = std::make_unique<mailsift::feedback::EngineLearner>(*feedback_engine);
#ifdef MAILSIFT_WITH_TENANT
    feedback_lists = std::make_unique<TenantSenderLists>(*tenant_store);
#endif
    mailsift::feedback::DkimPassDomains dkim_domains;
    if (config.get_bool("auth.enabled")) {
      auto dns_options = mailsift::dns::cares_options_from_config(config);
      if (!dns_options) {
        std::cerr << "mailsiftd: " << dns_options.error().describe() << "\n";
        return kExitUsage;
      }
      auto resolver = mailsift::dns::CaresResolver::create(*dns_options);
      if (!resolver) {
        std::cerr << "mailsiftd: " << resolver.error().describe() << "\n";
        return kExitUsage;
      }
      std::shared_ptr<mailsift::dns::Resolver> shared_resolver(std::move(*resolver));
      dkim_domains = [shared_resolver](std::string_view raw) {
        std::vector<std::string> pass;
        const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        for (const auto& r : mailsift::dkim::verify(raw, *shared_resolver, now))
          if (r.result == mailsift::dkim::Status::kPass && !r.weak)
            pass.push_back(r.domain);
        return pass;
      };
    }
    feedback_service = std::make_unique<mailsift::feedback::FeedbackService>(
        mailsift::feedback::Options::from_config(config), *feedback_store, *feedback_learner,
        feedback_lists.get(), dkim_domains, [] {
          return std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
              .count();
        });
    feedback_api = std::make_unique<mailsift::feedback::FeedbackApi>(
        *feedback_service, log_owner.get(), hopts.handler.extension);
    hopts.handler.extension = feedback_api.get();
    if (fleet_faults && config.get_string("feedback.backend") == "postgres") {
      // feedback.backend = postgres: a report taken while PostgreSQL is down is queued durably
      // and applied when it is back (docs/fleet-tenants.md "Faults").
      mailsift::fleet::Resilience* faults = fleet_faults.get();
      feedback_api->set_deferral([faults](const mailsift::feedback::Request& r) {
        mailsift::fleet::ReplayItem item;
        item.event_id = mailsift::feedback::deferred_report_id(r);
        item.kind = "report";
        item.payload = mailsift::feedback::deferred_report_json(r);
        return faults->defer("feedback", item);
      });
      faults->set_apply("feedback",
                        [svc = feedback_service.get()](
                            const mailsift::fleet::ReplayItem& item) -> mailsift::Status {
                          auto request =
                              mailsift::feedback::deferred_report_from_json(item.payload);
                          if (!request)
                            return request.error();  // never applicable: kept in replay_dead
                          auto applied = svc->report(*request);
                          if (!applied)
                            return applied.error();
                          return mailsift::Ok{};
                        });
      clear_feedback_replay.faults = faults;
    }
    {  // Rate limits, tenant "learning enabled", ARF relay (docs/feedback.md, docs/tenants.md).
      auto ms_now = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
      feedback_limiter = std::make_unique<mailsift::feedback::RateLimiter>(
          static_cast<double>(config.get_int("feedback.rate_limit_per_minute")),
          static_cast<int>(config.get_int("feedback.rate_limit_burst")), ms_now);
      feedback_api->set_rate_limiter(feedback_limiter.get());
#ifdef MAILSIFT_WITH_TENANT
      feedback_service->set_learning_lookup(mailsift::tenant::feedback_learning_lookup(
          *tenant_store, mailsift::tenant::PolicyDefaults::from_config(config)));
      tenant_api->set_removal_hook(
          mailsift::tenant::feedback_removal_purger(*feedback_store, **store));
#endif
      auto relay = mailsift::feedback::RelayOptions::from_config(config);
      if (!relay) {
        std::cerr << "mailsiftd: " << relay.error().describe() << "\n";
        return kExitUsage;
      }
      if (!relay->host.empty()) {
        arf_relay = std::make_unique<mailsift::feedback::ArfRelay>(
            *relay, config.get_string("feedback.arf_spool"));
        arf_sender =
            std::make_unique<mailsift::feedback::ArfSender>(*arf_relay, relay->retry_seconds);
        arf_sender->start();
        feedback_service->set_on_shared([s = arf_sender.get()] { s->wake(); });
      }
    }
#ifdef MAILSIFT_WITH_TENANT
    // GET /api/v1/doctor/DOMAIN (tenant API keys). The clusters file is read once, at start.
    if (const auto& cf = config.get_string("doctor.clusters_file"); !cf.empty()) {
      auto clusters = mailsift::doctor::load_clusters_file(cf);
      auto dopts = mailsift::doctor::resolver_options(config);
      if (!clusters || !dopts) {
        std::cerr << "mailsiftd: doctor: "
                  << (clusters ? dopts.error() : clusters.error()).describe() << "\n";
        return kExitUsage;
      }
      auto res = mailsift::dns::CaresResolver::create(*dopts);
      if (!res) {
        std::cerr << "mailsiftd: doctor: " << res.error().describe() << "\n";
        return kExitUsage;
      }
      doctor_clusters = std::make_unique<mailsift::doctor::Clusters>(std::move(clusters).value());
      doctor_resolver = std::move(res).value();
    }
    doctor_api = std::make_unique<mailsift::doctor::DoctorApi>(
        *tenant_store, doctor_clusters.get(), doctor_resolver.get(), hopts.handler.extension);
    hopts.handler.extension = doctor_api.get();
#endif
#ifdef MAILSIFT_WITH_TENANT
    // Support's case lookup and explain-draft (docs/support.md), chained before the others.
    {
      mailsift::support::SupportApiOptions sopts;
      sopts.log = log_owner.get();
      sopts.tenants = tenant_store.get();
      sopts.outbound = outbound_store.get();
      // Without the policy listener, the account check still reads the file the CLI writes.
      if (const auto opath = dir / config.get_string("outbound.file");
          !outbound_store && std::filesystem::exists(opath, ec)) {
        if (auto os = mailsift::outbound::open_sqlite_store(opath.string())) {
          support_outbound = std::move(os).value();
          sopts.outbound = support_outbound.get();
        }
      }
      // A fleet's account statuses are on Redis even on a node without the policy listener.
      if (!outbound_store && config.get_string("outbound.store.backend") == "redis") {
        if (auto os = mailsift::fleet::open_configured_outbound_store(config, dir.string())) {
          support_outbound = std::move(os).value();
          sopts.outbound = support_outbound.get();
        }
      }
      if (auto gc = mailsift::outbound::GuardConfig::from_config(config))
        sopts.guard = *gc;
      sopts.policy_defaults = mailsift::tenant::PolicyDefaults::from_config(config);
      auto symbols = mailsift::support::builtin_symbol_descriptions(config, **store);
      if (!symbols) {
        std::cerr << "mailsiftd: support: " << symbols.error().describe() << "\n";
        return kExitUsage;
      }
      sopts.symbols = std::move(symbols).value();
      sopts.now_ms = &mailsift::outbound::Guard::system_now_ms;
      if (ipwatch_monitor) {  // blocklist state of our outbound IPs (src/ipwatch)
        sopts.ip_state = mailsift::support::ip_state_from_monitor(*ipwatch_monitor);
        sopts.outbound_ips = mailsift::support::configured_outbound_ips(*ipwatch_options);
        sopts.route_at = mailsift::support::route_at_from_store(*ipwatch_store, *ipwatch_options);
      }
      sopts.draft_scan = [&daemon](std::string_view raw, const mailsift::scan::Envelope& env) {
        auto g = daemon.current();
        return g->draft->scan(raw, env);
      };
      support_api = std::make_unique<mailsift::support::SupportApi>(std::move(sopts),
                                                                    hopts.handler.extension);
      hopts.handler.extension = support_api.get();
    }
#endif
    if (ipwatch_monitor) {
      // /api/v1/outbound-ips (docs/outbound.md): admin keys of the tenant store only.
      mailsift::ipwatch::IpwatchApi::Authenticate ipwatch_auth =
          [](std::string_view) -> Result<mailsift::ipwatch::IpwatchApi::Access> {
        return mailsift::ipwatch::IpwatchApi::Access::kUnknown;
      };
#ifdef MAILSIFT_WITH_TENANT
      ipwatch_auth = [ts = tenant_store.get()](
                         std::string_view key) -> Result<mailsift::ipwatch::IpwatchApi::Access> {
        using Access = mailsift::ipwatch::IpwatchApi::Access;
        auto who = mailsift::tenant::authenticate(*ts, key);
        if (!who)
          return who.error().kind == mailsift::ErrorKind::kTemporary ? Result<Access>(who.error())
                                                                     : Access::kUnknown;
        return who->role == mailsift::tenant::Role::kAdmin ? Access::kAdmin : Access::kNotAdmin;
      };
#endif
      ipwatch_api = std::make_unique<mailsift::ipwatch::IpwatchApi>(
          *ipwatch_store, *ipwatch_options, [m = ipwatch_monitor.get()] { return m->choose(); },
          ipwatch_auth,
          [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
          },
          hopts.handler.extension);
      hopts.handler.extension = ipwatch_api.get();
    }
#if defined(MAILSIFT_WITH_CONSOLE) && defined(MAILSIFT_WITH_TENANT)
    // Support web console under /console/ (docs/console.md). Keep it the outermost extension:
    // its case-lookup, doctor and train pages call the extensions chained before it.
    {
      mailsift::console::ConsoleOptions copts;
      copts.symbols = mailsift::support::builtin_symbol_descriptions(*feedback_engine);
      console = std::make_unique<mailsift::console::Console>(
          *tenant_store, mailsift::tenant::PolicyDefaults::from_config(config), log_owner.get(),
          hopts.handler.extension, mailsift::tenant::system_clock(), std::move(copts));
      hopts.handler.extension = console.get();
    }
#endif
    auto started = mailsift::http::HttpServer::start(io, hopts, backend);
    if (!started) {
      std::cerr << "mailsiftd: http: " << started.error().describe() << "\n";
      return kExitUsage;
    }
    http_server = std::move(started).value();
  }
  const char* http_state = http_listen.empty() ? "disabled" : http_listen.c_str();
#else
  // HOOK: built without src/http (mailsift_http_service target absent): no HTTP API.
  const char* http_state = "not built";
#endif

  // decisions.retention_days: expire old decisions at start and then hourly, on the scan pool
  // (a slow store never blocks the I/O threads). The value in force at the time counts (SIGHUP).
  asio::steady_timer retention_timer(io);
  std::function<void()> retention_sweep;
  retention_sweep = [&] {
    const int64_t days = daemon.current()->config.get_int("decisions.retention_days");
    if (days > 0) {
      asio::post(scan_pool, [&log = *log_owner, days] {
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        auto removed = log.expire(now_ms - days * 86'400'000);
        if (removed)
          log_line("info", fmt::format("event=decisions_expired {} {}",
                                       kv("removed", static_cast<int64_t>(*removed)),
                                       kv("retention_days", days)));
        else
          log_line("warn", fmt::format("event=decisions_expire_failed {}",
                                       kv("error", removed.error().describe())));
      });
    }
    retention_timer.expires_after(std::chrono::hours(1));
    retention_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec)
        retention_sweep();
    });
  };
  retention_sweep();

  asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  asio::steady_timer drain_timer(io);
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> drain_check;
  drain_check = [&] {
    size_t open = milter ? milter->connections() : 0;
#ifdef MAILSIFT_WITH_HTTP
    if (http_server)
      open += http_server->connections();
#endif
    if (open == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      log_line("info", fmt::format("event=stopped {}",
                                   kv("abandoned_connections", static_cast<int64_t>(open))));
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(100));
    drain_timer.async_wait([&](boost::system::error_code) { drain_check(); });
  };
  std::function<void()> wait_signal;
  wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code sec, int signo) {
      if (sec)
        return;
      if (signo == SIGHUP) {
        log_line("info", "event=reload_requested");
        asio::post(scan_pool, [&daemon, config_file, sets] {
          auto cfg = load_config(config_file, sets);
          Result<std::shared_ptr<Generation>> gen =
              cfg ? daemon.build(*cfg) : Result<std::shared_ptr<Generation>>(cfg.error());
          if (!gen) {
            log_line("error",
                     fmt::format("event=reload_failed {}", kv("error", gen.error().describe())));
            return;
          }
          daemon.install(std::move(gen).value());
          log_line("info", "event=reloaded (listen addresses, threads, data dir need a restart)");
        });
        wait_signal();
        return;
      }
      log_line("info", fmt::format("event=draining {}", kv("signal", static_cast<int64_t>(signo))));
      retention_timer.cancel();
      if (ipwatch_map)
        ipwatch_map->stop();
      asio::post(ipwatch_pool, [&] { ipwatch_timer.cancel(); });
      if (milter)
        milter->stop();
      if (policy_server)
        policy_server->stop();
#ifdef MAILSIFT_WITH_HTTP
      if (http_server)
        http_server->stop();
#endif
      drain_deadline =
          std::chrono::steady_clock::now() +
          std::chrono::seconds(daemon.current()->config.get_int("server.drain_timeout"));
      drain_check();
    });
  };
  wait_signal();

  log_line("info",
           fmt::format("event=started {} {} {} {} {} {}",
                       kv("milter", milter_listen.empty() ? "disabled" : milter_listen),
                       kv("policy", policy_listen.empty() ? "disabled" : policy_listen),
                       kv("http", http_state), kv("data_dir", data_dir), kv("threads", threads),
                       kv("node", daemon.current()->config.get_string("server.node_name"))));

  std::vector<std::thread> pool;
  for (int64_t i = 1; i < threads; ++i)
    pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool)
    t.join();
  scan_pool.join();
  if (group_commit) {
    // Drained: write what is queued (retrying a failing store for up to 10 s; anything still
    // unwritten is printed to stderr, never silently dropped).
    const auto before = group_commit->stats();
    auto closed = group_commit->close(10000);
    log_line(closed ? "info" : "error",
             fmt::format("event=decision_log_closed {} {} {}",
                         kv("flushed", static_cast<int64_t>(before.pending)),
                         kv("written_total", static_cast<int64_t>(group_commit->stats().written)),
                         kv("lost", static_cast<int64_t>(group_commit->stats().lost))));
  }
  return 0;
}
