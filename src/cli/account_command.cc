#include "cli/account_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>

#include "fleet/fleet.h"
#include "outbound/guard.h"
#include "outbound/store.h"

namespace mailsift::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitTemporary = 3;

std::string utc(int64_t ms) {
  if (ms <= 0)
    return "-";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string limit_text(int64_t used, int64_t limit) {
  return limit > 0 ? fmt::format("{} / {}", used, limit) : fmt::format("{} / unlimited", used);
}

void print_status(std::ostream& out, const std::string& label,
                  const std::optional<outbound::AccountStatus>& st) {
  if (!st) {
    out << fmt::format("  {:<28} active (never changed)\n", label);
    return;
  }
  out << fmt::format("  {:<28} {}{}\n", label, outbound::to_string(st->level),
                     st->reason.empty() ? "" : ": " + st->reason);
  out << fmt::format("  {:<28} changed {} by {}{}\n", "", utc(st->changed_at_ms),
                     st->changed_by.empty() ? "-" : st->changed_by,
                     st->reversible ? "" : " (not reversible by support)");
}

}  // namespace

CLI::App* add_account_command(CLI::App& app, AccountOptions& o) {
  auto* account = app.add_subcommand("account", "Outbound account status and sending limits");
  account->require_subcommand(1);
  auto target = [&o](CLI::App* c) {
    c->add_option("user", o.user, "Authenticated user (SASL login / address)");
    c->add_option("--domain", o.domain, "Sender domain");
    c->add_option("--reseller", o.reseller, "Reseller id");
  };
  auto* status = account->add_subcommand("status", "Show status (all restricted without target)");
  target(status);
  for (auto [name, help] : {std::pair{"suspend", "Suspend: refuse all sending"},
                            std::pair{"disable", "Disable sending (hold)"},
                            std::pair{"activate", "Re-activate (reverse a hold or suspension)"}}) {
    auto* c = account->add_subcommand(name, help);
    target(c);
    c->add_option("--reason", o.reason, "Why (shown in the SMTP reply)");
    c->add_option("--by", o.by, "Who changes it (default: $USER)");
    if (std::string(name) == "activate")
      c->add_flag("--force", o.force, "Also reverse a status marked not reversible");
    else
      c->add_flag("--irreversible", o.irreversible, "Support tooling may not reverse it");
  }
  auto* limits = account->add_subcommand("limits", "Sending counters against the limits");
  limits->add_option("user", o.user, "Authenticated user")->required();
  limits->add_option("--reseller", o.reseller, "Reseller id");
  for (auto* c : {status, limits, account->get_subcommand("suspend"),
                  account->get_subcommand("disable"), account->get_subcommand("activate")})
    c->callback([&o, c] { o.action = c->get_name(); });
  return account;
}

