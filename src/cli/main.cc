// mailsift — the command-line tool: scan, learn and unlearn on the embedded store; explain
// bounces (`mailsift bounce`, no store needed); tenants, policies and block/allow lists
// (`tenant`, `lists`: src/tenant/tenant_cli.h); outbound account status (`account`).
//
// Exit codes (also in README):
//   0  every input was processed
//   1  some inputs failed (unreadable, empty, not mail); the others were processed
//   2  usage or configuration error (nothing processed)
//   3  temporary failure (store unavailable): retry later; nothing was lost or half-learned
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/account_command.h"
#include "cli/bounce_command.h"
#include "cli/doctor_command.h"
#include "cli/case_command.h"
#include "cli/log_command.h"
#include "cli/migrate_command.h"
#include "core/config.h"
#include "core/file.h"
#include "rules/rules.h"
#include "scan/engine.h"
#include "scan/verdict_json.h"
#include "fleet/fleet.h"
#include "ipwatch/ipwatch_cli.h"
#include "store/store.h"
#include "tenant/tenant_cli.h"

namespace {

using mailsift::Config;
using mailsift::Error;
using mailsift::ErrorKind;
using mailsift::Result;
namespace scan = mailsift::scan;
namespace store = mailsift::store;

constexpr int kExitOk = 0;
constexpr int kExitSomeFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTemporary = 3;

Result<std::string> read_input(const std::string& path) {
  std::string bytes;
  if (path == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    // One open, one fstat, one read (src/core/file.h): istreambuf_iterator cost more CPU than
    // parsing the message.
    auto read = mailsift::read_whole_file(path);
    if (!read) return read.error();
    bytes = std::move(*read);
  }
  if (bytes.empty()) return Error::malformed(fmt::format("{} is empty", path));
  return bytes;
}

struct Totals {
  int failed = 0;
  int temporary = 0;
  void count(const Error& e) { (e.kind == ErrorKind::kTemporary ? temporary : failed)++; }
  int exit_code() const {
    if (temporary > 0) return kExitTemporary;
    return failed > 0 ? kExitSomeFailed : kExitOk;
  }
};

nlohmann::json error_json(const std::string& path, const Error& e) {
  return {{"path", path}, {"error", {{"kind", mailsift::to_string(e.kind)}, {"message", e.message}}}};
}

void report_error(bool json, const std::string& path, const Error& e) {
  if (json) {
    std::cout << error_json(path, e).dump() << "\n";
  } else {
    std::cerr << fmt::format("mailsift: {}: {}\n", path, e.describe());
  }
}

struct TenantOptions {
  std::string user, domain, reseller;
  scan::Recipient recipient() const { return {user, domain, reseller}; }
  void add_to(CLI::App* cmd) {
    cmd->add_option("--user", user, "Mailbox address whose scope is read/trained");
    cmd->add_option("--domain", domain, "Domain scope (default: the user's domain)");
    cmd->add_option("--reseller", reseller, "Reseller scope");
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mailsift — scan mail, learn from spam/ham, on the embedded store"};
  app.set_version_flag("--version", "mailsift 0.1.0");
  std::string data_dir;
  std::string config_file;
  std::vector<std::string> sets;
  bool dump_config = false;
  app.add_option("--data-dir", data_dir, "Store directory (default $MAILSIFT_DATA_DIR, else /var/lib/mailsift)")
      ->envname("MAILSIFT_DATA_DIR");
  app.add_option("--config", config_file, "TOML configuration file");
  app.add_option("--set", sets, "Override one parameter: name=value (repeatable)");
  app.add_flag("--dump-config", dump_config, "Print every parameter with its value and exit");
  app.fallthrough();  // global options are accepted after the subcommand too
  app.require_subcommand(0, 1);

  bool json = false;
  std::vector<std::string> files;
  TenantOptions tenant;

  auto* scan_cmd = app.add_subcommand("scan", "Scan messages and print the verdict");
  scan_cmd->add_flag("--json", json, "One JSON object per line per input");
  scan_cmd->add_option("files", files, "Message files, or - for standard input")->required();
  tenant.add_to(scan_cmd);

  std::string cls_name;
  auto add_learn = [&](const char* name, const char* help) {
    auto* cmd = app.add_subcommand(name, help);
    cmd->add_option("class", cls_name, "spam or ham")
        ->required()
        ->check(CLI::IsMember({"spam", "ham"}));
    cmd->add_flag("--json", json, "One JSON object per line per input");
    cmd->add_option("files", files, "Message files, or - for standard input")->required();
    tenant.add_to(cmd);
    return cmd;
  };
  auto* learn_cmd = add_learn("learn", "Learn messages as spam or ham");
  auto* unlearn_cmd = add_learn("unlearn", "Reverse an earlier learn of these messages exactly");
  auto* doc_cmd = app.add_subcommand("config-doc", "Print the configuration reference (Markdown)");
  mailsift::cli::LogOptions log_options;
  auto* log_cmd = app.add_subcommand("log", "Search the decision log: what mailsiftd decided, when, for whom");
  mailsift::cli::add_log_options(*log_cmd, log_options);
  mailsift::cli::AccountOptions account_options;
  auto* account_cmd = mailsift::cli::add_account_command(app, account_options);
  mailsift::cli::BounceOptions bounce_options;
  auto* bounce_cmd =
      app.add_subcommand("bounce", "Explain bounces: reason per recipient and what to do");
  mailsift::cli::add_bounce_options(*bounce_cmd, bounce_options);
  mailsift::cli::DoctorOptions doctor_options;  // domain doctor (docs/doctor.md)
  auto* doctor_cmd = mailsift::cli::add_doctor_command(app, doctor_options);
  mailsift::tenant::TenantCommands tenant_commands(app);
  // Support: case lookup and explain-draft (src/support, docs/support.md).
  mailsift::cli::CaseCliOptions case_options;
  auto [case_cmd, draft_cmd] = mailsift::cli::add_case_commands(app, case_options);
  mailsift::ipwatch::IpwatchCommands ipwatch_commands(app);  // docs/outbound.md "Outbound IPs"
  mailsift::cli::MigrateCliOptions migrate_options;  // embedded -> fleet (docs/fleet.md)
  auto* migrate_cmd = mailsift::cli::add_migrate_command(app, migrate_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  Config config;
  if (!config_file.empty()) {
    auto loaded = Config::load_file(config_file);
    if (!loaded) {
      std::cerr << "mailsift: " << loaded.error().describe() << "\n";
      return kExitUsage;
    }
    config = std::move(loaded).value();
  }
  for (const auto& s : sets) {
    auto eq = s.find('=');
    mailsift::Status st = eq == std::string::npos
                              ? mailsift::Status(Error::config("--set needs name=value: " + s))
                              : config.set(s.substr(0, eq), s.substr(eq + 1));
    if (!st) {
      std::cerr << "mailsift: " << st.error().describe() << "\n";
      return kExitUsage;
    }
  }
  if (dump_config) {
    std::cout << config.dump_toml();
    return kExitOk;
  }
  if (doc_cmd->parsed()) {
    std::cout << mailsift::render_config_markdown();
    return kExitOk;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << app.help();
    return kExitUsage;
  }

  // Bounce diagnosis reads only the given messages (and DNS with --live): no store, no engine.
  if (bounce_cmd->parsed())
    return mailsift::cli::run_bounce_command(bounce_options, config, std::cout, std::cerr);

  // The domain doctor needs the clusters file and DNS only: no store.
  if (doctor_cmd->parsed())
    return mailsift::cli::run_doctor_command(doctor_options, config, std::cout, std::cerr);
  if (migrate_cmd->parsed())
    return mailsift::cli::run_migrate_command(migrate_options, config, std::cout, std::cerr);
  if (data_dir.empty()) data_dir = "/var/lib/mailsift";
  if (log_cmd->parsed()) return mailsift::cli::run_log_command(log_options, config, data_dir, std::cout, std::cerr);
  if (account_cmd->parsed())
    return mailsift::cli::run_account_command(account_options, config, data_dir, std::cout, std::cerr);
  if (case_cmd->parsed())
    return mailsift::cli::run_case_command(case_options, config, data_dir, std::cout, std::cerr);
  if (draft_cmd->parsed())
    return mailsift::cli::run_explain_draft_command(case_options, config, data_dir, std::cout,
                                                    std::cerr);
  if (tenant_commands.selected()) return tenant_commands.run(config, data_dir, std::cout, std::cerr);
  if (ipwatch_commands.selected()) return ipwatch_commands.run(config, data_dir, std::cout, std::cerr);
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    std::cerr << fmt::format("mailsift: cannot create data dir {}: {}\n", data_dir, ec.message());
    return kExitUsage;
  }
  // store.backend: the embedded SQLite file by default, or the fleet's Redis (docs/fleet.md).
  auto opened = mailsift::fleet::open_configured_store(config, data_dir);
  if (!opened) {
    std::cerr << "mailsift: " << opened.error().describe() << "\n";
    return opened.error().kind == ErrorKind::kTemporary ? kExitTemporary : kExitUsage;
  }
  std::unique_ptr<store::Store> db = std::move(opened).value();
  mailsift::rules::set_compile_cache_dir(
      (std::filesystem::path(data_dir) / "rules-cache").string());
  auto created = scan::Engine::create(config, *db);
  if (!created) {
    std::cerr << "mailsift: " << created.error().describe() << "\n";
    return kExitUsage;
  }
  scan::Engine& engine = **created;
  const scan::Recipient rcpt = tenant.recipient();

  Totals totals;
  if (scan_cmd->parsed()) {
    std::string line;
    for (const auto& path : files) {
      auto raw = read_input(path);
      if (!raw) {
        totals.count(raw.error());
        report_error(json, path, raw.error());
        continue;
      }
      auto verdict = engine.scan(*raw, rcpt);
      if (!verdict) {
        totals.count(verdict.error());
        report_error(json, path, verdict.error());
        continue;
      }
      for (const auto& e : verdict->errors) totals.count(e);
      if (json) {
        line.clear();
        scan::append_verdict_json(line, path, *verdict);  // one buffer for every line
        line.push_back('\n');
        std::cout << line;
      } else {
        std::cout << path << ":\n" << verdict->explain();
      }
    }
    return totals.exit_code();
  }

  const bool unlearning = unlearn_cmd->parsed();
  (void)learn_cmd;
  const store::Class cls = cls_name == "spam" ? store::Class::kSpam : store::Class::kHam;
  auto report = [&](const std::string& path, const Result<scan::LearnResult>& result) {
    if (!result) {
      totals.count(result.error());
      report_error(json, path, result.error());
      return;
    }
    if (json) {
      std::cout << nlohmann::json{{"path", path},
                                  {"class", cls_name},
                                  {"outcome", store::to_string(result->outcome)},
                                  {"scope", result->scope.key()},
                                  {"digest", result->digest}}
                       .dump()
                << "\n";
    } else {
      std::cout << fmt::format("{}: {} ({} in {})\n", path, store::to_string(result->outcome),
                               cls_name, result->scope.key());
    }
  };
  // Learning commits in chunks (one sync per chunk instead of per message); a line is printed
  // only after its chunk is durable, so every reported "learned" survives a crash.
  constexpr size_t kChunk = 256;
  for (size_t begin = 0; begin < files.size(); begin += kChunk) {
    const size_t end = std::min(files.size(), begin + kChunk);
    std::vector<std::string> raws;
    std::vector<std::string_view> views;
    std::vector<size_t> index;  // file index of each view
    std::vector<std::optional<Result<scan::LearnResult>>> results(end - begin);
    for (size_t i = begin; i < end; ++i) {
      auto raw = read_input(files[i]);
      if (!raw) {
        results[i - begin] = Result<scan::LearnResult>(raw.error());
        continue;
      }
      raws.push_back(std::move(raw).value());
      index.push_back(i);
    }
    for (const auto& r : raws) views.push_back(r);
    if (unlearning) {
      for (size_t k = 0; k < views.size(); ++k) {
        results[index[k] - begin] = engine.unlearn(views[k], cls, rcpt);
      }
    } else {
      auto learned = engine.learn_batch(views, cls, rcpt);
      for (size_t k = 0; k < learned.size(); ++k) results[index[k] - begin] = std::move(learned[k]);
    }
    for (size_t i = begin; i < end; ++i) report(files[i], *results[i - begin]);
  }
  return totals.exit_code();
}
