#include "ipwatch/ipwatch_cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "dns/cares_resolver.h"
#include "ipwatch/json.h"
#include "ipwatch/monitor.h"

namespace mailsift::ipwatch {
namespace {

constexpr int kExitOk = 0, kExitRefused = 1, kExitUsage = 2, kExitTemporary = 3;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int fail(std::ostream& err, const Error& e) {
  err << "mailsift ipwatch: " << e.describe() << "\n";
  switch (e.kind) {
    case ErrorKind::kTemporary:
      return kExitTemporary;
    case ErrorKind::kPermanent:
      return kExitRefused;
    default:
      return kExitUsage;
  }
}

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

}  // namespace

struct IpwatchCommands::Impl {
  CLI::App* root = nullptr;
  CLI::App *status = nullptr, *history = nullptr, *check = nullptr, *delisting = nullptr;
  std::string ip, state, note, by;
  size_t limit = 50;
  bool json = false;
};

IpwatchCommands::IpwatchCommands(CLI::App& app) : impl_(std::make_unique<Impl>()) {
  auto& o = *impl_;
  o.root =
      app.add_subcommand("ipwatch", "Outbound IPs on DNS blocklists: status, history, delisting");
  o.root->require_subcommand(1);
  o.status = o.root->add_subcommand("status", "Pools, listings and delisting records");
  o.status->add_option("ip", o.ip, "One outbound IP");
  o.history = o.root->add_subcommand("history", "Listing episodes, newest first");
  o.history->add_option("ip", o.ip, "One outbound IP");
  o.history->add_option("--limit", o.limit, "Most episodes shown");
  o.check = o.root->add_subcommand("check", "Check every outbound IP now and record the result");
  o.delisting = o.root->add_subcommand("delisting", "Show or update an IP's delisting record");
  o.delisting->add_option("ip", o.ip, "Outbound IP")->required();
  o.delisting->add_option("--state", o.state, "none|requested|delisted|rejected")
      ->check(CLI::IsMember({"none", "requested", "delisted", "rejected"}));
  o.delisting->add_option("--note", o.note, "A note (appended with time and author)");
  o.delisting->add_option("--by", o.by, "Who (default: $USER)");
  for (auto* c : {o.status, o.history, o.check, o.delisting})
    c->add_flag("--json", o.json, "JSON output");
}

IpwatchCommands::~IpwatchCommands() = default;

bool IpwatchCommands::selected() const {
  return impl_->root->parsed();
}

int IpwatchCommands::run(const Config& config, const std::string& data_dir, std::ostream& out,
                         std::ostream& err) {
  auto& o = *impl_;
  auto options = options_from_config(config);
  if (!options)
    return fail(err, options.error());
  if (options->pools.empty()) {
    err << "mailsift ipwatch: ipwatch.pools is empty: no outbound IPs configured\n";
    return kExitUsage;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto opened = open_sqlite_store((std::filesystem::path(data_dir) / options->file).string());
  if (!opened)
    return fail(err, opened.error());
  Store& store = **opened;

  if (o.status->parsed()) {
    auto states = read_states(store, *options);
    if (!states)
      return fail(err, states.error());
    auto delist = store.delistings();
    if (!delist)
      return fail(err, delist.error());
    auto alerts = store.alerts(10);
    if (!alerts)
      return fail(err, alerts.error());
    std::string one = o.ip.empty() ? "" : canonical_ip(o.ip);
    if (!o.ip.empty()) {
      bool found = false;
      for (const auto& s : *states)
        found = found || s.ip == one;
      if (!found) {
        err << "mailsift ipwatch: " << o.ip << " is not a configured outbound IP\n";
        return kExitRefused;
      }
    }
    auto pools = pool_states(*options, *states);
    const Choice c = choose_pool(pools, options->default_transport);
    if (o.json) {
      nlohmann::json j;
      j["pools"] = nlohmann::json::array();
      for (const auto& p : pools)
        j["pools"].push_back(to_json(p));
      j["answer"] = {{"transport", c.transport}, {"pool", c.pool}, {"all_unhealthy", c.fallback}};
      j["ips"] = nlohmann::json::array();
      for (const auto& s : *states) {
        if (!one.empty() && s.ip != one)
          continue;
        auto x = to_json(s);
        x["delisting"] = nullptr;
        for (const auto& d : *delist)
          if (d.ip == s.ip)
            x["delisting"] = to_json(d);
        j["ips"].push_back(std::move(x));
      }
      out << j.dump() << "\n";
      return kExitOk;
    }
    if (one.empty()) {
      for (const auto& p : pools)
        out << fmt::format(
            "pool {:<12} transport {:<16} {}\n", p.name, p.transport,
            p.healthy
                ? "healthy"
                : "UNHEALTHY (listed: " + fmt::format("{}", fmt::join(p.listed_ips, ",")) + ")");
      out << fmt::format("new mail goes to: {}\n",
                         c.fallback
                             ? "NO HEALTHY POOL, answering " +
                                   (c.transport.empty() ? std::string("NOTFOUND") : c.transport)
                             : "pool " + c.pool + " (" + c.transport + ")");
    }
    for (const auto& s : *states) {
      if (!one.empty() && s.ip != one)
        continue;
      out << fmt::format("{} (pool {}): {}, last checked {}\n", s.ip, s.pool,
                         s.healthy ? "not listed" : "LISTED", or_dash(utc_text(s.last_checked_ms)));
      for (const auto& l : s.listed)
        out << fmt::format("  listed on {} ({}) since {}: {}{}\n", l.list, l.zone,
                           utc_text(l.since_ms), l.codes, l.name.empty() ? "" : " " + l.name);
      for (const auto& p : s.problems)
        out << "  problem: " << p << "\n";
      for (const auto& d : *delist)
        if (d.ip == s.ip) {
          out << fmt::format("  delisting: {} (lists {}, listed since {}, updated {} by {})\n",
                             to_string(d.state), or_dash(d.lists),
                             or_dash(utc_text(d.listed_since_ms)), utc_text(d.updated_at_ms),
                             d.updated_by);
          if (!one.empty())
            for (size_t at = 0; at < d.notes.size();) {
              auto nl = d.notes.find('\n', at);
              out << "    " << d.notes.substr(at, nl - at) << "\n";
              at = nl == std::string::npos ? d.notes.size() : nl + 1;
            }
        }
    }
    if (one.empty() && !alerts->empty()) {
      out << "recent alerts:\n";
      for (const auto& a : *alerts)
        out << fmt::format("  {} {} {} {} {}\n", utc_text(a.at_ms), a.event, or_dash(a.ip),
                           or_dash(a.list), a.detail);
    }
    return kExitOk;
  }

  if (o.history->parsed()) {
    std::string ip;
    if (!o.ip.empty()) {
      ip = canonical_ip(o.ip);
      if (ip.empty()) {
        err << "mailsift ipwatch: " << o.ip << " is not an IP address\n";
        return kExitUsage;
      }
    }
    auto hist = store.history(ip, o.limit);
    if (!hist)
      return fail(err, hist.error());
    if (o.json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& e : *hist)
        j.push_back(to_json(e));
      out << j.dump() << "\n";
      return kExitOk;
    }
    for (const auto& e : *hist)
      out << fmt::format("{:<16} {:<12} listed {} ({}{})  delisted {}\n", e.ip, e.list,
                         utc_text(e.listed_at_ms), e.codes, e.name.empty() ? "" : " " + e.name,
                         e.delisted_at_ms ? utc_text(e.delisted_at_ms) : "- (still listed)");
    if (hist->empty())
      out << "no listing recorded\n";
    return kExitOk;
  }

  if (o.check->parsed()) {
    auto dns_options = dns::cares_options_from_config(config);
    if (!dns_options)
      return fail(err, dns_options.error());
    auto resolver = dns::CaresResolver::create(*dns_options);
    if (!resolver)
      return fail(err, resolver.error());
    Monitor monitor(*options, store, **resolver, now_ms, nullptr);
    auto report = monitor.run_round();
    if (!report)
      return fail(err, report.error());
    if (o.json) {
      out << nlohmann::json{{"listed", report->listed},
                            {"delisted", report->delisted},
                            {"problems", report->problems},
                            {"all_unhealthy", report->all_unhealthy}}
                 .dump()
          << "\n";
      return kExitOk;
    }
    for (const auto& s : report->listed)
      out << "newly listed: " << s << "\n";
    for (const auto& s : report->delisted)
      out << "delisted: " << s << "\n";
    for (const auto& s : report->problems)
      out << "problem: " << s << "\n";
    for (const auto& s : monitor.states())
      out << fmt::format("{} (pool {}): {}\n", s.ip, s.pool, s.healthy ? "not listed" : "LISTED");
    return kExitOk;
  }

  // delisting
  std::optional<RequestState> state;
  if (!o.state.empty())
    state = parse_request_state(o.state);
  if (state || !o.note.empty()) {
    std::string by = o.by;
    if (by.empty()) {
      const char* u = std::getenv("USER");
      by = u && *u ? u : "support";
    }
    auto d = update_delisting(store, *options, o.ip, state, o.note, by, now_ms());
    if (!d)
      return fail(err, d.error());
    if (o.json)
      out << to_json(*d).dump() << "\n";
    else
      out << fmt::format("{}: delisting {} (updated by {})\n", d->ip, to_string(d->state),
                         d->updated_by);
    return kExitOk;
  }
  auto st = read_state(store, *options, o.ip);
  if (!st)
    return fail(err, st.error());
  if (!*st) {
    err << "mailsift ipwatch: " << o.ip << " is not a configured outbound IP\n";
    return kExitRefused;
  }
  auto d = store.delisting((*st)->ip);
  if (!d)
    return fail(err, d.error());
  if (o.json) {
    out << (*d ? to_json(**d) : nlohmann::json(nullptr)).dump() << "\n";
    return kExitOk;
  }
  if (!*d) {
    out << (*st)->ip << ": no delisting record\n";
    return kExitOk;
  }
  out << fmt::format("{}: {} (lists {}, listed since {}, updated {} by {})\n{}\n", (*d)->ip,
                     to_string((*d)->state), or_dash((*d)->lists),
                     or_dash(utc_text((*d)->listed_since_ms)), utc_text((*d)->updated_at_ms),
                     (*d)->updated_by, (*d)->notes);
  return kExitOk;
}

}  // namespace mailsift::ipwatch
