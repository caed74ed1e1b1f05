// mailsift migrate: see migrate_command.h.
#include "cli/migrate_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "fleet/fleet.h"
#include "fleet/fleet_tenant.h"
#include "fleet/migrate.h"
#include "fleet/migrate_tenant.h"

namespace mailsift::cli {

CLI::App* add_migrate_command(CLI::App& app, MigrateCliOptions& o) {
  auto* cmd = app.add_subcommand(
      "migrate", "Copy embedded SQLite files into Redis + PostgreSQL and verify counts");
  cmd->add_option("--from", o.from,
                  "SQLite files: mailsift.db (learned), decisions.db, outbound.db, tenants.db, "
                  "feedback.db")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--redis", o.redis, "Redis HOST:PORT (learned and outbound state)");
  cmd->add_option("--postgres", o.postgres,
                  "PostgreSQL connection string (decision log, tenants, feedback)");
  cmd->add_flag("--dry-run", o.dry_run, "Read and compare only; write nothing");
  return cmd;
}

int run_migrate_command(const MigrateCliOptions& o, const Config& config, std::ostream& out,
                        std::ostream& err) {
  auto fail = [&](const Error& e) {
    err << "mailsift migrate: " << e.describe() << "\n";
    return e.kind == ErrorKind::kTemporary ? 3 : 2;
  };
  std::unique_ptr<store::Store> store;
  std::unique_ptr<outbound::OutboundStore> outbound;
  std::unique_ptr<decisions::DecisionLog> log;
  if (!o.redis.empty()) {
    fleet::RedisOptions ro = fleet::redis_options(config);
    ro.address = o.redis;
    auto s = fleet::open_redis_store(ro);
    if (!s)
      return fail(s.error());
    store = std::move(s).value();
    auto ob = fleet::open_redis_outbound_store(ro);
    if (!ob)
      return fail(ob.error());
    outbound = std::move(ob).value();
  }
  if (!o.postgres.empty()) {
    fleet::PostgresOptions po = fleet::postgres_options(config);
    po.dsn = o.postgres;
    auto l = fleet::open_postgres_log(po);
    if (!l)
      return fail(l.error());
    log = std::move(l).value();
  }
  // tenants.db and feedback.db go to the PostgreSQL tenant and feedback stores
  // (src/fleet/migrate_tenant.h); every other file to fleet::migrate.
  std::vector<std::string> tenant_files, other_files;
  for (const auto& f : o.from)
    (fleet::tenant_file_kind(f) == fleet::TenantFileKind::kOther ? other_files : tenant_files)
        .push_back(f);
  std::unique_ptr<tenant::TenantStore> tenants;
  std::unique_ptr<feedback::FeedbackStore> feedback;
  if (!o.postgres.empty() && !tenant_files.empty()) {
    fleet::PostgresOptions po = fleet::postgres_options(config);
    po.dsn = o.postgres;
    auto t = fleet::open_postgres_tenant_store(po);
    if (!t)
      return fail(t.error());
    tenants = std::move(t).value();
    auto f = fleet::open_postgres_feedback_store(po);
    if (!f)
      return fail(f.error());
    feedback = std::move(f).value();
  }
  fleet::MigrateOptions mo;
  mo.sources = other_files;
  mo.dry_run = o.dry_run;
  Result<fleet::MigrateReport> report = fleet::MigrateReport{};
  report->dry_run = o.dry_run;
  if (!other_files.empty())
    report = fleet::migrate(mo, {store.get(), log.get(), outbound.get()});
  if (!report)
    return fail(report.error());
  if (!tenant_files.empty())
    if (auto st = fleet::migrate_tenant_files(tenant_files, o.dry_run,
                                              {tenants.get(), feedback.get()}, *report);
        !st)
      return fail(st.error());
  out << report->table();
  if (o.dry_run)
    return 0;
  if (!report->ok()) {
    err << "mailsift migrate: verification failed: the destination does not hold what the "
           "sources hold (see MISMATCH rows)\n";
    return 1;
  }
  return 0;
}

}  // namespace mailsift::cli