int run_account_command(const AccountOptions& o, const Config& config,
                        const std::string& data_dir, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  // A fleet's counters and statuses are on Redis (outbound.store.backend); the embedded file is
  // opened without group commit so a CLI change is on disk when the command returns.
  auto opened = config.get_string("outbound.store.backend") == "sqlite"
                    ? outbound::open_sqlite_store((std::filesystem::path(data_dir) /
                                                   config.get_string("outbound.file"))
                                                      .string())
                    : fleet::open_configured_outbound_store(config, data_dir);
  if (!opened) {
    err << "mailsift: " << opened.error().describe() << "\n";
    return kExitTemporary;
  }
  auto& store = **opened;
  auto gc = outbound::GuardConfig::from_config(config);
  if (!gc) {
    err << "mailsift: " << gc.error().describe() << "\n";
    return kExitUsage;
  }
  outbound::Guard guard(store, *gc);
  const int targets = !o.user.empty() + !o.domain.empty() + (!o.reseller.empty() && o.user.empty());
  auto fail = [&](const Error& e) {
    err << "mailsift: " << e.describe() << "\n";
    return e.kind == ErrorKind::kTemporary ? kExitTemporary : kExitUsage;
  };

  if (o.action == "status" && targets == 0) {
    auto list = store.restricted();
    if (!list)
      return fail(list.error());
    out << fmt::format("{} restricted account(s)\n", list->size());
    for (const auto& st : *list)
      print_status(out, st.subject.key(), st);
    auto alerts = store.alerts("", 20);
    if (!alerts)
      return fail(alerts.error());
    if (!alerts->empty())
      out << "recent alerts:\n";
    for (const auto& a : *alerts)
      out << fmt::format("  {} {} {} score={:.2f} {}\n", utc(a.time_ms), a.subject, a.kind,
                         a.score, a.detail);
    return kExitOk;
  }
  if (targets != 1) {
    err << "mailsift: account " << o.action << " needs exactly one of USER, --domain, --reseller\n";
    return kExitUsage;
  }
  outbound::Subject subject = !o.user.empty()     ? outbound::Subject::user(o.user)
                              : !o.domain.empty() ? outbound::Subject::domain(o.domain)
                                                  : outbound::Subject::reseller(o.reseller);

  if (o.action == "status") {
    out << subject.key() << "\n";
    if (subject.kind == outbound::SubjectKind::kUser) {
      auto who = outbound::Identity::from(o.user, "", o.reseller);
      auto eff = guard.effective_status(who);
      if (!eff)
        return fail(eff.error());
      out << fmt::format("  {:<28} {}{}\n", "effective", outbound::to_string(eff->level),
                         eff->level == outbound::Level::kActive
                             ? ""
                             : fmt::format(" (from {})", eff->subject.describe()));
      for (const auto& s : {outbound::Subject::user(who.user), outbound::Subject::domain(who.domain),
                            outbound::Subject::reseller(who.reseller)}) {
        if (s.id.empty())
          continue;
        auto st = store.get_status(s);
        if (!st)
          return fail(st.error());
        print_status(out, s.key(), *st);
      }
    } else {
      auto st = store.get_status(subject);
      if (!st)
        return fail(st.error());
      print_status(out, subject.key(), *st);
    }
    auto alerts = store.alerts(subject.key(), 5);
    if (!alerts)
      return fail(alerts.error());
    for (const auto& a : *alerts)
      out << fmt::format("  alert {} {} score={:.2f} {}\n", utc(a.time_ms), a.kind, a.score,
                         a.detail);
    return kExitOk;
  }

  if (o.action == "limits") {
    auto u = guard.usage(outbound::Identity::from(o.user, "", o.reseller));
    if (!u)
      return fail(u.error());
    out << fmt::format("{}: {}{}\n", subject.describe(), outbound::to_string(u->effective.level),
                       u->effective.reason.empty() ? "" : " (" + u->effective.reason + ")");
    for (const auto& s : u->scopes) {
      out << fmt::format("  {:<30} messages/hour {:<20} distinct recipients/day {}\n",
                         s.subject.key(), limit_text(s.messages_last_hour, s.messages_limit),
                         limit_text(s.distinct_last_day, s.distinct_limit));
    }
    out << fmt::format("  recipients per message limit  {}\n",
                       gc->recipients_per_message > 0
                           ? std::to_string(gc->recipients_per_message) : "unlimited");
    out << fmt::format("  failed recipients (24h)       {} of {} (refused above {:.0f}% once {} "
                       "sent)\n",
                       u->failed_last_day, u->recipients_last_day, gc->failed_ratio * 100,
                       gc->failed_min_recipients);
    out << fmt::format("  hourly baseline (EWMA)        {:.1f}\n", u->baseline_per_hour);
    out << fmt::format("  login networks (180 days)     {}\n", u->networks);
    out << fmt::format("  detection score               {:.2f} of {:.2f}{}\n", u->detect_score,
                       gc->detect.threshold,
                       u->detect_signals.empty() ? "" : " (" + u->detect_signals + ")");
    return kExitOk;
  }

  // suspend / disable / activate
  std::string by = o.by;
  if (by.empty()) {
    const char* env = std::getenv("USER");
    by = env && *env ? env : "cli";
  }
  auto current = store.get_status(subject);
  if (!current)
    return fail(current.error());
  outbound::Level level = o.action == "suspend"   ? outbound::Level::kSuspended
                          : o.action == "disable" ? outbound::Level::kSendingDisabled
                                                  : outbound::Level::kActive;
  if (level == outbound::Level::kActive) {
    if (*current && !(*current)->reversible && !o.force) {
      err << fmt::format("mailsift: {} is {} and marked not reversible by support ({}); use "
                         "--force if you are allowed to\n",
                         subject.describe(), outbound::to_string((*current)->level),
                         (*current)->reason);
      return kExitUsage;
    }
  } else if (o.reason.empty()) {
    err << "mailsift: account " << o.action << " needs --reason (it is shown to the sender)\n";
    return kExitUsage;
  }
  if (auto st = guard.set_status(subject, level, o.reason, by, !o.irreversible); !st)
    return fail(st.error());
  out << fmt::format("{}: {} -> {}{}\n", subject.describe(),
                     *current ? outbound::to_string((*current)->level) : "active",
                     outbound::to_string(level), o.reason.empty() ? "" : " (" + o.reason + ")");
  return kExitOk;
}

}  // namespace mailsift::cli
