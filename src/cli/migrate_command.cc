// mailsift migrate: see migrate_command.h.
#include "cli/migrate_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "fleet/fleet.h"
#include "fleet/migrate.h"

namespace mailsift::cli {

CLI::App* add_migrate_command(CLI::App& app, MigrateCliOptions& o) {
  auto* cmd = app.add_subcommand(
      "migrate", "Copy embedded SQLite files into Redis + PostgreSQL and verify counts");
  cmd->add_option("--from", o.from,
                  "SQLite files: mailsift.db (learned), decisions.db, outbound.db")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--redis", o.redis, "Redis HOST:PORT (learned and outbound state)");
  cmd->add_option("--postgres", o.postgres, "PostgreSQL connection string (decision log)");
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
  fleet::MigrateOptions mo;
  mo.sources = o.from;
  mo.dry_run = o.dry_run;
  auto report = fleet::migrate(mo, {store.get(), log.get(), outbound.get()});
  if (!report)
    return fail(report.error());
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
