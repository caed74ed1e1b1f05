#include "cli/doctor_command.h"

#include <CLI/CLI.hpp>

#include "doctor/doctor.h"

namespace mailsift::cli {

CLI::App* add_doctor_command(CLI::App& app, DoctorOptions& options) {
  auto* cmd = app.add_subcommand(
      "doctor", "Check a customer domain's MX, SPF, DKIM, DMARC and PTRs against its cluster");
  cmd->add_option("domain", options.domain, "The domain to check")->required();
  cmd->add_option("--cluster", options.cluster,
                  "Check against this cluster (default: the one the domain's MX points at)");
  cmd->add_flag("--json", options.json, "One JSON object");
  return cmd;
}

int run_doctor_command(const DoctorOptions& options, const Config& config, std::ostream& out,
                       std::ostream& err) {
  auto live = doctor::open_live(config, /*clusters_required=*/true);
  if (!live) {
    err << "mailsift: doctor: " << live.error().describe() << "\n";
    return live.error().kind == ErrorKind::kTemporary ? 3 : 2;
  }
  doctor::Options o;
  o.cluster = options.cluster;
  auto report = doctor::diagnose(*live->resolver, live->clusters, options.domain, o);
  if (options.json)
    out << doctor::render_json(report) << "\n";
  else
    out << doctor::render_text(report);
  switch (report.status) {
    case doctor::Status::kPass:
    case doctor::Status::kWarn:
      return 0;
    case doctor::Status::kTempError:
      return 3;
    case doctor::Status::kFail:
      return 1;
  }
  return 1;
}

}  // namespace mailsift::cli
